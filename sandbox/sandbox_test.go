package sandbox_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

const scenarioFile = "testdata/scenario.json"

// shared is the stand-in seeded with scenarioFile that tests which only read (or add
// their own uniquely named things) use together; tests that change seeded state, or
// need an empty stand-in, start their own.
var shared *sandboxtest.Sandbox

func TestMain(m *testing.M) {
	started = time.Now()
	sandboxtest.Main(m, scenarioFile, &shared)
}

// started is when the package's tests started, before the shared stand-in was seeded.
var started time.Time

// wholeDays is how a rotator counts a key's age: whole days elapsed since t.
func wholeDays(now, t time.Time) int { return int(now.Sub(t) / (24 * time.Hour)) }

func loadScenario(t *testing.T) *sandbox.Scenario {
	t.Helper()
	sc, err := sandbox.LoadScenario(scenarioFile)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// scenarioKeys lists the scenario's keys per "account/user", in order.
func scenarioKeys(sc *sandbox.Scenario) map[string][]sandbox.Key {
	keys := map[string][]sandbox.Key{}
	for _, a := range append([]sandbox.Account{sc.ManagementAccount}, sc.Accounts...) {
		for _, u := range a.Users {
			keys[a.Name+"/"+u.Name] = u.Keys
		}
	}
	return keys
}

func TestSeededKeysReadBackThroughTheSDK(t *testing.T) {
	sc := loadScenario(t)
	sb := shared
	ctx := context.Background()
	now := time.Now()
	want := scenarioKeys(sc)

	for _, account := range []string{"management", "prod", "staging", "legacy"} {
		users, err := sb.Users(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			wantKeys, ok := want[account+"/"+u.Name]
			if !ok {
				t.Errorf("%s/%s: not in the scenario", account, u.Name)
				continue
			}
			if len(u.Keys) != len(wantKeys) {
				t.Errorf("%s/%s: %d keys, want %d", account, u.Name, len(u.Keys), len(wantKeys))
				continue
			}
			for i, k := range u.Keys {
				w := wantKeys[i]
				if k.Status != w.Status {
					t.Errorf("%s/%s key %d: status %s, want %s", account, u.Name, i, k.Status, w.Status)
				}
				if got := wholeDays(now, k.CreateDate); got != w.AgeDays {
					t.Errorf("%s/%s key %d: ListAccessKeys CreateDate %s is %d days old, want %d",
						account, u.Name, i, k.CreateDate, got, w.AgeDays)
				}
				switch {
				case w.LastUsedDaysAgo == nil && k.LastUsedDate != nil:
					t.Errorf("%s/%s key %d: GetAccessKeyLastUsed %s, want never used", account, u.Name, i, k.LastUsedDate)
				case w.LastUsedDaysAgo != nil && k.LastUsedDate == nil:
					t.Errorf("%s/%s key %d: never used, want used %d days ago", account, u.Name, i, *w.LastUsedDaysAgo)
				case w.LastUsedDaysAgo != nil && wholeDays(now, *k.LastUsedDate) != *w.LastUsedDaysAgo:
					t.Errorf("%s/%s key %d: GetAccessKeyLastUsed %s is %d days ago, want %d",
						account, u.Name, i, k.LastUsedDate, wholeDays(now, *k.LastUsedDate), *w.LastUsedDaysAgo)
				}
				// As AWS: the service and region of the last use, N/A for a key never used.
				if service, region := wantWhere(w); k.LastUsedService != service || k.LastUsedRegion != region {
					t.Errorf("%s/%s key %d: GetAccessKeyLastUsed ServiceName %q, Region %q; want %q %q",
						account, u.Name, i, k.LastUsedService, k.LastUsedRegion, service, region)
				}
			}
			delete(want, account+"/"+u.Name)
		}
	}
	for user := range want {
		t.Errorf("%s: in the scenario, not in the stand-in", user)
	}

	if tags := mustUser(t, sb, "staging", "olivia").Tags; tags["EmailID"] != "olivia@example.com" || tags["Team"] != "data" {
		t.Errorf("staging/olivia tags = %v", tags)
	}
}

// wantWhere is the service and region GetAccessKeyLastUsed must give a scenario key:
// N/A for one never used, else the scenario's or the defaults.
func wantWhere(k sandbox.Key) (service, region string) {
	if k.LastUsedDaysAgo == nil {
		return "N/A", "N/A"
	}
	return cmp.Or(k.LastUsedService, sandbox.DefaultLastUsedService), cmp.Or(k.LastUsedRegion, sandbox.DefaultLastUsedRegion)
}

func mustUser(t *testing.T, sb *sandboxtest.Sandbox, account, name string) sandboxtest.User {
	t.Helper()
	users, err := sb.Users(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("%s/%s: no such user", account, name)
	return sandboxtest.User{}
}

// TestCredentialReportReflectsBackdating reads each account's credential report as the
// rotator scans it and checks every key column against the scenario.
func TestCredentialReportReflectsBackdating(t *testing.T) {
	sc := loadScenario(t)
	sb := shared
	now := time.Now()
	want := scenarioKeys(sc)

	for _, account := range []string{"management", "prod", "staging"} {
		client, err := sb.IAM(account)
		if err != nil {
			t.Fatal(err)
		}
		report := credentialReport(t, client)
		for _, a := range append([]sandbox.Account{sc.ManagementAccount}, sc.Accounts...) {
			if a.Name != account {
				continue
			}
			for _, u := range a.Users {
				row, ok := report[u.Name]
				if !ok {
					t.Errorf("%s/%s: not in the credential report", account, u.Name)
					continue
				}
				created := mustTime(t, row["user_creation_time"])
				if row["password_enabled"] != "false" || row["password_last_changed"] != "N/A" {
					t.Errorf("%s/%s: password_enabled, _last_changed = %s %s, want false N/A", account, u.Name,
						row["password_enabled"], row["password_last_changed"])
				}
				for i := range 2 {
					col := fmt.Sprintf("access_key_%d_", i+1)
					keys := want[account+"/"+u.Name]
					if i >= len(keys) {
						if row[col+"active"] != "false" || row[col+"last_rotated"] != "N/A" {
							t.Errorf("%s/%s: %sactive=%s last_rotated=%s, want false N/A", account, u.Name, col,
								row[col+"active"], row[col+"last_rotated"])
						}
						continue
					}
					k := keys[i]
					if active := fmt.Sprint(k.Status == sandbox.StatusActive); row[col+"active"] != active {
						t.Errorf("%s/%s: %sactive = %s, want %s", account, u.Name, col, row[col+"active"], active)
					}
					// AWS: "If the user does not have an active access key, the value in this
					// field is N/A": an Inactive key is not dated.
					if k.Status == sandbox.StatusInactive {
						if row[col+"last_rotated"] != "N/A" {
							t.Errorf("%s/%s: %slast_rotated = %s for an Inactive key, want N/A as AWS writes it", account, u.Name, col, row[col+"last_rotated"])
						}
						continue
					}
					rotated := mustTime(t, row[col+"last_rotated"])
					if got := wholeDays(now, rotated); got != k.AgeDays {
						t.Errorf("%s/%s: %slast_rotated %s is %d days ago, want %d", account, u.Name, col, rotated, got, k.AgeDays)
					}
					if created.After(rotated) {
						t.Errorf("%s/%s: user_creation_time %s after %slast_rotated %s", account, u.Name, created, col, rotated)
					}
					used := row[col+"last_used_date"]
					where := row[col+"last_used_region"] + " " + row[col+"last_used_service"]
					switch {
					case k.LastUsedDaysAgo == nil && (used != "N/A" || where != "N/A N/A"):
						t.Errorf("%s/%s: %slast_used_date, _region, _service = %s %s, want N/A (never used)", account, u.Name, col, used, where)
					case k.LastUsedDaysAgo != nil:
						if got := wholeDays(now, mustTime(t, used)); got != *k.LastUsedDaysAgo {
							t.Errorf("%s/%s: %slast_used_date %s is %d days ago, want %d", account, u.Name, col, used, got, *k.LastUsedDaysAgo)
						}
						if service, region := wantWhere(k); where != region+" "+service {
							t.Errorf("%s/%s: %slast_used_region, _service = %s, want %s %s", account, u.Name, col, where, region, service)
						}
					}
				}
			}
		}
	}
}

// credentialReport generates and reads an account's credential report, by user name.
func credentialReport(t *testing.T, client *iam.Client) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	for i := 0; ; i++ {
		gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		if gen.State == iamtypes.ReportStateTypeComplete {
			break
		}
		if i == 20 {
			t.Fatalf("credential report still %s", gen.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	// A rotator trusts a report only while it is fresh (IAM regenerates it at most every 4 hours).
	if age := time.Since(aws.ToTime(got.GeneratedTime)); age < -time.Minute || age > time.Minute {
		t.Errorf("credential report GeneratedTime %s is %s old, want now", aws.ToTime(got.GeneratedTime), age)
	}
	rows, err := csv.NewReader(bytes.NewReader(got.Content)).ReadAll()
	if err != nil {
		t.Fatalf("credential report CSV: %v", err)
	}
	header := rows[0]
	for _, col := range []string{"user", "user_creation_time", "access_key_1_active", "access_key_1_last_rotated",
		"access_key_1_last_used_date", "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date"} {
		if !slices.Contains(header, col) {
			t.Fatalf("credential report lacks column %s: %v", col, header)
		}
	}
	report := map[string]map[string]string{}
	for _, r := range rows[1:] {
		row := map[string]string{}
		for i, col := range header {
			row[col] = r[i]
		}
		report[row["user"]] = row
	}
	return report
}

// TestCredentialReportIsCachedLikeAWS: with credentialReportHoursAgo, the stand-in holds
// each account's report as generated that many hours before seeding, and, as IAM does for
// 4 hours, GenerateCredentialReport answers COMPLETE and GetCredentialReport returns that
// report unchanged, whatever changed since.
func TestCredentialReportIsCachedLikeAWS(t *testing.T) {
	ctx := context.Background()
	hours := 3
	client := prodWithReportOf(t, hours)
	before := credentialReportAt(t, client, time.Duration(hours)*time.Hour)
	// A change after the report was generated: a new key.
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nokeys")}); err != nil {
		t.Fatal(err)
	}
	gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if err != nil || gen.State != iamtypes.ReportStateTypeComplete {
		t.Fatalf("GenerateCredentialReport within 4 hours of the last: %v, %v; want COMPLETE (the cached report)", gen, err)
	}
	after := credentialReportAt(t, client, time.Duration(hours)*time.Hour)
	if !slices.Equal(before, after) {
		t.Errorf("the cached report changed:\n%q\n%q", before, after)
	}
	for _, line := range after {
		if strings.HasPrefix(line, "nokeys,") && !strings.Contains(line, ",false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,") {
			t.Errorf("the cached report shows the key created after it: %s", line)
		}
	}
}

// TestCredentialReportOfYesterdayIsRegenerated: on a daily run the last report is a day
// old, so IAM answers GenerateCredentialReport with STARTED and makes a new one, which then
// shows what changed since.
func TestCredentialReportOfYesterdayIsRegenerated(t *testing.T) {
	ctx := context.Background()
	hours := 24
	client := prodWithReportOf(t, hours)
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nokeys")}); err != nil {
		t.Fatal(err)
	}
	gen, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	if err != nil || gen.State != iamtypes.ReportStateTypeStarted {
		t.Fatalf("GenerateCredentialReport a day after the last: %v, %v; want STARTED (a new report)", gen, err)
	}
	for _, line := range credentialReportAt(t, client, 0) {
		if strings.HasPrefix(line, "nokeys,") && strings.Contains(line, ",false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,") {
			t.Errorf("the new report misses the key created after the last one: %s", line)
		}
	}
}

// prodWithReportOf starts the stand-in with the test scenario, its credential reports
// generated hours before seeding, and returns an IAM client of its prod account.
func prodWithReportOf(t *testing.T, hours int) *iam.Client {
	t.Helper()
	sc := loadScenario(t)
	sc.CredentialReportHoursAgo = &hours
	client, err := sandboxtest.New(t, sc).IAM("prod")
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// credentialReportAt reads the account's report, which must have been generated age ago.
func credentialReportAt(t *testing.T, client *iam.Client, age time.Duration) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if off := time.Since(aws.ToTime(got.GeneratedTime)) - age; off < -time.Minute || off > time.Minute {
		t.Errorf("credential report generated at %s, want %s ago", aws.ToTime(got.GeneratedTime), age)
	}
	return strings.Split(string(got.Content), "\n")
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("credential report time %q: %v", s, err)
	}
	return v
}

func TestAssumeRoleActsInThatAccountOnly(t *testing.T) {
	sb := shared
	ctx := context.Background()
	tests := []struct {
		account   string
		wantUsers []string
	}{
		{"management", []string{"root-auditor"}},
		{"prod", []string{"alice", "ci-bot", "judy", "nokeys"}},
		{"staging", []string{"olivia"}},
		{"legacy", []string{"forgotten"}},
	}
	for _, tc := range tests {
		t.Run(tc.account, func(t *testing.T) {
			cfg, err := sb.AccountConfig(tc.account)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := sb.AccountID(tc.account)
			who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(who.Account) != id {
				t.Errorf("caller account = %s, want %s", aws.ToString(who.Account), id)
			}
			out, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, u := range out.Users {
				names = append(names, aws.ToString(u.UserName))
				if arn := aws.ToString(u.Arn); !strings.Contains(arn, ":"+id+":") {
					t.Errorf("user ARN %s is not in %s", arn, id)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.wantUsers) {
				t.Errorf("users = %v, want %v", names, tc.wantUsers)
			}
		})
	}
}

// TestAssumeRoleNeedsAnExistingRole checks the launcher's stricter AssumeRole and that
// every AssumeRole call can be read back, with its session name.
func TestAssumeRoleNeedsAnExistingRole(t *testing.T) {
	ctx := context.Background()
	prod, _ := shared.AccountID("prod")
	client := sts.NewFromConfig(shared.Config())
	tests := []struct {
		role    string
		wantErr string
	}{
		{"provisioning-admin", ""},
		{sandbox.OrganizationAccessRole, ""},
		{"provisioning-admn", "AccessDenied"},
	}
	for _, tc := range tests {
		arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", prod, tc.role)
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("rotator-test")})
		if (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr))) {
			t.Errorf("AssumeRole %s: err = %v, want %q", arn, err, tc.wantErr)
		}
	}
	roles, err := shared.AssumedRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, r := range roles {
		if r.SessionName == "rotator-test" {
			mine = append(mine, r.RoleARN)
			if r.AccountID != prod {
				t.Errorf("assumed role %s recorded in account %s, want %s", r.RoleARN, r.AccountID, prod)
			}
		} else if r.SessionName != sandbox.SessionName {
			t.Errorf("assumed role %s with unexpected session %q", r.RoleARN, r.SessionName)
		}
	}
	want := []string{fmt.Sprintf("arn:aws:iam::%s:role/provisioning-admin", prod),
		fmt.Sprintf("arn:aws:iam::%s:role/%s", prod, sandbox.OrganizationAccessRole)}
	if !slices.Equal(mine, want) {
		t.Errorf("AssumedRoles with session rotator-test = %v, want %v", mine, want)
	}
}

