package org

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
)

// NewHandler is the ListAccounts step as its Lambda runs it, from the function's AWS
// configuration and settings: Organizations through the management role when
// ManagementRoleARN is set (the function's own credentials otherwise), S3 and SES with the
// function's own. It reads no account's tags (each ScanAndRotate reads its own), so it
// takes no exclusion tag. lambdas/list-accounts and the Lambda test rig both build it here.
func NewHandler(cfg aws.Config, s config.Settings, log *slog.Logger) *Handler {
	orgCfg := cfg
	if s.ManagementRoleARN != "" {
		orgCfg = awsclient.AssumeRole(cfg, s.ManagementRoleARN, awsclient.SessionName("list-accounts"))
	}
	ses := sesv2.NewFromConfig(cfg)
	store := s3.NewFromConfig(cfg, awsclient.PathStyle)
	return &Handler{Org: organizations.NewFromConfig(orgCfg), S3: store,
		Holds: &hold.Store{S3: store, Bucket: s.ReportBucket}, NoticePeriod: s.Policy.NoticePeriod,
		Bucket: s.ReportBucket, Excluded: s.ExcludeAccounts, ExcludedOUs: s.ExcludeOUs,
		Log: log, Clock: time.Now,
		SendRate: sendrate.Rate(s.SESMaxSendRate, ses),
		// NotifyUser sends through this configuration set: its suppression options, or the
		// account's, decide whether a bounce reaches the suppression list.
		Bounces: func(ctx context.Context) (string, error) {
			return suppression.Check(ctx, ses, s.SESConfigurationSet)
		}}
}
