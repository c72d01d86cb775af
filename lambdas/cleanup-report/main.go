// Command cleanup-report is the CleanupReport Lambda: see package report.
package main

import (
	"context"

	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	required := []string{config.ReportBucket, config.SenderEmail, config.SupportEmail, config.FailureTopicARN}
	boot.Start(required, func(env boot.Env) (func(context.Context, workflow.ReportRequest) (workflow.Report, error), error) {
		return report.NewHandler(env.AWS, env.Settings, env.Log).Handle, nil
	})
}