func TestOrganizationListsTheScenarioAccounts(t *testing.T) {
	out, err := organizations.NewFromConfig(shared.Config()).ListAccounts(context.Background(), &organizations.ListAccountsInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range out.Accounts {
		got[aws.ToString(a.Name)] = aws.ToString(a.Id)
	}
	want := map[string]string{}
	for _, a := range shared.Seeded.Settings.Accounts {
		want[a.Name] = a.ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListAccounts = %v, want the seeded map %v", got, want)
	}
}

// TestOrganizationOUsTagsAndPages: a scenario's accounts are placed in their OUs (nested ones
// created as needed) and tagged, the settings carry the exclusions by ID, and Organizations'
// List calls page as on AWS: at most 20 entries a page, MaxResults above 20 refused (moto:
// 100 accounts a ListAccounts page).
func TestOrganizationOUsTagsAndPages(t *testing.T) {
	ctx := context.Background()
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		ExcludeOUs: []string{"Sandbox"}, ExcludeAccountTag: "lifecycle=migrating"}
	for i := range 22 {
		sc.Accounts = append(sc.Accounts, sandbox.Account{Name: fmt.Sprintf("member-%02d", i)})
	}
	sc.Accounts[0].OU, sc.Accounts[1].OU, sc.Accounts[2].OU = "Sandbox", "Sandbox/Dev/Deep", "Workloads"
	sc.Accounts[3].Tags = map[string]string{"lifecycle": "migrating", "team": "data"}
	sb := sandboxtest.New(t, sc)
	client := organizations.NewFromConfig(sb.Config())

	first, err := client.ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil || len(first.Accounts) != 20 || first.NextToken == nil {
		t.Fatalf("ListAccounts: %d accounts, next token %v (%v); want a page of 20 of 23", len(first.Accounts), first.NextToken != nil, err)
	}
	if _, err := client.ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(21)}); err == nil ||
		!strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("ListAccounts with MaxResults 21: %v, want a ValidationException", err)
	}

	settings := sb.Seeded.Settings
	if len(settings.Rotator.ExcludeOUs) != 1 || settings.Rotator.ExcludeAccountTag != "lifecycle=migrating" {
		t.Fatalf("settings exclude OUs %v, tag %q", settings.Rotator.ExcludeOUs, settings.Rotator.ExcludeAccountTag)
	}
	// Walk down from the excluded OU as the rotator does.
	var inSandbox []string
	for queue := settings.Rotator.ExcludeOUs; len(queue) > 0; queue = queue[1:] {
		accounts, err := client.ListAccountsForParent(ctx, &organizations.ListAccountsForParentInput{ParentId: &queue[0]})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accounts.Accounts {
			inSandbox = append(inSandbox, aws.ToString(a.Name))
		}
		children, err := client.ListOrganizationalUnitsForParent(ctx, &organizations.ListOrganizationalUnitsForParentInput{ParentId: &queue[0]})
		if err != nil {
			t.Fatal(err)
		}
		for _, ou := range children.OrganizationalUnits {
			queue = append(queue, aws.ToString(ou.Id))
		}
	}
	if !slices.Equal(inSandbox, []string{"member-00", "member-01"}) {
		t.Errorf("accounts in Sandbox and below: %v, want member-00 and member-01", inSandbox)
	}
	tagged, _ := sb.AccountID("member-03")
	tags, err := client.ListTagsForResource(ctx, &organizations.ListTagsForResourceInput{ResourceId: &tagged})
	if err != nil || len(tags.Tags) != 2 {
		t.Errorf("tags of member-03: %v (%v), want lifecycle and team", tags, err)
	}
}

