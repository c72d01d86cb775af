// Command notify-user is the NotifyUser Lambda: see package notify.
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
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.SenderEmail, config.ReportBucket, config.TagKeySecretARN}, func(env boot.Env) (func(context.Context, workflow.Notification) (notify.Delivery, error), error) {
		slots := &sendrate.Slots{S3: s3.NewFromConfig(env.AWS, awsclient.PathStyle), Bucket: env.Settings.ReportBucket}
		secrets := secretsmanager.NewFromConfig(env.AWS)
		seal, err := history.LoadSeal(context.Background(), secrets, env.Settings.TagKeySecretARN)
		if err != nil {
			return nil, err
		}
		d := &notify.Deliverer{Secrets: secrets, From: env.Settings.SenderEmail, Log: env.Log, Seal: seal,
			Sender:     notify.NewSender(sesv2.NewFromConfig(env.AWS), env.Settings.SESConfigurationSet, slots),
			History:    notify.MemberHistory(env.AWS, env.Settings.Partition, env.Settings.MemberRoleName),
			AppSecrets: notify.MemberSecrets(env.AWS, env.Settings.Partition, env.Settings.MemberRoleName), Policy: env.Settings.Policy}
		return d.Handle, nil
	})
}
