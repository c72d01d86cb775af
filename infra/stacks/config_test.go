package stacks

import (
	"reflect"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

func TestLoadConfigFromCDKJSON(t *testing.T) {
	cfg := testConfig(t, nil)
	want := Config{
		Settings: config.Settings{
			Policy: policy.Config{LimitDays: 90, NoticePeriod: 10, MaxUsers: 200,
				EmailTagKeys: []string{"EmailID", "Email"}, ExemptTagKey: "Exempt", AllowedEmailDomains: []string{"example.com"}},
			SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
			ExcludeAccounts: nil, ExcludeAccountTag: "key-rotator:exclude=true", MemberRoleName: "provisioning-admin",
		},
		OperatorEmail: "cloud-operators@example.com", Schedule: "cron(0 13 * * ? *)",
		MapConcurrency: 10, NotifyConcurrency: 2,
		OrganizationID: "o-exampleorg1", ManagementAccountID: "111111111111",
		RotatorAccountID: "222222222222", StackSetAdminAccountID: "111111111111",
		StackSetTargets: []string{"r-exmp"}, ReportRetentionDays: 400, CleanupOnce: false,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config from cdk.json:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadConfigDefaultsOptionalKeys(t *testing.T) {
	overrides := map[string]any{}
	for _, s := range config.Table {
		if s.Key != "" && !s.Required {
			overrides[s.Key] = nil
		}
	}
	cfg := testConfig(t, overrides)
	if cfg.Policy.LimitDays != 90 || cfg.Policy.NoticePeriod != 10 || cfg.Policy.MaxUsers != 200 ||
		cfg.Schedule != "cron(0 13 * * ? *)" || cfg.MapConcurrency != 10 || cfg.NotifyConcurrency != 2 ||
		cfg.MemberRoleName != "provisioning-admin" || cfg.ReportRetentionDays != 400 || cfg.CleanupOnce ||
		!reflect.DeepEqual(cfg.Policy.EmailTagKeys, []string{"EmailID", "Email"}) || cfg.Policy.ExemptTagKey != "Exempt" ||
		cfg.ExcludeAccounts != nil || cfg.StackSetAdminAccountID != cfg.ManagementAccountID {
		t.Errorf("defaults: got %+v", cfg)
	}
}

func TestLoadConfigAcceptsCLIAndJSONForms(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		check     func(Config) bool
	}{
		{"numbers as -c strings", map[string]any{"limitDays": "120", "noticePeriod": "7"},
			func(c Config) bool { return c.Policy.LimitDays == 120 && c.Policy.NoticePeriod == 7 }},
		{"list as JSON array", map[string]any{"excludeAccounts": []any{"333333333333", "444444444444"}},
			func(c Config) bool {
				return reflect.DeepEqual(c.ExcludeAccounts, []string{"333333333333", "444444444444"})
			}},
		{"list as comma string with spaces and duplicates", map[string]any{"excludeAccounts": " 333333333333, 444444444444,333333333333,"},
			func(c Config) bool {
				return reflect.DeepEqual(c.ExcludeAccounts, []string{"333333333333", "444444444444"})
			}},
		{"bool as -c string", map[string]any{"cleanupOnce": "true"}, func(c Config) bool { return c.CleanupOnce }},
		{"bool as JSON", map[string]any{"cleanupOnce": true}, func(c Config) bool { return c.CleanupOnce }},
		{"OU targets", map[string]any{"stackSetTargets": "ou-ab12-abcdefgh,ou-ab12-12345678"},
			func(c Config) bool { return len(c.StackSetTargets) == 2 }},
		{"rate schedule", map[string]any{"schedule": "rate(1 day)"}, func(c Config) bool { return c.Schedule == "rate(1 day)" }},
		{"delegated StackSet admin", map[string]any{"stackSetAdminAccountId": "222222222222"},
			func(c Config) bool { return c.StackSetAdminAccountID == "222222222222" }},
		{"any email domain, said explicitly", map[string]any{"allowedEmailDomains": "*"},
			func(c Config) bool { return c.Policy.AllowedEmailDomains == nil }},
		{"any email domain as a JSON list", map[string]any{"allowedEmailDomains": []any{"*"}},
			func(c Config) bool { return c.Policy.AllowedEmailDomains == nil }},
		{"two domains", map[string]any{"allowedEmailDomains": "example.com,example.org"},
			func(c Config) bool {
				return reflect.DeepEqual(c.Policy.AllowedEmailDomains, []string{"example.com", "example.org"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cfg := testConfig(t, tt.overrides); !tt.check(cfg) {
				t.Errorf("got %+v", cfg)
			}
		})
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		want      string // the error, which must name the key
	}{
		{"limit not above notice", map[string]any{"limitDays": 10.0, "noticePeriod": 10.0}, "context limitDays: must be greater than noticePeriod (10), got 10"},
		{"limit not a number", map[string]any{"limitDays": "ninety"}, `context limitDays: must be an integer from 2 to 3650, got "ninety"`},
		{"limit a fraction", map[string]any{"limitDays": 90.5}, `context limitDays: must be an integer`},
		{"notice zero", map[string]any{"noticePeriod": 0.0}, "context noticePeriod: must be an integer from 1"},
		{"maxUsers negative", map[string]any{"maxUsers": "-1"}, "context maxUsers: must be an integer from 1"},
		{"sender missing", map[string]any{"senderEmail": nil}, "context senderEmail: is required"},
		{"sender with display name", map[string]any{"senderEmail": "Rotator <r@example.com>"}, "context senderEmail: must be a bare email address"},
		{"support not an address", map[string]any{"supportEmail": "support"}, "context supportEmail: must be a bare email address"},
		{"operator missing", map[string]any{"operatorEmail": nil}, "context operatorEmail: is required"},
		{"excluded account too short", map[string]any{"excludeAccounts": "12345"}, `context excludeAccounts: item "12345" must be a 12-digit account ID`},
		{"excluded account list of numbers", map[string]any{"excludeAccounts": []any{123456789012.0}}, "context excludeAccounts: must list strings"},
		{"excluded OU not an OU", map[string]any{"excludeOus": "r-exmp"}, `context excludeOus: item "r-exmp" must be an OU ID (ou-...-...)`},
		{"exclusion tag without value", map[string]any{"excludeAccountTag": "key-rotator:exclude"}, `context excludeAccountTag: must be an account tag key=value, or "none", got "key-rotator:exclude"`},
		{"no email tag key", map[string]any{"emailTagKeys": " , "}, "context emailTagKeys: must name at least one tag key"},
		{"exempt tag key with a comma", map[string]any{"exemptTagKey": "a,b"}, "context exemptTagKey: must be an IAM tag key"},
		// Anyone who may tag a user in a member account could point its email tag at
		// themselves and receive that user's next key: no domain list is a choice to make.
		{"no email domain", map[string]any{"allowedEmailDomains": ""}, `context allowedEmailDomains: is empty: list the domains owners' addresses may belong to, or set it to "*" to allow any domain`},
		{"email domains unset", map[string]any{"allowedEmailDomains": nil}, `context allowedEmailDomains: is required: list the domains owners' addresses may belong to, or set it to "*" to allow any domain`},
		{"any domain and a domain", map[string]any{"allowedEmailDomains": "*,example.com"}, `context allowedEmailDomains: "*" (any domain) cannot be combined with domains`},
		{"domain of one label", map[string]any{"allowedEmailDomains": "example"}, `context allowedEmailDomains: item "example" must be a domain name or *`},
		{"tag key reserved by AWS", map[string]any{"exemptTagKey": "aws:Exempt"}, `context exemptTagKey: must be an IAM tag key, got "aws:Exempt"`},
		{"schedule not cron", map[string]any{"schedule": "0 13 * * *"}, "context schedule: must be an EventBridge cron(...) or rate(...) expression"},
		{"map concurrency zero", map[string]any{"mapConcurrency": 0.0}, "context mapConcurrency: must be an integer from 1 to 10000"},
		{"notify concurrency too high", map[string]any{"notifyConcurrency": 1000.0}, "context notifyConcurrency: must be an integer from 1 to 40"},
		{"send rate negative", map[string]any{"sesMaxSendRate": "-1"}, "context sesMaxSendRate: must be an integer from 0 to 10000"},
		{"member role name with slash", map[string]any{"memberRoleName": "a/b"}, "context memberRoleName: must be an IAM role name"},
		{"member role name too long for notify-user's role", map[string]any{"memberRoleName": strings.Repeat("r", 58)}, "context memberRoleName: must be an IAM role name of at most 57 characters"},
		{"organization ID malformed", map[string]any{"organizationId": "o-x"}, "context organizationId: must be an organization ID"},
		{"organization missing", map[string]any{"organizationId": nil}, "context organizationId: is required"},
		{"management account malformed", map[string]any{"managementAccountId": "1111"}, "context managementAccountId: must be a 12-digit account ID"},
		{"rotator account missing", map[string]any{"rotatorAccountId": nil}, "context rotatorAccountId: is required"},
		{"StackSet admin malformed", map[string]any{"stackSetAdminAccountId": "x"}, "context stackSetAdminAccountId: must be a 12-digit account ID"},
		{"no StackSet target", map[string]any{"stackSetTargets": ""}, "context stackSetTargets: must name the organization root or at least one OU"},
		{"StackSet target is an account", map[string]any{"stackSetTargets": "333333333333"}, `context stackSetTargets: item "333333333333" must be a root ID`},
		{"retention zero", map[string]any{"reportRetentionDays": 0.0}, "context reportRetentionDays: must be an integer from 1"},
		{"cleanupOnce not a bool", map[string]any{"cleanupOnce": "yes"}, `context cleanupOnce: must be true or false, got "yes"`},
		{"a key of the wrong type", map[string]any{"schedule": map[string]any{}}, "context schedule: must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := repoContext(t, tt.overrides)
			_, err := LoadConfig(func(key string) any { return ctx[key] })
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tt.want)
			}
			if n := strings.Count(err.Error(), "context "); n != 1 {
				t.Errorf("want one bad key reported, got %d:\n%v", n, err)
			}
		})
	}
}

func TestLoadConfigReportsEveryBadKey(t *testing.T) {
	ctx := repoContext(t, map[string]any{"limitDays": "x", "organizationId": "bad", "senderEmail": nil})
	_, err := LoadConfig(func(key string) any { return ctx[key] })
	for _, key := range []string{"limitDays", "organizationId", "senderEmail"} {
		if err == nil || !strings.Contains(err.Error(), "context "+key+":") {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

// TestCDKJSONRepeatsNoDefault keeps each default in one place (config.Table, from the
// policy's and pkg/config's constants): cdk.json sets only what is particular to a deployment.
func TestCDKJSONRepeatsNoDefault(t *testing.T) {
	ctx := repoContext(t, nil)
	for _, s := range config.Table {
		if s.Key != "" && (s.Default != "" || s.DefaultKey != "") && ctx[s.Key] != nil {
			t.Errorf("cdk.json sets %s, which has a default (%q%s): remove it there, or it can drift from the code", s.Key, s.Default, s.DefaultKey)
		}
	}
}