// TestOrganizationAnswersWithStateNotStatus: Organizations retired Account.Status on
// 2026-09-09 and answers ListAccounts and DescribeAccount with State only; the stand-in does
// the same (moto still sends Status), and a scenario account can be in any other State.
func TestOrganizationAnswersWithStateNotStatus(t *testing.T) {
	ctx := context.Background()
	sc := loadScenario(t)
	for i := range sc.Accounts {
		if sc.Accounts[i].Name == "staging" {
			sc.Accounts[i].State = "SUSPENDED"
		}
	}
	sb := sandboxtest.New(t, sc)
	client := organizations.NewFromConfig(sb.Config())
	out, err := client.ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range out.Accounts {
		name := aws.ToString(a.Name)
		got[name] = string(a.State)
		if a.Status != "" {
			t.Errorf("ListAccounts: %s has the retired Status %q", name, a.Status)
		}
		desc, err := client.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: a.Id})
		if err != nil {
			t.Fatal(err)
		}
		if desc.Account.Status != "" || desc.Account.State != a.State {
			t.Errorf("DescribeAccount %s: Status %q, State %q; want no Status, State %q", name, desc.Account.Status, desc.Account.State, a.State)
		}
	}
	want := map[string]string{"management": "ACTIVE", "prod": "ACTIVE", "staging": "SUSPENDED", "legacy": "ACTIVE"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListAccounts states = %v, want %v", got, want)
	}
}

