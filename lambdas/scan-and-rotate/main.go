// Command scan-and-rotate is the ScanAndRotate Lambda: see package rotate.
package main

import (
	"context"

	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.ReportBucket, config.TagKeySecretARN}, func(env boot.Env) (func(context.Context, workflow.AccountRequest) (workflow.AccountOutcome, error), error) {
		h, err := rotate.NewHandler(context.Background(), env.AWS, env.Settings, env.Log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}
