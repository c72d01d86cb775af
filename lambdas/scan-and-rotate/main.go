// Command scan-and-rotate is the ScanAndRotate Lambda: see package rotate.
package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.ReportBucket, config.TagKeySecretARN}, func(env boot.Env) (func(context.Context, workflow.AccountRequest) (workflow.AccountOutcome, error), error) {
		s3Client := s3.NewFromConfig(env.AWS, awsclient.PathStyle)
		secrets := secretsmanager.NewFromConfig(env.AWS)
		seal, err := history.LoadSeal(context.Background(), secrets, env.Settings.TagKeySecretARN)
		if err != nil {
			return nil, err
		}
		h := &rotate.Handler{Base: env.AWS, Settings: env.Settings, S3: s3Client,
			Leases:  &lease.Leases{S3: s3Client, Bucket: env.Settings.ReportBucket},
			Secrets: secrets, Bounces: rotate.SESBounces{SES: sesv2.NewFromConfig(env.AWS)}, Seal: seal,
			Log: env.Log, NewIAM: rotate.NewIAMClient}
		return h.Handle, nil
	})
}