func TestSettingsEndpointServesTheScenarioSettings(t *testing.T) {
	sb := shared
	got, err := sb.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := sb.AccountID("legacy")
	if got.ManagementAccountID != "123456789012" || got.Rotator.MemberRoleName != "provisioning-admin" ||
		got.Rotator.SenderEmail != "iam-key-rotator@example.com" || got.Rotator.SupportEmail != "cloud-support@example.com" ||
		!slices.Equal(got.Rotator.ExcludeAccounts, []string{legacy}) || got.Region != "us-east-1" {
		t.Errorf("settings = %+v", got)
	}
	// Read as a Lambda reads its environment: what the scenario leaves unset has its default.
	if got.Rotator.ExcludeAccountTag != config.DefaultExcludeAccountTag || got.Rotator.Policy.LimitDays != policy.DefaultLimitDays {
		t.Errorf("unset settings: exclude tag %q, limit days %d; want the defaults", got.Rotator.ExcludeAccountTag, got.Rotator.Policy.LimitDays)
	}
	var names []string
	ids := map[string]bool{}
	for _, a := range got.Accounts {
		names = append(names, a.Name)
		ids[a.ID] = true
		if a.Excluded != (a.Name == "legacy") || a.Management != (a.Name == "management") {
			t.Errorf("account %+v: wrong excluded/management flag", a)
		}
	}
	if !slices.Equal(names, []string{"management", "prod", "staging", "legacy"}) || len(ids) != 4 {
		t.Errorf("account map = %+v, want 4 distinct accounts in scenario order", got.Accounts)
	}
	if got.SeededAt.Before(started.Truncate(time.Second)) || got.SeededAt.After(time.Now()) || !got.SeededAt.Equal(sb.Seeded.Settings.SeededAt) {
		t.Errorf("seededAt = %s, seeder says %s", got.SeededAt, sb.Seeded.Settings.SeededAt)
	}
}

// TestSESRawMessageWithAttachmentReadsBackWhole sends what NotifyUser will send — a raw
// MIME message with a binary attachment — and reads it back (sandboxtest's SentEmails).
func TestSESRawMessageWithAttachmentReadsBackWhole(t *testing.T) {
	sb := shared
	ctx := context.Background()
	attachment := make([]byte, 3000)
	if _, err := rand.Read(attachment); err != nil {
		t.Fatal(err)
	}
	raw := rawEmail("iam-key-rotator@example.com", "alice@example.com", "Your new access key", "Open the zip.", "key.zip", attachment)
	client := sesv2.NewFromConfig(sb.Config())
	before := time.Now()
	sent, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("iam-key-rotator@example.com"),
		Destination:      &sesv2types.Destination{ToAddresses: []string{"alice@example.com"}},
		Content:          &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}},
	})
	if err != nil {
		t.Fatal(err)
	}

	emails, err := sb.SentEmails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(emails, func(e sandboxtest.Email) bool { return e.ID == aws.ToString(sent.MessageId) })
	if i < 0 {
		t.Fatalf("message %s not among the %d sent emails", aws.ToString(sent.MessageId), len(emails))
	}
	e := emails[i]
	if e.Source != "iam-key-rotator@example.com" || !slices.Equal(e.Destinations, []string{"alice@example.com"}) || e.Raw != raw {
		t.Errorf("email source %s destinations %v, raw text equal %v; want the sender, alice and the raw text sent",
			e.Source, e.Destinations, e.Raw == raw)
	}
	if e.Subject != "Your new access key" || strings.TrimSpace(e.Text) != "Open the zip." {
		t.Errorf("subject %q text %q", e.Subject, e.Text)
	}
	if len(e.Attachments) != 1 || e.Attachments[0].Filename != "key.zip" || !bytes.Equal(e.Attachments[0].Data, attachment) {
		t.Errorf("attachments = %d, want key.zip with the %d bytes sent", len(e.Attachments), len(attachment))
	}
	if e.Sent.Before(before.Add(-time.Second)) || e.Sent.After(time.Now()) {
		t.Errorf("sent at %s, want the time SES accepted it (between %s and now)", e.Sent, before)
	}

	// The sender identity is what makes SendEmail work: another sender is refused.
	_, err = client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("someone@example.org"),
		Destination:      &sesv2types.Destination{ToAddresses: []string{"alice@example.com"}},
		Content:          &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(strings.ReplaceAll(raw, "iam-key-rotator@example.com", "someone@example.org"))}},
	})
	if err == nil || !strings.Contains(err.Error(), "MessageRejected") {
		t.Errorf("SendEmail from an unverified sender: err = %v, want MessageRejected", err)
	}
}

// TestSESRefusesAMessageOver40MB: SES v2 SendEmail takes at most 40 MB a message (after base64
// encoding); the stand-in refuses a larger one with MessageRejected, as SES does, and sends
// nothing. 41 MiB is over both readings of "40 MB".
func TestSESRefusesAMessageOver40MB(t *testing.T) {
	ctx := context.Background()
	raw := rawEmail("iam-key-rotator@example.com", "alice@example.com", "IAM access key rotation report", "The report is attached.",
		"report.csv", make([]byte, 31_800_000))
	if len(raw) <= 41<<20 {
		t.Fatalf("the message is %d bytes, want one over 41 MiB", len(raw))
	}
	client := sesv2.NewFromConfig(shared.Config(), func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
	_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("iam-key-rotator@example.com"),
		Destination:      &sesv2types.Destination{ToAddresses: []string{"alice@example.com"}},
		Content:          &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}},
	})
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "MessageRejected" || !strings.Contains(err.Error(), "40000000 bytes") {
		t.Fatalf("SendEmail of %d bytes: err = %v, want MessageRejected naming the limit", len(raw), err)
	}
	emails, err := shared.SentEmails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(emails, func(e sandboxtest.Email) bool { return len(e.Raw) > 40_000_000 }) {
		t.Error("the refused message is among the sent emails")
	}
}

