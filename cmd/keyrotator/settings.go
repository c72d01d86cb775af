package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

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

// settingsFlags are the rotator settings that run and invoke read from the stand-in
// (GET /keyrotator/settings) and that flags override.
type settingsFlags struct {
	limitDays, noticePeriod, maxUsers *int
	memberRole, sender, support       *string
	exclude, domains                  listFlag
}

func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	f := &settingsFlags{
		limitDays:    fs.Int("limit-days", 0, "LIMIT_DAYS: maximum key age (0: the default, 90)"),
		noticePeriod: fs.Int("notice-period", 0, "NOTICE_PERIOD: days of notice before each step (0: the default, 10)"),
		maxUsers:     fs.Int("max-users", 0, "MAX_USERS: users with writes per account per run (0: the default, 200)"),
		memberRole:   fs.String("member-role", "", "MEMBER_ROLE_NAME (default: the stand-in's memberRole)"),
		sender:       fs.String("sender", "", "SENDER_EMAIL (default: the stand-in's senderEmail)"),
		support:      fs.String("support", "", "SUPPORT_EMAIL (default: the stand-in's supportEmail)"),
	}
	fs.Var(&f.exclude, "exclude-accounts", "EXCLUDE_ACCOUNTS, comma-separated account IDs (default: the stand-in's excludeAccountIds)")
	fs.Var(&f.domains, "allowed-domains", "ALLOWED_EMAIL_DOMAINS, comma-separated (default: the stand-in's allowedEmailDomains)")
	return f
}

func (f *settingsFlags) negative() bool {
	return *f.limitDays < 0 || *f.noticePeriod < 0 || *f.maxUsers < 0
}

// resolve reads the stand-in's settings and applies the flags that were given.
func (f *settingsFlags) resolve(ctx context.Context, endpoint string) (runner.Settings, error) {
	standIn, err := sandbox.GetSettings(ctx, endpoint)
	if err != nil {
		return runner.Settings{}, fmt.Errorf("read the stand-in's settings (is \"keyrotator sandbox\" running there?): %w", err)
	}
	s := runner.SettingsFrom(standIn)
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&s.MemberRole, *f.memberRole)
	override(&s.SenderEmail, *f.sender)
	override(&s.SupportEmail, *f.support)
	if f.exclude.set {
		s.ExcludeAccounts = f.exclude.values
	}
	if f.domains.set {
		s.AllowedEmailDomains = f.domains.values
	}
	s.LimitDays, s.NoticePeriod, s.MaxUsers = *f.limitDays, *f.noticePeriod, *f.maxUsers
	return s, nil
}
