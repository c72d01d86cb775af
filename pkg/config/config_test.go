package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestLoadDefaults(t *testing.T) {
	s, err := Load(env(map[string]string{SenderEmail: "rotator@example.com", ReportBucket: "reports-bucket"}), SenderEmail, ReportBucket)
	if err != nil {
		t.Fatal(err)
	}
	if s.Policy.LimitDays != 90 || s.Policy.NoticePeriod != 10 || s.Policy.MaxUsers != 200 {
		t.Errorf("policy defaults not applied: %+v", s.Policy)
	}
	if s.MemberRoleName != "provisioning-admin" || s.HandoffSecretPrefix != "iam-access-key-rotator/handoff/" {
		t.Errorf("defaults not applied: %+v", s)
	}
	if !slices.Equal(s.Policy.EmailTagKeys, []string{"EmailID", "Email"}) || s.Policy.ExemptTagKey != "Exempt" {
		t.Errorf("tag defaults not applied: %+v", s.Policy)
	}
}

func TestLoadParsesLists(t *testing.T) {
	s, err := Load(env(map[string]string{
		ExcludeAccounts: " 111122223333, 444455556666 ,", AllowedEmailDomains: "example.com,example.org",
		EmailTagKeys: "Owner", LimitDays: "60", NoticePeriod: "7", MaxUsers: "50",
		ManagementRoleARN: "arn:aws:iam::999988887777:role/iam-access-key-rotator-management",
		FailureTopicARN:   "arn:aws:sns:us-east-1:123456789012:iam-access-key-rotator-topic",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.ExcludeAccounts, []string{"111122223333", "444455556666"}) ||
		!slices.Equal(s.Policy.AllowedEmailDomains, []string{"example.com", "example.org"}) ||
		!slices.Equal(s.Policy.EmailTagKeys, []string{"Owner"}) ||
		s.Policy.LimitDays != 60 || s.Policy.NoticePeriod != 7 || s.Policy.MaxUsers != 50 {
		t.Errorf("unexpected settings: %+v", s)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	tests := []struct {
		name      string
		vars      map[string]string
		required  []string
		wantNames []string
	}{
		{"missing required", nil, []string{SenderEmail, ReportBucket}, []string{SenderEmail, ReportBucket}},
		{"not a number", map[string]string{LimitDays: "ninety"}, nil, []string{LimitDays}},
		{"zero", map[string]string{MaxUsers: "0"}, nil, []string{MaxUsers}},
		{"limit not above notice", map[string]string{LimitDays: "10", NoticePeriod: "10"}, nil, []string{LimitDays}},
		{"bad email", map[string]string{SupportEmail: "Support <s@example.com>"}, nil, []string{SupportEmail}},
		{"bad account", map[string]string{ExcludeAccounts: "111122223333,sandbox"}, nil, []string{ExcludeAccounts}},
		{"bad domain", map[string]string{AllowedEmailDomains: "example"}, nil, []string{AllowedEmailDomains}},
		{"bad role name", map[string]string{MemberRoleName: "role with spaces"}, nil, []string{MemberRoleName}},
		{"bad ARN", map[string]string{ManagementRoleARN: "role/management"}, nil, []string{ManagementRoleARN}},
		{"bad bucket", map[string]string{ReportBucket: "Reports_Bucket"}, nil, []string{ReportBucket}},
		{"bad prefix", map[string]string{HandoffSecretPrefix: "no-slash"}, nil, []string{HandoffSecretPrefix}},
		{"several at once", map[string]string{LimitDays: "x", SenderEmail: "@"}, nil, []string{SenderEmail, LimitDays}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.vars), tt.required...)
			got := input.Fields(err)
			slices.Sort(got)
			want := slices.Clone(tt.wantNames)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("variables named %q, want %q (err: %v)", got, want, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "invalid Lambda environment: ") {
				t.Errorf("error lacks context: %v", err)
			}
		})
	}
}
