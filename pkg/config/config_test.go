package config

import (
	"cmp"
	"maps"
	"reflect"
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
	if s.MemberRoleName != "provisioning-admin" || s.HandoffSecretPrefix != "iam-access-key-rotator/handoff/" || s.Partition != "aws" ||
		s.ExcludeAccountTag != "key-rotator:exclude=true" {
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
		{"bad OU", map[string]string{ExcludeOUs: "ou-ab12-cd34ef56,r-ab12"}, nil, []string{ExcludeOUs}},
		{"tag without value", map[string]string{ExcludeAccountTag: "key-rotator:exclude"}, nil, []string{ExcludeAccountTag}},
		{"tag with empty value", map[string]string{ExcludeAccountTag: "key-rotator:exclude="}, nil, []string{ExcludeAccountTag}},
		{"reserved tag key", map[string]string{ExcludeAccountTag: "aws:exclude=true"}, nil, []string{ExcludeAccountTag}},
		{"bad domain", map[string]string{AllowedEmailDomains: "example"}, nil, []string{AllowedEmailDomains}},
		{"bad role name", map[string]string{MemberRoleName: "role with spaces"}, nil, []string{MemberRoleName}},
		// NotifyUser's role, named after it with -notify, must be an IAM role name too.
		{"role name too long for its notify role", map[string]string{MemberRoleName: strings.Repeat("r", 58)}, nil, []string{MemberRoleName}},
		{"bad ARN", map[string]string{ManagementRoleARN: "role/management"}, nil, []string{ManagementRoleARN}},
		{"bad bucket", map[string]string{ReportBucket: "Reports_Bucket"}, nil, []string{ReportBucket}},
		{"bad prefix", map[string]string{HandoffSecretPrefix: "no-slash"}, nil, []string{HandoffSecretPrefix}},
		{"bad partition", map[string]string{Partition: "cn-north-1"}, nil, []string{Partition}},
		// The ranges are the CDK app's (Table): a variable set by hand cannot pass what cdk synth refuses.
		{"notice above the range", map[string]string{NoticePeriod: "366", LimitDays: "3650"}, nil, []string{NoticePeriod}},
		{"send rate above the range", map[string]string{SESMaxSendRate: "10001"}, nil, []string{SESMaxSendRate}},
		// GitHub delivery needs the owners it may deliver to, as email delivery its domains.
		{"GitHub App without owners", map[string]string{GitHubAppSecretARN: "arn:aws:secretsmanager:us-east-1:222222222222:secret:github-app-AbCdEf"}, nil, []string{AllowedGitHubOwners}},
		{"bad GitHub owner", map[string]string{AllowedGitHubOwners: "example-org,not/an/owner"}, nil, []string{AllowedGitHubOwners}},
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

// TestEnvironIsTheInverseOfLoad holds the writers of the Lambdas' environment (the CDK app,
// the local runner) to the reader: what Environ writes, Load reads back unchanged, and Load's
// result written again gives the same variables.
func TestEnvironIsTheInverseOfLoad(t *testing.T) {
	full := examples(t).Settings
	tests := []struct {
		name string
		in   Settings
	}{
		{"every field set", full},
		{"defaults only", Settings{SenderEmail: "rotator@example.com"}},
		{"tag exclusion off", Settings{SenderEmail: "rotator@example.com", ExcludeAccountTag: NoExcludeAccountTag}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.in.Environ()
			for name := range env {
				if !slices.Contains(Variables, name) {
					t.Errorf("Environ writes %s, which is not in Variables", name)
				}
			}
			got, err := Load(func(name string) string { return env[name] })
			if err != nil {
				t.Fatalf("Load(Environ()): %v", err)
			}
			want := tt.in
			want.Policy = want.Policy.WithDefaults()
			want.MemberRoleName = cmp.Or(want.MemberRoleName, DefaultMemberRoleName)
			want.HandoffSecretPrefix = cmp.Or(want.HandoffSecretPrefix, DefaultHandoffSecretPrefix)
			want.Partition = cmp.Or(want.Partition, DefaultPartition)
			want.ExcludeAccountTag = cmp.Or(want.ExcludeAccountTag, DefaultExcludeAccountTag)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(Environ()):\n got %+v\nwant %+v", got, want)
			}
			if again := got.Environ(); tt.name == "every field set" && !maps.Equal(again, env) {
				t.Errorf("Environ(Load(Environ())) = %v, want %v", again, env)
			}
		})
	}
	if got := len(full.Environ()); got != len(Variables) {
		t.Errorf("Environ of a Settings with every field set writes %d variables, Variables lists %d", got, len(Variables))
	}
}

// examples is a Deployment with every setting set to its Example, read from context.
func examples(t *testing.T) Deployment {
	t.Helper()
	var d Deployment
	for _, s := range Table {
		s.set(&d, s.mustParse(s.Example))
	}
	return d
}

// TestTheLambdasReadWhatTheAppRead: the app reads every context key's Example as the
// setting's form parses it, and the Lambdas' settings it read, written to the environment
// (Environ), are what the Lambdas read (Load); "*" allows any email domain to both.
func TestTheLambdasReadWhatTheAppRead(t *testing.T) {
	ctx := map[string]any{}
	for _, s := range Table {
		if s.Key != "" {
			ctx[s.Key] = s.Example
		}
	}
	for name, overrides := range map[string]map[string]any{"every key set": nil, "any email domain": {"allowedEmailDomains": "*"}} {
		t.Run(name, func(t *testing.T) {
			c := maps.Clone(ctx)
			maps.Copy(c, overrides)
			d, err := LoadDeployment(func(key string) any { return c[key] })
			if err != nil {
				t.Fatal(err)
			}
			if name == "every key set" {
				for _, s := range Table {
					if want := examples(t); s.Key != "" && !reflect.DeepEqual(s.value(&d), s.value(&want)) {
						t.Errorf("context %s=%q read as %v, want %v", s.Key, s.Example, s.value(&d), s.value(&want))
					}
				}
			}
			env := d.Environ()
			got, err := Load(func(name string) string { return env[name] })
			if err != nil {
				t.Fatal(err)
			}
			want := d.Settings
			want.HandoffSecretPrefix, want.Partition = DefaultHandoffSecretPrefix, DefaultPartition // the stack sets these
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load(Environ()):\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
