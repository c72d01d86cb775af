// Command notify-user is the NotifyUser Lambda: see package notify.
package main

import (
	"context"

	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.SenderEmail, config.ReportBucket, config.TagKeySecretARN}, func(env boot.Env) (func(context.Context, workflow.Notification) (notify.Delivery, error), error) {
		h, err := notify.NewHandler(context.Background(), env.AWS, env.Settings, env.Log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
