// Command list-accounts is the ListAccounts Lambda: see package org.
package main

import (
	"context"

	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

func main() {
	boot.Start(statemachine.ListAccounts, func(env boot.Env) (func(context.Context, workflow.ListAccountsRequest) (workflow.AccountList, error), error) {
		return org.NewHandler(env.AWS, env.Settings, env.Log).Handle, nil
	})
}