// TestSESSandboxRejectsUnverifiedRecipients: with sesSandbox, SES sends only to verified
// identities and answers MessageRejected for any other recipient, as AWS does in an
// account without production access, and at most maxSendRate messages per second.
func TestSESSandboxRejectsUnverifiedRecipients(t *testing.T) {
	ctx := context.Background()
	sc := loadScenario(t)
	sc.SESSandbox = &sandbox.SESSandbox{VerifiedRecipients: []string{"alice@example.com"}, MaxSendRate: 1}
	sb := sandboxtest.New(t, sc)
	// No SDK retry: each throttled call shows.
	client := sesv2.NewFromConfig(sb.Config(), func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
	send := func(to string) error {
		raw := rawEmail("iam-key-rotator@example.com", to, "Your new access key", "Open the zip.", "key.zip", []byte("zip"))
		_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("iam-key-rotator@example.com"),
			Destination:      &sesv2types.Destination{ToAddresses: []string{to}},
			Content:          &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}},
		})
		return err
	}
	if err := send("alice@example.com"); err != nil {
		t.Fatalf("to a verified recipient: %v", err)
	}
	if err := send("alice@example.com"); err == nil || !strings.Contains(err.Error(), "TooManyRequestsException") {
		t.Errorf("a second message within the second: err = %v, want TooManyRequestsException", err)
	}
	time.Sleep(1100 * time.Millisecond)
	err := send("bob@example.com")
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "MessageRejected" || !strings.Contains(err.Error(), "bob@example.com") {
		t.Errorf("to an unverified recipient: err = %v, want MessageRejected naming bob@example.com", err)
	}
	emails, err := sb.SentEmails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(emails) != 1 || !slices.Equal(emails[0].Destinations, []string{"alice@example.com"}) {
		t.Errorf("sent %d emails, want only the one to alice", len(emails))
	}
	account, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatal(err)
	}
	if q := account.SendQuota; account.ProductionAccessEnabled || q == nil || q.MaxSendRate != 1 || q.Max24HourSend != 200 || q.SentLast24Hours != 1 {
		t.Errorf("GetAccount in the sandbox: production access %v, quota %+v; want the sandbox's 1 per second, 200 a day, 1 sent", account.ProductionAccessEnabled, q)
	}
}

// TestSESGetAccountReportsTheQuota: SES v2 GetAccount, which moto lacks, answers with a new
// production account's send quota.
func TestSESGetAccountReportsTheQuota(t *testing.T) {
	account, err := sesv2.NewFromConfig(shared.Config()).GetAccount(context.Background(), &sesv2.GetAccountInput{})
	if err != nil {
		t.Fatal(err)
	}
	if q := account.SendQuota; !account.ProductionAccessEnabled || !account.SendingEnabled || q == nil || q.MaxSendRate != 14 || q.Max24HourSend != 50000 {
		t.Errorf("GetAccount: production access %v, sending %v, quota %+v; want production's 14 per second, 50,000 a day",
			account.ProductionAccessEnabled, account.SendingEnabled, q)
	}
}

// TestSESMessagesArePagedInOrder: GET /keyrotator/ses-messages gives the messages SES
// accepted in order, in pages bounded by a count and by bytes (one message over the bytes
// still comes alone), so that a reader takes any number of them in small answers.
func TestSESMessagesArePagedInOrder(t *testing.T) {
	ctx := context.Background()
	sb := sandboxtest.New(t, loadScenario(t))
	client := sesv2.NewFromConfig(sb.Config())
	var ids []string
	send := func(subject string, size int) {
		raw := rawEmail("iam-key-rotator@example.com", "alice@example.com", subject, "text", "a.bin", make([]byte, size))
		out, err := client.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String("iam-key-rotator@example.com"),
			Destination: &sesv2types.Destination{ToAddresses: []string{"alice@example.com"}},
			Content:     &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	for i := range 5 {
		send(fmt.Sprintf("small %d", i), 100)
	}
	// Base64 makes each over sandbox.SESPageBytes*3/4: two of them never share a page.
	send("large 1", sandbox.SESPageBytes*3/4)
	send("large 2", sandbox.SESPageBytes*3/4)

	type message struct {
		ID   string    `json:"id"`
		Sent time.Time `json:"sent_at"`
	}
	count, err := sandbox.SESMessages[message](ctx, sb.URL, 0, 0)
	if err != nil || count.Total != len(ids) || len(count.Messages) != 0 {
		t.Fatalf("limit 0: %+v, %v; want the total, %d, alone", count, err, len(ids))
	}
	var got []string
	var sizes []int
	for from := 0; from < len(ids); {
		p, err := sandbox.SESMessages[message](ctx, sb.URL, from, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Messages {
			got = append(got, m.ID)
			if m.Sent.IsZero() {
				t.Errorf("message %s: no sent_at", m.ID)
			}
		}
		sizes = append(sizes, len(p.Messages))
		from = p.Next
	}
	if !slices.Equal(got, ids) {
		t.Errorf("paged %v, want the messages in the order sent %v", got, ids)
	}
	if !slices.Equal(sizes, []int{3, 2, 1, 1}) {
		t.Errorf("pages of %v messages, want 3, 2 (limit 3), then each large one alone (%d bytes a page)", sizes, sandbox.SESPageBytes)
	}
	if _, err := sandbox.SESMessages[message](ctx, sb.URL, len(ids)+1, 3); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("from past the total: err = %v, want 400", err)
	}
}

func rawEmail(from, to, subject, text, filename string, attachment []byte) string {
	const boundary = "keyrotator-boundary-42"
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n", from, to, subject)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, text)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n", boundary)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=%q\r\n\r\n", filename)
	enc := base64.StdEncoding.EncodeToString(attachment)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	fmt.Fprintf(&b, "%s\r\n--%s--\r\n", enc, boundary)
	return b.String()
}

func TestSNSAndS3ReadBack(t *testing.T) {
	sb := shared
	ctx := context.Background()
	client := sns.NewFromConfig(sb.Config())
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("rotation-failures")})
	if err != nil {
		t.Fatal(err)
	}
	published, err := client.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("rotation failed"),
		Message: aws.String(`{"account":"prod"}`)})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := sb.SNSMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The message is found by the ID Publish returned: a Publish the SDK re-sent after a
	// lost response is a second message, as on SNS, and not what this test reads back.
	msgs = slices.DeleteFunc(msgs, func(m sandboxtest.SNSMessage) bool { return m.MessageID != aws.ToString(published.MessageId) })
	if len(msgs) != 1 || msgs[0].TopicARN != aws.ToString(topic.TopicArn) || msgs[0].Subject != "rotation failed" ||
		msgs[0].Message != `{"account":"prod"}` {
		t.Errorf("SNS messages with the published ID %s = %+v", aws.ToString(published.MessageId), msgs)
	}

	s3c := sb.S3()
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"b/report.json", "a/report.csv"} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String(key),
			Body: strings.NewReader("body of " + key)}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := sb.S3Objects(ctx, "reports")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].Key != "a/report.csv" || string(objs[1].Body) != "body of b/report.json" {
		t.Errorf("objects = %+v", objs)
	}
}

