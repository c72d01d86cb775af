package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// validScenario is the smallest scenario that seeds; the bad cases below each change it.
const validScenario = `{
  "managementAccount": {"name": "management"},
  "memberRole": "provisioning-admin",
  "senderEmail": "iam-key-rotator@example.com",
  "supportEmail": "cloud-support@example.com",
  "excludeAccounts": ["old"],
  "accounts": [
    {"name": "prod", "users": [
      {"name": "alice", "tags": {"EmailID": "alice@example.com"},
       "keys": [{"status": "Active", "ageDays": 85, "lastUsedDaysAgo": 1}]}],
     "secrets": [{"name": "app/alice", "tags": {"key-rotator:user": "alice"}, "holdsKeyOf": "alice"}]},
    {"name": "old"},
    {"name": "dev", "users": [
      {"name": "bob", "keys": [{"status": "Active", "ageDays": 1}, {"status": "Inactive", "ageDays": 2}]}]}
  ]
}`

var badScenarios = []struct {
	name    string
	from    string // a fragment of validScenario
	to      string // its replacement
	wantErr string
}{
	{"bad key status", `"status": "Inactive", "ageDays": 2`, `"status": "inactive", "ageDays": 2`,
		`accounts[2].users[0].keys[1].status: must be Active or Inactive, got "inactive"`},
	{"three keys", `{"status": "Inactive", "ageDays": 2}`, `{"status": "Inactive", "ageDays": 2}, {"status": "Active", "ageDays": 3}`,
		`accounts[2].users[0].keys: at most 2 keys per user (IAM quota), got 3`},
	{"negative age", `"ageDays": 85`, `"ageDays": -1`,
		`accounts[0].users[0].keys[0].ageDays: must be 0..36500, got -1`},
	{"used before created", `"lastUsedDaysAgo": 1`, `"lastUsedDaysAgo": 90`,
		`accounts[0].users[0].keys[0].lastUsedDaysAgo: must be 0..ageDays (85)`},
	{"service of a key never used", `{"status": "Active", "ageDays": 1}`, `{"status": "Active", "ageDays": 1, "lastUsedService": "s3"}`,
		`accounts[2].users[0].keys[0]: lastUsedService and lastUsedRegion need lastUsedDaysAgo`},
	{"bad service", `"lastUsedDaysAgo": 1`, `"lastUsedDaysAgo": 1, "lastUsedService": "Amazon S3"`,
		`accounts[0].users[0].keys[0].lastUsedService: must be an AWS service name like s3 or ec2, got "Amazon S3"`},
	{"bad region", `"lastUsedDaysAgo": 1`, `"lastUsedDaysAgo": 1, "lastUsedRegion": "Ireland"`,
		`accounts[0].users[0].keys[0].lastUsedRegion: must be an AWS region like eu-west-1, got "Ireland"`},
	{"unknown excluded account", `"excludeAccounts": ["old"]`, `"excludeAccounts": ["olde"]`,
		`excludeAccounts[0]: "olde" is not the name of an account in accounts`},
	{"duplicate account", `{"name": "old"}`, `{"name": "prod"}`,
		`accounts[1].name: "prod" is already the name of accounts[0]`},
	{"duplicate user in any case", `{"name": "bob"`, `{"name": "Bob"}, {"name": "bob"`,
		`accounts[2].users[1].name: "bob" is already the name of accounts[2].users[0]`},
	{"bad user name", `"name": "alice"`, `"name": "alice smith"`,
		`accounts[0].users[0].name: must be an IAM user name`},
	{"bad member role", `"memberRole": "provisioning-admin"`, `"memberRole": ""`,
		`memberRole: must be an IAM role name`},
	{"bad sender", `"senderEmail": "iam-key-rotator@example.com"`, `"senderEmail": "Rotator <iam-key-rotator@example.com>"`,
		`senderEmail: must be a bare address`},
	{"missing support email", `"supportEmail": "cloud-support@example.com",`, ``,
		`supportEmail: required`},
	{"empty management name", `{"name": "management"}`, `{"name": ""}`,
		`managementAccount.name: required`},
	{"bad tag value", `{"EmailID": "alice@example.com"}`, `{"EmailID": "alice(at)example.com"}`,
		`accounts[0].users[0].tags["EmailID"]: tag value must be`},
	{"aws: tag key", `{"EmailID": "alice@example.com"}`, `{"aws:EmailID": "alice@example.com"}`,
		`accounts[0].users[0].tags["aws:EmailID"]: tag key must be`},
	{"bad allowed domain", `"excludeAccounts"`, `"allowedEmailDomains": ["example..com"], "excludeAccounts"`,
		`allowedEmailDomains[0]: must be a domain name`},
	{"bad account state", `{"name": "old"}`, `{"name": "old", "state": "Suspended"}`,
		`accounts[1].state: must be one of ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, got "Suspended"`},
	{"management account not active", `{"name": "management"}`, `{"name": "management", "state": "CLOSED"}`,
		`managementAccount.state: the management account is always ACTIVE`},
	{"report older than a week", `"excludeAccounts"`, `"credentialReportHoursAgo": 169, "excludeAccounts"`,
		`credentialReportHoursAgo: must be 0 to 168 hours`},
	{"bad SES sandbox recipient", `"excludeAccounts"`, `"sesSandbox": {"verifiedRecipients": ["Alice <alice@example.com>"]}, "excludeAccounts"`,
		`sesSandbox.verifiedRecipients[0]: must be a bare address`},
	{"empty OU name in a path", `{"name": "old"}`, `{"name": "old", "ou": "Sandbox//Dev"}`,
		`accounts[1].ou: must be OU names (1-128 printable characters) separated by /, got "Sandbox//Dev"`},
	{"excluded OU no account is in", `"excludeAccounts"`, `"excludeOus": ["Sandbox"], "excludeAccounts"`,
		`excludeOus[0]: "Sandbox" is not the OU path of an account in accounts, or above one`},
	{"exclusion tag without value", `"excludeAccounts"`, `"excludeAccountTag": "key-rotator:exclude", "excludeAccounts"`,
		`excludeAccountTag: "key-rotator:exclude" is not a tag key=value (or "none")`},
	{"bad account tag", `{"name": "old"}`, `{"name": "old", "tags": {"aws:exclude": "true"}}`,
		`accounts[1].tags["aws:exclude"]: tag key must be`},
	{"OU of the management account", `{"name": "management"}`, `{"name": "management", "ou": "Sandbox"}`,
		`managementAccount: ou and tags are for member accounts`},
	{"bad secret name", `"name": "app/alice"`, `"name": "app alice"`,
		`accounts[0].secrets[0].name: must be a secret name`},
	{"secret holding an unknown user's key", `"holdsKeyOf": "alice"`, `"holdsKeyOf": "bob"`,
		`accounts[0].secrets[0].holdsKeyOf: "bob" is not a user of this account with an Active key`},
	{"two secrets of one name", `{"name": "app/alice", "tags"`, `{"name": "app/alice"}, {"name": "app/alice", "tags"`,
		`accounts[0].secrets[1].name: "app/alice" is already the name of a secret of this account`},
	{"bad secret tag", `{"key-rotator:user": "alice"}`, `{"aws:user": "alice"}`,
		`accounts[0].secrets[0].tags["aws:user"]: tag key and value must be`},
	{"unknown field", `"ageDays": 85`, `"ageDays": 85, "age": 3`,
		`age: unknown field`},
	{"wrong type", `"ageDays": 85`, `"ageDays": "85"`,
		`accounts.users.keys.ageDays: expected int`},
	{"trailing data", `]
}`, `]
} {}`, `trailing data after the JSON document`},
}

