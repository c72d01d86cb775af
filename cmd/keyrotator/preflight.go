package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/preflight"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

const preflightHelp = `Usage: keyrotator preflight [--endpoint URL | --profile P --management-profile M] [flags]

Checks, read-only, what the rotator's first real deployment depends on and the local stand-in
cannot show: SES out of its sandbox, sending, the sender verified, bounces suppressed (the
rotator's only sign that an email did not arrive) and a daily quota for the organization's
worst day; the organization with all features and StackSets' trusted access
(and the delegated administrator, when another account than the management account
administers the member role's StackSet), and what the exclusions exclude (an excluded ID that
is no ACTIVE account, an OU that does not exist, fail); after the deploy, the member role's StackSet with a
succeeded instance in every ACTIVE account the rotator processes (failed ones named with their
reason, such as a role of the member role's name that was there before), the daily schedule
enabled, and no run of the last 7 days failed. Run it before the first deploy and at any time
after.

Each check prints pass, fail or cannot-tell, what it found and the exact fix. Exit status: 0
when no check failed, 1 when one did, 2 on bad flags. --json prints the same for CI.

SES is read with --profile (or the default credentials), in the rotator's account and region;
Organizations with --management-profile, in the management account; the StackSet there too,
or with --profile when --stackset-admin-account names a delegated administrator. --endpoint reads both
from a running local stand-in ("keyrotator sandbox"). Defaults come from cdk.json's context,
as cdk deploy reads it (--cdk-json).

Examples:
  keyrotator preflight --profile rotator --management-profile management --users 4000
  keyrotator preflight --endpoint http://127.0.0.1:4566 --json

Flags:
`

// cdkContext is what preflight reads from cdk.json's context: the settings cdk deploy uses.
type cdkContext struct {
	SenderEmail            string      `json:"senderEmail"`
	MemberRoleName         string      `json:"memberRoleName"`
	ExcludeAccounts        string      `json:"excludeAccounts"`
	ExcludeOUs             string      `json:"excludeOus"`
	ExcludeAccountTag      string      `json:"excludeAccountTag"`
	ManagementAccountID    string      `json:"managementAccountId"`
	StackSetAdminAccountID string      `json:"stackSetAdminAccountId"`
	MapConcurrency         json.Number `json:"mapConcurrency"`
}

