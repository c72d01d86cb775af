package report

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
)

// NewHandler is the CleanupReport step as its Lambda runs it, from the function's AWS
// configuration and settings; its metrics go to the Lambda's stdout. lambdas/cleanup-report
// and the Lambda test rig both build it here.
func NewHandler(cfg aws.Config, s config.Settings, log *slog.Logger) *Handler {
	store := s3.NewFromConfig(cfg, awsclient.PathStyle)
	h := &Handler{S3: store, SNS: sns.NewFromConfig(cfg),
		Sender: notify.NewSender(sesv2.NewFromConfig(cfg), s.SESConfigurationSet, &sendrate.Slots{S3: store, Bucket: s.ReportBucket}),
		Bucket: s.ReportBucket, From: s.SenderEmail, SupportEmail: s.SupportEmail, TopicARN: s.FailureTopicARN,
		SummaryToTopic: s.SummaryToTopic, Log: log, Metrics: os.Stdout}
	if s.SecurityHubFindings {
		h.SecurityHub = securityhub.NewFromConfig(cfg)
		h.Findings = FindingsOf(s)
	}
	return h
}

// FindingsOf is where the findings go: the failure topic's partition, region and account
// (the rotator account's own, which the stack creates beside the function), and the rules'
// limits.
func FindingsOf(s config.Settings) FindingsConfig {
	topic, _ := arn.Parse(s.FailureTopicARN) // Load validated it
	return FindingsConfig{Partition: topic.Partition, Region: topic.Region, AccountID: topic.AccountID,
		LimitDays: s.Policy.LimitDays, StuckDays: s.Policy.NoticePeriod}
}