// TestSeededSecretsWorkAndNeverPrint signs a request with a seeded key's secret (which
// proves it is the real one) and checks that no printed form of a seeded key shows it.
func TestSeededSecretsWorkAndNeverPrint(t *testing.T) {
	sb := sandboxtest.New(t, loadScenario(t))
	keys := sb.Seeded.KeysOf("prod", "alice")
	if len(keys) != 1 {
		t.Fatalf("prod/alice: %d seeded keys, want 1", len(keys))
	}
	k := keys[0]
	cfg := sb.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.Secret.Reveal(), "")
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("arn:aws:iam::%s:user/alice", k.AccountID); aws.ToString(who.Arn) != want {
		t.Errorf("caller = %s, want %s", aws.ToString(who.Arn), want)
	}

	secret := k.Secret.Reveal()
	if len(secret) != 40 {
		t.Fatalf("secret has %d characters, want 40", len(secret))
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "key", k, "secret", k.Secret)
	asJSON, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{
		fmt.Sprint(k), fmt.Sprintf("%+v %#v %s %q %x %d", k, k, k.Secret, k.Secret, k.Secret, k.Secret),
		logged.String(), string(asJSON),
	} {
		if strings.Contains(form, secret) {
			t.Errorf("secret printed in %q", form)
		}
	}

	path := filepath.Join(t.TempDir(), "keys.json")
	if err := sb.Seeded.WriteKeysFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if info.Mode().Perm() != 0o600 || !bytes.Contains(data, []byte(secret)) {
		t.Errorf("keys file mode %v, has the secret %v; want 0600 and true", info.Mode().Perm(), bytes.Contains(data, []byte(secret)))
	}
}

func TestBackdateRefusesUnknownKeysAndBadDates(t *testing.T) {
	sb := shared
	ctx := context.Background()
	k := sb.Seeded.KeysOf("prod", "alice")[0]
	earlier := k.CreateDate.Add(-time.Hour)
	tests := []struct {
		name     string
		account  string
		user     string
		keyID    string
		lastUsed *sandbox.LastUse
		wantErr  string
	}{
		{"unknown user", k.AccountID, "mallory", k.AccessKeyID, nil, "user mallory in " + k.AccountID + ": not found"},
		{"key of another user", k.AccountID, "judy", k.AccessKeyID, nil, "access key " + k.AccessKeyID + " of judy"},
		{"key in another account", "123456789012", "alice", k.AccessKeyID, nil, "user alice in 123456789012: not found"},
		{"bad account id", "prod", "alice", k.AccessKeyID, nil, "accountId: must be 12 digits"},
		{"used before created", k.AccountID, "alice", k.AccessKeyID, &sandbox.LastUse{Date: earlier, Service: "s3", Region: "us-east-1"}, "last used before created"},
		{"used without a service", k.AccountID, "alice", k.AccessKeyID, &sandbox.LastUse{Date: k.CreateDate, Region: "us-east-1"}, "lastUsedService: required string with lastUsedDate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sandbox.Backdate(ctx, sb.URL, tc.account, tc.user, tc.keyID, k.CreateDate, tc.lastUsed)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestStartFailuresSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	t.Run("launcher crashes", func(t *testing.T) {
		// sh cannot run a Python file: the launcher dies at once, and its stderr must show.
		_, err := sandbox.Start(ctx, sandbox.Options{Python: "/bin/sh", StartTimeout: 10 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "exited before listening") ||
			!strings.Contains(err.Error(), "launcher stderr:\n/") || !strings.Contains(err.Error(), "make sandbox-tools") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("no venv", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		t.Setenv(sandbox.PythonEnv, "")
		_, err := sandbox.Start(ctx, sandbox.Options{})
		if !errors.Is(err, sandbox.ErrNoPython) || !strings.Contains(err.Error(), "make sandbox-tools") {
			t.Errorf("error = %v, want ErrNoPython saying to run make sandbox-tools", err)
		}
	})
	t.Run("port taken", func(t *testing.T) {
		first, err := sandbox.Start(ctx, sandbox.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer first.Stop()
		port := strings.TrimPrefix(first.URL, "http://127.0.0.1:")
		var p int
		fmt.Sscan(port, &p)
		_, err = sandbox.Start(ctx, sandbox.Options{Port: p})
		if err == nil || !strings.Contains(err.Error(), "listen on 127.0.0.1:"+port) {
			t.Errorf("error = %v, want the launcher's listen error", err)
		}
	})
}

// TestNoMemberRoleLeavesTheRoleOut: an account marked noMemberRole has no rotator role
// (neither the member role nor NotifyUser's), so AssumeRole into it is denied, while the
// seeder's own role still works and its users exist.
func TestNoMemberRoleLeavesTheRoleOut(t *testing.T) {
	ctx := context.Background()
	sc := loadScenario(t)
	for i := range sc.Accounts {
		sc.Accounts[i].NoMemberRole = sc.Accounts[i].Name == "staging"
	}
	sb := sandboxtest.New(t, sc)
	client := sts.NewFromConfig(sb.Config())
	for _, name := range []string{"prod", "staging"} {
		id, _ := sb.AccountID(name)
		for _, role := range []string{sc.MemberRole, config.NotifyMemberRoleName(sc.MemberRole)} {
			arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", id, role)
			_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("rotator-test")})
			switch {
			case name == "staging" && (err == nil || !strings.Contains(err.Error(), "AccessDenied")):
				t.Errorf("AssumeRole %s in the noMemberRole account: err = %v, want AccessDenied", arn, err)
			case name == "prod" && err != nil:
				t.Errorf("AssumeRole %s: %v", arn, err)
			}
		}
	}
	id, _ := sb.AccountID("staging")
	users, err := iam.NewFromConfig(sandbox.AccountConfig(sb.Config(), id, sandbox.OrganizationAccessRole)).
		ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 1 || aws.ToString(users.Users[0].UserName) != "olivia" {
		t.Errorf("users of staging through %s: %v, %v; want olivia", sandbox.OrganizationAccessRole, users, err)
	}
}

// TestSESSuppressionListAnswersAsAWS: the stand-in serves SES v2's account-level suppression
// list (moto has none): an address is NotFound until a bounce puts it there, then found with
// its reason and the time it was put there, and NotFound again once removed — what
// rotate.SESBounces reads.
func TestSESSuppressionListAnswersAsAWS(t *testing.T) {
	ctx := context.Background()
	client := sesv2.NewFromConfig(shared.Config())
	bounces := rotate.SESBounces{SES: client}
	const address = "Bounced.Owner@example.com"
	check := func(want bool) {
		t.Helper()
		got, err := bounces.Suppressed(ctx, address)
		if err != nil || got != want {
			t.Fatalf("Suppressed(%s) = %v, %v; want %v", address, got, err, want)
		}
	}
	check(false)
	if _, err := client.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{
		EmailAddress: aws.String(address), Reason: sesv2types.SuppressionListReasonBounce}); err != nil {
		t.Fatal(err)
	}
	check(true)
	// The entry says since when (LastUpdateTime, required in AWS's answer): notices sent on
	// a day before the day before it still count (rotate's unlessBounced).
	if listed, since, err := bounces.SuppressedSince(ctx, address); err != nil || !listed || time.Since(since).Abs() > time.Minute {
		t.Fatalf("SuppressedSince(%s) = %v, %v, %v; want listed since now", address, listed, since, err)
	}
	out, err := client.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("bounced.owner@EXAMPLE.com")})
	if err != nil || out.SuppressedDestination.Reason != sesv2types.SuppressionListReasonBounce {
		t.Fatalf("the entry, looked up in another case: %+v, %v", out, err)
	}
	if _, err := client.DeleteSuppressedDestination(ctx, &sesv2.DeleteSuppressedDestinationInput{EmailAddress: aws.String(address)}); err != nil {
		t.Fatal(err)
	}
	check(false)
	if _, err := client.PutSuppressedDestination(ctx, &sesv2.PutSuppressedDestinationInput{
		EmailAddress: aws.String(address), Reason: "MAYBE"}); err == nil {
		t.Error("a reason other than BOUNCE or COMPLAINT was accepted")
	}
}