// readCDKContext reads path's context; a missing file is no context unless the path was
// given.
func readCDKContext(path string, given bool) (cdkContext, error) {
	var file struct {
		Context cdkContext `json:"context"`
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !given {
		return file.Context, nil
	}
	if err != nil {
		return file.Context, err
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return file.Context, fmt.Errorf("%s: %w", path, err)
	}
	return file.Context, nil
}

func runPreflight(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("preflight", preflightHelp, stderr)
	endpoint := fs.String("endpoint", "", "check a running local stand-in instead of AWS, e.g. http://127.0.0.1:4566")
	profile := fs.String("profile", "", "AWS profile of the rotator's account (default: the default credentials)")
	managementProfile := fs.String("management-profile", "", "AWS profile of the organization's management account (default: --profile)")
	region := fs.String("region", "", "the rotator's region (default: the profile's)")
	cdkJSON := fs.String("cdk-json", "cdk.json", "the deployment's cdk.json, whose context gives the defaults below")
	sender := fs.String("sender", "", "the sender address (default: cdk.json's senderEmail, or the stand-in's)")
	stackSetAdmin := fs.String("stackset-admin-account", "", "the account administering the member role's StackSet (default: cdk.json's stackSetAdminAccountId)")
	memberRole := fs.String("member-role", "", "memberRoleName (default: cdk.json's, else "+config.DefaultMemberRoleName+"; on the stand-in its memberRole)")
	var excluded, excludedOUs listFlag
	fs.Var(&excluded, "exclude-accounts", "comma-separated account IDs the rotator never processes (default: cdk.json's excludeAccounts)")
	fs.Var(&excludedOUs, "exclude-ous", "comma-separated OU IDs whose accounts the rotator never processes (default: cdk.json's excludeOus)")
	excludeTag := fs.String("exclude-account-tag", "", "the exclusion tag, key=value or \""+config.NoExcludeAccountTag+
		"\" (default: cdk.json's excludeAccountTag, else "+config.DefaultExcludeAccountTag+")")
	users := fs.Int("users", 0, "IAM users with access keys in the accounts the rotator processes, for the SES quota check and the cost estimate (0: cannot tell)")
	mapConcurrency := fs.Int("map-concurrency", 0, fmt.Sprintf("accounts a run processes at once, for the duration estimate (default: cdk.json's mapConcurrency, else %d)", config.DefaultMapConcurrency))
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	usageErr := usageError("preflight", stderr)
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case *users < 0:
		return usageErr("--users must not be negative")
	case *mapConcurrency < 0:
		return usageErr("--map-concurrency must not be negative")
	case *endpoint != "" && (*profile != "" || *managementProfile != ""):
		return usageErr("--endpoint checks the stand-in: it takes no --profile or --management-profile")
	}
	cdkJSONSet := false
	fs.Visit(func(f *flag.Flag) { cdkJSONSet = cdkJSONSet || f.Name == "cdk-json" })
	deployment, err := readCDKContext(*cdkJSON, cdkJSONSet)
	if err != nil {
		return usageErr("%v", err)
	}
	if *sender == "" {
		*sender = deployment.SenderEmail
	}
	if *memberRole == "" {
		*memberRole = deployment.MemberRoleName
	}
	if *mapConcurrency == 0 && deployment.MapConcurrency != "" {
		// Read as the CDK app reads it (the configuration table's form).
		setting, _ := config.Lookup("mapConcurrency")
		n, err := setting.Form.Parse(string(deployment.MapConcurrency))
		if err != nil {
			return usageErr("%s: mapConcurrency: %v", *cdkJSON, err)
		}
		*mapConcurrency = n.(int)
	}
	*mapConcurrency = cmp.Or(*mapConcurrency, config.DefaultMapConcurrency)
	measured, err := estimate.Last()
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator preflight: %v\n", err)
		return 1
	}
	if !excluded.set && deployment.ExcludeAccounts != "" {
		_ = excluded.Set(deployment.ExcludeAccounts)
	}
	if !excludedOUs.set && deployment.ExcludeOUs != "" {
		_ = excludedOUs.Set(deployment.ExcludeOUs)
	}
	*excludeTag = cmp.Or(*excludeTag, deployment.ExcludeAccountTag)
	if *stackSetAdmin == "" && deployment.StackSetAdminAccountID != deployment.ManagementAccountID {
		*stackSetAdmin = deployment.StackSetAdminAccountID
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rotatorCfg, managementCfg, err := preflightConfigs(ctx, *endpoint, *profile, *managementProfile, *region)
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator preflight: %v\n", err)
		return 1
	}
	if *endpoint != "" {
		s, err := sandbox.GetSettings(ctx, *endpoint)
		if err != nil {
			fmt.Fprintf(stderr, "keyrotator preflight: read the stand-in's settings (is \"keyrotator sandbox\" running there?): %v\n", err)
			return 1
		}
		*sender, *memberRole = cmp.Or(*sender, s.Rotator.SenderEmail), cmp.Or(*memberRole, s.Rotator.MemberRoleName)
		*excludeTag = cmp.Or(*excludeTag, s.Rotator.ExcludeAccountTag)
		if !excluded.set {
			excluded.values = s.Rotator.ExcludeAccounts
		}
		if !excludedOUs.set {
			excludedOUs.values = s.Rotator.ExcludeOUs
		}
	}
	*memberRole = cmp.Or(*memberRole, config.DefaultMemberRoleName)
	tagKey, tagValue, err := config.SplitAccountTag(cmp.Or(*excludeTag, config.DefaultExcludeAccountTag))
	if err != nil {
		return usageErr("--exclude-account-tag: %v", err)
	}
	// The StackSet lives in the management account, or in the delegated administrator's:
	// the rotator's account, as docs/deploy.md's set-up has it.
	stackSetCfg := managementCfg
	if *stackSetAdmin != "" {
		stackSetCfg = rotatorCfg
	}
	orgAPI := organizations.NewFromConfig(managementCfg)
	lister := &org.Handler{Org: orgAPI, Excluded: excluded.values, ExcludedOUs: excludedOUs.values, ExcludeTagKey: tagKey,
		ExcludeTagValue: tagValue, Log: slog.New(slog.DiscardHandler)}
	selection := preflight.NewSelection(lister.Preview)
	ses := sesv2.NewFromConfig(rotatorCfg)
	checks := append(preflight.SES(ses, *sender, *users), preflight.Bounces(ses, statemachine.ConfigurationSetName))
	checks = append(checks, preflight.Organization(orgAPI, *stackSetAdmin)...)
	stackSets := cloudformation.NewFromConfig(stackSetCfg)
	checks = append(checks, selection.Exclusions(), selection.DailyRun(measured, *users, *mapConcurrency),
		preflight.MemberRoles(stackSets, orgAPI, selection, statemachine.MemberStackSetName, *memberRole, *stackSetAdmin != ""),
		preflight.Schedule(eventbridge.NewFromConfig(rotatorCfg), statemachine.ScheduleRuleName))
	if caller, err := rotatorAccount(ctx, rotatorCfg); err != nil {
		for _, name := range []string{"member role trust", "hand-off key policy", "recent runs"} {
			checks = append(checks, func(context.Context) preflight.Result {
				return preflight.Result{Check: name, Verdict: preflight.CannotTell, Detail: err.Error(),
					Fix: "give preflight credentials of the rotator's account (sts:GetCallerIdentity)"}
			})
		}
	} else {
		stateMachine := arn.ARN{Partition: caller.Partition, Service: "states", Region: rotatorCfg.Region, AccountID: caller.AccountID,
			Resource: "stateMachine:" + statemachine.Name}.String()
		checks = append(checks, preflight.MemberTrust(stackSets, statemachine.MemberStackSetName, *memberRole, caller.AccountID, caller.Partition, *stackSetAdmin != ""),
			preflight.HandoffKey(kms.NewFromConfig(rotatorCfg), caller.AccountID, caller.Partition),
			preflight.RecentRuns(sfn.NewFromConfig(rotatorCfg), stateMachine, time.Now()))
	}
	results := preflight.Run(ctx, checks)
	write := preflight.WriteText
	if *asJSON {
		write = preflight.WriteJSON
	}
	if err := write(stdout, results); err != nil {
		fmt.Fprintf(stderr, "keyrotator preflight: %v\n", err)
		return 1
	}
	if preflight.Failed(results) {
		return 1
	}
	return 0
}

