package report

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	return &Handler{S3: store, SNS: sns.NewFromConfig(cfg),
		Sender: notify.NewSender(sesv2.NewFromConfig(cfg), s.SESConfigurationSet, &sendrate.Slots{S3: store, Bucket: s.ReportBucket}),
		Bucket: s.ReportBucket, From: s.SenderEmail, SupportEmail: s.SupportEmail, TopicARN: s.FailureTopicARN,
		SummaryToTopic: s.SummaryToTopic, Log: log, Metrics: os.Stdout}
}