// TestSESSuppressionSettingsAnswerAsAWS: the stand-in answers GetAccount with the account's
// suppression attributes (BOUNCE and COMPLAINT, as for an account that started using SES
// after 2019-11-25; moto's GetAccount is the launcher's and had none), changed by
// PutAccountSuppressionAttributes, and GetConfigurationSet with the set's SuppressionOptions:
// what pkg/suppression reads before a run relies on the suppression list.
func TestSESSuppressionSettingsAnswerAsAWS(t *testing.T) {
	ctx := context.Background()
	client := sesv2.NewFromConfig(shared.Config())
	check := func(configSet string, want string) {
		t.Helper()
		problem, err := suppression.Check(ctx, client, configSet)
		if err != nil || !strings.Contains(problem, want) || (want == "") != (problem == "") {
			t.Errorf("Check(%q) = %q, %v; want %q", configSet, problem, err, want)
		}
	}
	both := []sesv2types.SuppressionListReason{sesv2types.SuppressionListReasonBounce, sesv2types.SuppressionListReasonComplaint}
	out, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil || out.SuppressionAttributes == nil || !slices.Equal(out.SuppressionAttributes.SuppressedReasons, both) {
		t.Fatalf("GetAccount: %+v, %v; want SuppressionAttributes BOUNCE and COMPLAINT", out, err)
	}
	check("", "")
	t.Cleanup(func() {
		if _, err := client.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{SuppressedReasons: both}); err != nil {
			t.Errorf("restore the account's suppression attributes: %v", err)
		}
	})
	if _, err := client.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sesv2types.SuppressionListReason{sesv2types.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	check("", "reasons [COMPLAINT], without BOUNCE")
	for name, reasons := range map[string][]sesv2types.SuppressionListReason{
		"suppression-test-bounces": both, "suppression-test-complaints": {sesv2types.SuppressionListReasonComplaint}} {
		if _, err := client.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(name),
			SuppressionOptions: &sesv2types.SuppressionOptions{SuppressedReasons: reasons}}); err != nil {
			t.Fatal(err)
		}
	}
	check("suppression-test-bounces", "")
	check("suppression-test-complaints", "overrides the account's suppression settings with reasons [COMPLAINT]")
	check("suppression-test-missing", "does not exist")
}

// TestBodilessCallOfARoleIsAuthorizedAsAWS: a role's call without a body (SES v2's REST GET
// and DELETE: GetConfigurationSet, which ListAccounts reads before a run relies on the
// suppression list) has its signature checked over the empty payload it was signed with,
// then its policy: allowed for a role granted it, AccessDeniedException (JSON, as SES v2
// answers) for one that is not. moto
// rebuilt the payload from the request's headers and answered 403 SignatureDoesNotMatch to
// every such call (TestE2EBouncedDeliveryIsSentAgain: the run could not read the settings).
func TestBodilessCallOfARoleIsAuthorizedAsAWS(t *testing.T) {
	ctx := context.Background()
	sb := sandboxtest.New(t, &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "prod"}}, EnforceIAM: true})
	admin, err := sb.AccountConfig("prod")
	if err != nil {
		t.Fatal(err)
	}
	ses := sesv2.NewFromConfig(admin)
	if _, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String("bodiless-test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("bodiless-test")}); err != nil {
		t.Errorf("GetConfigurationSet as the account's administrator: %v, want it read", err)
	}
	id, _ := sb.AccountID("prod")
	if _, err := iam.NewFromConfig(admin).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bodiless-test-nothing"),
		AssumeRolePolicyDocument: aws.String(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",`+
			`"Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`, id))}); err != nil {
		t.Fatal(err)
	}
	nothing := sesv2.NewFromConfig(sandbox.AccountConfig(sb.Config(), id, "bodiless-test-nothing"))
	_, err = nothing.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("bodiless-test")})
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Errorf("GetConfigurationSet by a role granted nothing: %v, want AccessDeniedException", err)
	}
	if _, err := ses.DeleteConfigurationSet(ctx, &sesv2.DeleteConfigurationSetInput{ConfigurationSetName: aws.String("bodiless-test")}); err != nil {
		t.Errorf("DeleteConfigurationSet as the account's administrator: %v, want it deleted", err)
	}
}