// preflightConfigs returns the configurations of the rotator's account and of the
// management account: the stand-in's (its default account is both), or the profiles'.
func preflightConfigs(ctx context.Context, endpoint, profile, managementProfile, region string) (rotator, management aws.Config, err error) {
	if endpoint != "" {
		cfg := sandbox.Config(endpoint)
		return cfg, cfg, nil
	}
	load := func(p string) (aws.Config, error) {
		var opts []func(*awsconfig.LoadOptions) error
		if p != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(p))
		}
		if region != "" {
			opts = append(opts, awsconfig.WithRegion(region))
		}
		return awsclient.Load(ctx, opts...)
	}
	if rotator, err = load(profile); err != nil {
		return rotator, management, err
	}
	if managementProfile == "" {
		return rotator, rotator, nil
	}
	management, err = load(managementProfile)
	return rotator, management, err
}

// rotatorAccount is the ARN of the caller cfg acts as: its account and partition are the
// rotator's.
func rotatorAccount(ctx context.Context, cfg aws.Config) (arn.ARN, error) {
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return arn.ARN{}, fmt.Errorf("which account the credentials act in (STS GetCallerIdentity): %w", err)
	}
	caller, err := arn.Parse(aws.ToString(who.Arn))
	if err != nil {
		return arn.ARN{}, fmt.Errorf("the caller's ARN %q: %w", aws.ToString(who.Arn), err)
	}
	return caller, nil
}