func TestDecodeScenarioRejectsBadScenarios(t *testing.T) {
	if _, err := sandbox.DecodeScenario(strings.NewReader(validScenario)); err != nil {
		t.Fatalf("valid scenario rejected: %v", err)
	}
	for _, tc := range badScenarios {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(validScenario, tc.from) {
				t.Fatalf("fragment %q not in validScenario", tc.from)
			}
			_, err := sandbox.DecodeScenario(strings.NewReader(strings.Replace(validScenario, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateReportsEveryProblemAsFieldError(t *testing.T) {
	sc := sandbox.Scenario{
		ManagementAccount: sandbox.Account{Name: "management"},
		MemberRole:        "r",
		SenderEmail:       "a@example.com",
		SupportEmail:      "b@example.com",
		Accounts: []sandbox.Account{{Name: "prod", Users: []sandbox.User{{Name: "u", Keys: []sandbox.Key{
			{Status: "Enabled", AgeDays: 1},
			{Status: sandbox.StatusActive, AgeDays: -3},
		}}}}},
	}
	err := sc.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *input.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *input.FieldError", e)
		}
		fields = append(fields, fe.Field)
	}
	want := []string{"accounts[0].users[0].keys[0].status", "accounts[0].users[0].keys[1].ageDays"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
}

func TestLoadScenarioNamesTheFile(t *testing.T) {
	path := t.TempDir() + "/bad.json"
	if err := os.WriteFile(path, []byte(`{"memberRole": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sandbox.LoadScenario(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v, want it to name %s", err, path)
	}
}

func TestDemoScenarioIsValid(t *testing.T) {
	sc, err := sandbox.LoadScenario("scenarios/demo.json")
	if err != nil {
		t.Fatal(err)
	}
	users := len(sc.ManagementAccount.Users)
	for _, a := range sc.Accounts {
		users += len(a.Users)
	}
	if len(sc.Accounts) < 4 || len(sc.ExcludeAccounts) == 0 || users < 30 {
		t.Fatalf("demo has %d member accounts, %d excluded, %d users; want >= 4, >= 1, >= 30",
			len(sc.Accounts), len(sc.ExcludeAccounts), users)
	}
}

// TestSeedBadScenarioCreatesNothing seeds every bad scenario into one empty stand-in and
// then checks that nothing at all was created there.
func TestSeedBadScenarioCreatesNothing(t *testing.T) {
	sb := sandboxtest.New(t, nil)
	ctx := context.Background()
	for _, tc := range badScenarios {
		var sc sandbox.Scenario
		// Decode leniently: the point is that Seed itself refuses before any call.
		if err := json.Unmarshal([]byte(strings.Replace(validScenario, tc.from, tc.to, 1)), &sc); err != nil {
			continue // not representable as a Scenario value: DecodeScenario covers it
		}
		if sc.Validate() == nil {
			continue
		}
		if _, err := sandbox.Seed(ctx, sb.URL, &sc, sandbox.SeedOptions{}); err == nil ||
			!strings.Contains(err.Error(), "nothing seeded") {
			t.Errorf("%s: Seed error = %v, want an invalid-scenario error", tc.name, err)
		}
	}

	cfg := sb.Config()
	_, err := organizations.NewFromConfig(cfg).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	if !errors.As(err, &notInUse) {
		t.Errorf("DescribeOrganization after bad seeds: err = %v, want AWSOrganizationsNotInUseException", err)
	}
	users, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 0 {
		t.Errorf("ListUsers after bad seeds: %d users, want none", len(users.Users))
	}
	roles, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("provisioning-admin")})
	if err == nil {
		t.Errorf("GetRole provisioning-admin after bad seeds: %v, want NoSuchEntity", aws.ToString(roles.Role.Arn))
	}
	if _, err := sb.Settings(ctx); err == nil || !strings.Contains(err.Error(), "no scenario seeded") {
		t.Errorf("settings after bad seeds: err = %v, want 404 no scenario seeded", err)
	}
}
