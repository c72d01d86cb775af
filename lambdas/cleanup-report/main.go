// Command cleanup-report is the CleanupReport Lambda: see package report.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	required := []string{config.ReportBucket, config.SenderEmail, config.SupportEmail, config.FailureTopicARN}
	boot.Start(required, func(env boot.Env) (func(context.Context, workflow.ReportRequest) (workflow.Report, error), error) {
		store := s3.NewFromConfig(env.AWS, awsclient.PathStyle)
		r := &report.Reporter{S3: store, SNS: sns.NewFromConfig(env.AWS),
			Sender: notify.NewSender(sesv2.NewFromConfig(env.AWS), env.Settings.SESConfigurationSet,
				&sendrate.Slots{S3: store, Bucket: env.Settings.ReportBucket}),
			Bucket: env.Settings.ReportBucket, From: env.Settings.SenderEmail, SupportEmail: env.Settings.SupportEmail,
			TopicARN: env.Settings.FailureTopicARN, Log: env.Log, Metrics: os.Stdout}
		return r.Handle, nil
	})
}
