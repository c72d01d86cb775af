package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

// listFlag is a comma-separated list flag that records whether it was set.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }
func (l *listFlag) Set(v string) error {
	l.set, l.values = true, nil
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			l.values = append(l.values, item)
		}
	}
	return nil
}

// standInFlags are what run and invoke share: the stand-in, the prebuilt Lambdas, and the
// rotator settings read from the stand-in (GET /keyrotator/settings) that flags override.
type standInFlags struct {
	endpoint, bin                     *string
	limitDays, noticePeriod, maxUsers *int
	sesMaxSendRate                    *int
	memberRole, sender, support       *string
	excludeTag                        *string
	exclude, excludeOUs, domains      listFlag
}

func addStandInFlags(fs *flag.FlagSet) *standInFlags {
	f := &standInFlags{
		endpoint:     fs.String("endpoint", "", "the running stand-in, e.g. http://127.0.0.1:4566 (required)"),
		bin:          fs.String("bin", "", "directory with <function>/bootstrap; set it to skip the build (default: build into build/local)"),
		limitDays:    fs.Int("limit-days", 0, "LIMIT_DAYS: maximum key age (0: the default, 90)"),
		noticePeriod: fs.Int("notice-period", 0, "NOTICE_PERIOD: days of notice before each step (0: the default, 10)"),
		maxUsers:     fs.Int("max-users", 0, "MAX_USERS: users with writes per account per run (0: the default, 200)"),
		sesMaxSendRate: fs.Int("ses-max-send-rate", 0,
			"SES_MAX_SEND_RATE: emails per second for the whole run (0: the stand-in's SES quota, 14, or its SES sandbox's)"),
		memberRole: fs.String("member-role", "", "MEMBER_ROLE_NAME (default: the stand-in's)"),
		sender:     fs.String("sender", "", "SENDER_EMAIL (default: the stand-in's)"),
		support:    fs.String("support", "", "SUPPORT_EMAIL (default: the stand-in's)"),
		excludeTag: fs.String("exclude-account-tag", "", "EXCLUDE_ACCOUNT_TAG, key=value or \""+config.NoExcludeAccountTag+
			"\" (default: the stand-in's)"),
	}
	fs.Var(&f.exclude, "exclude-accounts", "EXCLUDE_ACCOUNTS, comma-separated account IDs (default: the stand-in's)")
	fs.Var(&f.excludeOUs, "exclude-ous", "EXCLUDE_OUS, comma-separated OU IDs (default: the stand-in's)")
	fs.Var(&f.domains, "allowed-domains", "ALLOWED_EMAIL_DOMAINS, comma-separated (default: the stand-in's)")
	return f
}

// problem says what is wrong with these flags, or "".
func (f *standInFlags) problem() string {
	switch {
	case *f.endpoint == "":
		return "--endpoint is required (the URL \"keyrotator sandbox\" prints)"
	case *f.limitDays < 0 || *f.noticePeriod < 0 || *f.maxUsers < 0 || *f.sesMaxSendRate < 0:
		return "--limit-days, --notice-period, --max-users and --ses-max-send-rate must not be negative"
	case slices.ContainsFunc(f.excludeOUs.values, func(id string) bool { return !config.OUPattern.MatchString(id) }):
		return fmt.Sprintf("--exclude-ous %s: each must be an OU ID (ou-...-...)", f.excludeOUs.String())
	}
	if *f.excludeTag != "" {
		if _, _, err := config.SplitAccountTag(*f.excludeTag); err != nil {
			return "--exclude-account-tag: " + err.Error()
		}
	}
	return ""
}

// url is the stand-in's endpoint without a trailing slash.
func (f *standInFlags) url() string { return strings.TrimRight(*f.endpoint, "/") }

// prepare reads the stand-in's settings, applies the flags that were given, and builds the
// Lambdas into build/local unless --bin names prebuilt ones.
func (f *standInFlags) prepare(ctx context.Context, progress io.Writer) (runner.Settings, error) {
	standIn, err := sandbox.GetSettings(ctx, f.url())
	if err != nil {
		return runner.Settings{}, fmt.Errorf("read the stand-in's settings (is \"keyrotator sandbox\" running there?): %w", err)
	}
	s := runner.SettingsFrom(standIn)
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&s.MemberRoleName, *f.memberRole)
	override(&s.SenderEmail, *f.sender)
	override(&s.SupportEmail, *f.support)
	if f.exclude.set {
		s.ExcludeAccounts = f.exclude.values
	}
	if f.excludeOUs.set {
		s.ExcludeOUs = f.excludeOUs.values
	}
	override(&s.ExcludeAccountTag, *f.excludeTag)
	if f.domains.set {
		s.Policy.AllowedEmailDomains = f.domains.values
	}
	s.Policy.LimitDays, s.Policy.NoticePeriod, s.Policy.MaxUsers, s.SESMaxSendRate = *f.limitDays, *f.noticePeriod, *f.maxUsers, *f.sesMaxSendRate
	if *f.bin == "" {
		started := time.Now()
		fmt.Fprintln(progress, "building the Lambdas into build/local…")
		if err := runner.Build(ctx, "", ""); err != nil {
			return s, err
		}
		fmt.Fprintf(progress, "built in %s\n", time.Since(started).Round(time.Millisecond))
	}
	return s, nil
}
