// Command list-accounts is the ListAccounts Lambda: see package org.
package main

import (
	"context"

	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.ReportBucket}, func(env boot.Env) (func(context.Context, workflow.ListAccountsRequest) (workflow.AccountList, error), error) {
		return org.NewHandler(env.AWS, env.Settings, env.Log).Handle, nil
	})
}