// TestAuthorizationDetailsPagedAsAWS: GetAccountAuthorizationDetails pages as AWS does, 100
// entities by default, MaxItems up to 1,000, a Marker to go on; moto answers with every
// entity at once, which would hide what reading every user's tags costs in a large account.
func TestAuthorizationDetailsPagedAsAWS(t *testing.T) {
	ctx := context.Background()
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "many"}}}
	for i := range 250 {
		sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: fmt.Sprintf("user-%03d", i),
			Tags: map[string]string{"RotationDays": fmt.Sprint(30 + i%50)}})
	}
	sb := sandboxtest.New(t, sc)
	client, err := sb.IAM("many")
	if err != nil {
		t.Fatal(err)
	}
	users := []iamtypes.EntityType{iamtypes.EntityTypeUser}
	first, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: users})
	if err != nil || len(first.UserDetailList) != 100 || !first.IsTruncated || first.Marker == nil {
		t.Fatalf("default page: %d users, truncated %v (%v); want 100 of 250 and a marker", len(first.UserDetailList), first.IsTruncated, err)
	}
	if _, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: users, MaxItems: aws.Int32(1001)}); err == nil ||
		!strings.Contains(err.Error(), "ValidationError") {
		t.Errorf("MaxItems 1001: %v, want a ValidationError", err)
	}
	for _, tt := range []struct{ maxItems, pages int32 }{{1000, 1}, {120, 3}} {
		pages := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{Filter: users, MaxItems: aws.Int32(tt.maxItems)})
		seen := map[string]string{}
		n := int32(0)
		for ; pages.HasMorePages(); n++ {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.UserDetailList {
				for _, tag := range u.Tags {
					seen[aws.ToString(u.UserName)] = aws.ToString(tag.Value)
				}
			}
		}
		if n != tt.pages || len(seen) != 250 || seen["user-249"] != "79" {
			t.Errorf("MaxItems %d: %d pages, %d users with their tag (user-249: %q); want %d pages, 250, \"79\"",
				tt.maxItems, n, len(seen), seen["user-249"], tt.pages)
		}
	}
}

// TestReadBackOfAStandInHoldingMoreThanOneAnswer: sandboxtest reads the emails, SNS messages
// and assumed roles back in bounded pieces, however much the stand-in holds: here more mail
// than one answer can carry (sandbox.MaxAnswerBytes), as at 3,000 accounts, where the whole
// state in one answer (/moto-api/data.json) failed.
func TestReadBackOfAStandInHoldingMoreThanOneAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the stand-in takes over 64 MiB of mail first")
	}
	ctx := context.Background()
	sb := sandboxtest.New(t, loadScenario(t))
	ses := sesv2.NewFromConfig(sb.Config())
	const sender, to = "iam-key-rotator@example.com", "alice@example.com"
	// Three messages of about 24 MiB (18 MiB of attachment in base64): each under SES's 40 MB,
	// together over one answer.
	var ids []string
	total := 0
	for i := range 3 {
		raw := rawEmail(sender, to, fmt.Sprintf("archive %d", i), "The archive is attached.", "archive.bin", make([]byte, 18<<20))
		total += len(raw)
		out, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String(sender),
			Destination: &sesv2types.Destination{ToAddresses: []string{to}},
			Content:     &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}}})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}
	if total <= sandbox.MaxAnswerBytes {
		t.Fatalf("%d bytes of mail: not more than one answer (%d)", total, sandbox.MaxAnswerBytes)
	}
	simple, err := ses.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String(sender),
		Destination: &sesv2types.Destination{ToAddresses: []string{to}},
		Content: &sesv2types.EmailContent{Simple: &sesv2types.Message{Subject: &sesv2types.Content{Data: aws.String("plain")},
			Body: &sesv2types.Body{Text: &sesv2types.Content{Data: aws.String("a simple message")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, aws.ToString(simple.MessageId))
	prod, err := sb.AccountID("prod")
	if err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::" + prod + ":role/" + sb.Seeded.Settings.Rotator.MemberRoleName
	if _, err := sts.NewFromConfig(sb.Config()).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role),
		RoleSessionName: aws.String("after-the-mail")}); err != nil {
		t.Fatal(err)
	}
	client := sns.NewFromConfig(sb.Config())
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("rotation-failures")})
	if err != nil {
		t.Fatal(err)
	}
	published, err := client.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("after the mail")})
	if err != nil {
		t.Fatal(err)
	}

	emails, err := sb.SentEmails(ctx)
	if err != nil {
		t.Errorf("SentEmails: %v", err)
	}
	var got []string
	for _, e := range emails {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("SentEmails: %v, want the raw messages then the simple one %v", got, ids)
	}
	if len(emails) == len(ids) && (len(emails[2].Attachments) != 1 || len(emails[2].Attachments[0].Data) != 18<<20 || emails[3].Text != "a simple message") {
		t.Errorf("SentEmails: the last raw message or the simple one not read back whole")
	}
	roles, err := sb.AssumedRoles(ctx)
	if err != nil {
		t.Errorf("AssumedRoles: %v", err)
	}
	if !slices.ContainsFunc(roles, func(r sandboxtest.AssumedRole) bool { return r.SessionName == "after-the-mail" && r.RoleARN == role }) {
		t.Errorf("AssumedRoles: no session after-the-mail of %s among %d", role, len(roles))
	}
	msgs, err := sb.SNSMessages(ctx)
	if err != nil {
		t.Fatalf("SNSMessages: %v", err)
	}
	if len(msgs) != 1 || msgs[0].MessageID != aws.ToString(published.MessageId) || msgs[0].Message != "after the mail" {
		t.Errorf("SNSMessages: %+v, want the one published", msgs)
	}
}

// TestModelInstancesArePagedInOrder: GET /keyrotator/model gives the instances of one of
// moto's models (here STS's assumed roles) in the order made, a page at a time, with the
// attributes data.json gives them; a model moto lacks is a 404.
func TestModelInstancesArePagedInOrder(t *testing.T) {
	ctx := context.Background()
	sb := sandboxtest.New(t, loadScenario(t))
	prod, err := sb.AccountID("prod")
	if err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::" + prod + ":role/" + sb.Seeded.Settings.Rotator.MemberRoleName
	client := sts.NewFromConfig(sb.Config())
	for i := range 5 {
		if _, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role),
			RoleSessionName: aws.String(fmt.Sprintf("paged-%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	type assumed struct {
		SessionName string `json:"session_name"`
		RoleARN     string `json:"role_arn"`
	}
	all, err := sandbox.ModelInstances[assumed](ctx, sb.URL, "sts", "AssumedRole")
	if err != nil {
		t.Fatal(err)
	}
	var paged []assumed
	for from := 0; from < len(all); {
		p, err := sandbox.ModelInstancesPage[assumed](ctx, sb.URL, "sts", "AssumedRole", from, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Instances) > 2 || p.Total != len(all) {
			t.Fatalf("page from %d: %d instances of %d, want at most 2 of %d", from, len(p.Instances), p.Total, len(all))
		}
		paged = append(paged, p.Instances...)
		from = p.Next
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages of 2: %v, want %v", paged, all)
	}
	var last []string
	for _, r := range all[max(0, len(all)-5):] {
		if r.RoleARN == role {
			last = append(last, r.SessionName)
		}
	}
	if want := []string{"paged-0", "paged-1", "paged-2", "paged-3", "paged-4"}; !slices.Equal(last, want) {
		t.Errorf("the last 5 assumed roles: %v, want %v of %s in order", last, want, role)
	}
	if _, err := sandbox.ModelInstances[assumed](ctx, sb.URL, "sts", "NoSuchModel"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a model moto lacks: err = %v, want a 404", err)
	}
}
