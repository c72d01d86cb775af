// Command list-accounts is the ListAccounts Lambda: see package org.
package main

import (
	"context"

	"time"

	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/boot"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func main() {
	boot.Start([]string{config.ReportBucket}, func(env boot.Env) (func(context.Context, workflow.ListAccountsRequest) (workflow.AccountList, error), error) {
		orgCfg := env.AWS
		if env.Settings.ManagementRoleARN != "" {
			orgCfg = awsclient.AssumeRole(env.AWS, env.Settings.ManagementRoleARN, awsclient.SessionName("list-accounts"))
		}
		tagKey, tagValue := env.Settings.ExcludeTag()
		ses := sesv2.NewFromConfig(env.AWS)
		l := &org.Lister{Org: organizations.NewFromConfig(orgCfg), S3: s3.NewFromConfig(env.AWS, awsclient.PathStyle),
			Bucket: env.Settings.ReportBucket, Excluded: env.Settings.ExcludeAccounts, ExcludedOUs: env.Settings.ExcludeOUs,
			ExcludeTagKey: tagKey, ExcludeTagValue: tagValue, Log: env.Log, Clock: time.Now,
			SendRate: sendrate.Rate(env.Settings.SESMaxSendRate, ses),
			// NotifyUser sends through this configuration set: its suppression options, or the
			// account's, decide whether a bounce reaches the suppression list.
			Bounces: func(ctx context.Context) (string, error) {
				return suppression.Check(ctx, ses, env.Settings.SESConfigurationSet)
			}}
		return l.Handle, nil
	})
}
