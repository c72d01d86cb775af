package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

const demoScenario = "../scenarios/demo.json"

// binDir holds the Lambdas, built once for the package by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyrotator-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := runner.Build(context.Background(), "", dir); err != nil {
		fmt.Fprintf(os.Stderr, "build the Lambdas: %v\n", err)
		os.Exit(1)
	}
	binDir = dir
	file, err := permissions.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	audit = permissions.NewAudit(file)
	code := m.Run()
	os.RemoveAll(dir)
	if testing.Verbose() {
		fmt.Printf("checkAlerts: %d SNS messages held to the Chatbot custom-notification schema\n", alertsChecked.Load())
	}
	// Only the whole suite reaches every permission: a filtered run is not checked for
	// unused ones.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" && !testing.Short() {
		if findings := audit.Findings(unreachable, refusals); len(findings) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the calls of the Lambdas and the state machine in the e2e suite against the synthesized policies (%s; fix them in infra/stacks, then `make policies`):\n  %s\n",
				permissions.FileName, strings.Join(findings, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// audit checks every call the Lambdas make in the suite's runs against the policies the CDK
// app synthesizes for their roles (sandbox/permissions).
var audit *permissions.Audit

// unreachable are the granted actions that no code of the rotator calls, each with why it
// is granted all the same.
var unreachable = permissions.Unreachable{
	"logs:CreateLogStream":     "the Lambda service writes a function's logs with its role; the stand-in has no Lambda service",
	"logs:PutLogEvents":        "the Lambda service writes a function's logs with its role; the stand-in has no Lambda service",
	"xray:PutTraceSegments":    "active tracing: the Lambda service and Step Functions send the function's or the state machine's traces with its role",
	"xray:PutTelemetryRecords": "active tracing: the Lambda service and Step Functions send the function's or the state machine's traces with its role",
	// pkg/scan's unit tests cover the fallback.
	"iam:ListUsers": "the member role's scan falls back to listing users only when IAM cannot produce a credential report; the stand-in always produces one",
	// The state machine's role: what Step Functions itself does with it, which the local
	// runner does not (the role's grants follow the Step Functions developer guide).
	"logs:CreateLogDelivery":        stateMachineLogs,
	"logs:DeleteLogDelivery":        stateMachineLogs,
	"logs:DescribeLogGroups":        stateMachineLogs,
	"logs:DescribeResourcePolicies": stateMachineLogs,
	"logs:GetLogDelivery":           stateMachineLogs,
	"logs:ListLogDeliveries":        stateMachineLogs,
	"logs:PutResourcePolicy":        stateMachineLogs,
	"logs:UpdateLogDelivery":        stateMachineLogs,
	"xray:GetSamplingRules":         "active tracing: Step Functions samples the state machine's traces with its role",
	"xray:GetSamplingTargets":       "active tracing: Step Functions samples the state machine's traces with its role",
	"s3:AbortMultipartUpload":       resultWriterUploads,
	"s3:ListMultipartUploadParts":   resultWriterUploads,
	"states:DescribeExecution":      mapRunChildren,
	"states:StopExecution":          mapRunChildren,
}

const (
	stateMachineLogs    = "Step Functions delivers the state machine's logs to CloudWatch Logs with its role; the local runner keeps them itself"
	resultWriterUploads = "a Distributed Map's ResultWriter writes a large result file as a multipart upload; the local runner writes each file with one PutObject"
	mapRunChildren      = "a Map Run follows and stops the child executions it started (the developer guide grants both on the state machine's executions too); the local runner runs its children in process"
)

// refusals are the calls the rotator is denied by design, as on AWS, and reads the denial of.
var refusals = permissions.Refusals{
	"secretsmanager:DescribeSecret": "the member role may describe only secrets with the tag key key-rotator:user: " +
		"pkg/appsecret reads the AccessDenied for any other secret as its refusal (TestE2EDeliveryToSecret's ci/reporter)",
	"ssm:ListTagsForResource": "the member roles may list the tags only of SSM parameters with the tag key key-rotator:user: " +
		"pkg/appsecret reads the AccessDenied for any other parameter as its refusal (TestE2EDeliveryToParameter's /ci/reporter)",
}

// runAudited runs the workflow and checks the calls its Lambdas made (audit).
func runAudited(t *testing.T, opts runner.Options) *runner.Execution {
	t.Helper()
	ex, err := runner.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("run %s: %v", opts.Input, err)
	}
	audit.Add(ex.Resources.Bindings, ex.Calls)
	return ex
}

// org is a seeded stand-in and the rotator settings it serves.
type org struct {
	sb       *sandboxtest.Sandbox
	settings runner.Settings
	// out holds the runs' output directories for the whole test, subtests included.
	out  string
	runs int
}

// reportHoursAgo is the age of the credential reports the suite's stand-ins serve: as on
// AWS, a report is regenerated at most every 4 hours, so runs read one older than their
// own writes (Organizations answering with State only is the stand-in's default).
const reportHoursAgo = 3

// strict makes a scenario's stand-in as strict as AWS, unless the scenario says otherwise:
// credential reports reportHoursAgo old, IAM authorization enforced (the Lambdas under their
// synthesized policies), and SES in its sandbox, which delivers only to the verified
// recipients (the scenario's owner and support addresses), at most sesSendRate messages a
// second (and GetAccount reports that quota, which the run's send slots then keep).
func strict(sc *sandbox.Scenario) {
	if sc.CredentialReportHoursAgo == nil {
		sc.CredentialReportHoursAgo = aws.Int(reportHoursAgo)
	}
	sc.EnforceIAM = true
	if sc.SESSandbox == nil {
		sc.SESSandbox = &sandbox.SESSandbox{VerifiedRecipients: recipients(sc), MaxSendRate: sesSendRate}
	}
}

// sesSendRate is the SES sandbox's rate in the suite: AWS's, 1 message per second.
const sesSendRate = 1

// recipients are the addresses of the scenario's owners (the values of the default email
// tags that are addresses) and the support address, sorted.
func recipients(sc *sandbox.Scenario) []string {
	set := map[string]bool{sc.SupportEmail: true}
	for _, a := range append([]sandbox.Account{sc.ManagementAccount}, sc.Accounts...) {
		for _, u := range a.Users {
			for _, key := range policy.DefaultEmailTagKeys {
				if addr, err := netmail.ParseAddress(u.Tags[key]); err == nil && addr.Address == u.Tags[key] {
					set[addr.Address] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func start(t *testing.T, scenario string) *org {
	t.Helper()
	if wait := waitForADay(time.Now(), testDayRoom); wait > 0 {
		t.Logf("waiting %s for UTC midnight to pass: the test's runs must share a UTC day", wait.Round(time.Second))
		time.Sleep(wait)
	}
	sc, err := sandbox.LoadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	strict(sc)
	sb := sandboxtest.New(t, sc)
	checkAlerts(t, sb)
	s, err := sb.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &org{sb: sb, settings: runner.SettingsFrom(s), out: t.TempDir()}
}

// testDayRoom is the time a test's runs take, at most: they read the wall clock, and its
// same-day re-runs would meet a new UTC day, and act, if midnight fell between them. (A later
// day is made by moving the stand-in's state back: sandboxtest.Advance.)
const testDayRoom = 10 * time.Minute

// waitForADay is how long a test starting at now waits so that room fits before UTC midnight:
// zero, or until just past midnight.
func waitForADay(now time.Time, room time.Duration) time.Duration {
	midnight := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if left := midnight.Sub(now); left < room {
		return left + time.Second
	}
	return 0
}

// run executes the workflow once with input and writes its output directory, as
// `keyrotator run` does.
func (o *org) run(t *testing.T, input string) (*runner.Execution, string) {
	t.Helper()
	o.runs++
	dir := filepath.Join(o.out, fmt.Sprintf("run%d", o.runs))
	ex := runAudited(t, runner.Options{Endpoint: o.sb.URL, Input: json.RawMessage(input),
		Settings: o.settings, BinDir: binDir, RetryInterval: 50 * time.Millisecond})
	if err := ex.Write(dir); err != nil {
		t.Fatal(err)
	}
	return ex, dir
}

// resources creates the rotator's resources on o's stand-in, as a run does.
func (o *org) resources(t *testing.T) runner.Resources {
	t.Helper()
	res, err := runner.EnsureResources(context.Background(), o.sb.URL, o.settings)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustSucceed(t *testing.T, ex *runner.Execution) {
	t.Helper()
	if !ex.Succeeded() {
		t.Fatalf("execution %s %s: %s %s", ex.Name, ex.Status, ex.Error, ex.Cause)
	}
}

func (o *org) id(t *testing.T, name string) string {
	t.Helper()
	id, err := o.sb.AccountID(name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// state reads the users and keys of the named accounts (all seeded ones when none).
func (o *org) state(t *testing.T, names ...string) map[string][]sandboxtest.User {
	t.Helper()
	if len(names) == 0 {
		for _, a := range o.sb.Seeded.Settings.Accounts {
			names = append(names, a.Name)
		}
	}
	out := map[string][]sandboxtest.User{}
	for _, name := range names {
		users, err := o.sb.Users(context.Background(), name)
		if err != nil {
			t.Fatalf("read account %s: %v", name, err)
		}
		out[name] = users
	}
	return out
}

// keyState is what the tests compare of a key: its ID ("new" for a key made by the run)
// and status.
type keyState struct{ ID, Status string }

func observed(before, after []sandboxtest.User) map[string][]keyState {
	known := map[string]bool{}
	for _, u := range before {
		for _, k := range u.Keys {
			known[k.AccessKeyID] = true
		}
	}
	out := map[string][]keyState{}
	for _, u := range after {
		keys := []keyState{}
		for _, k := range u.Keys {
			id := k.AccessKeyID
			if !known[id] {
				id = "new"
			}
			keys = append(keys, keyState{id, k.Status})
		}
		slices.SortFunc(keys, func(a, b keyState) int { return strings.Compare(a.ID+a.Status, b.ID+b.Status) })
		out[u.Name] = keys
	}
	return out
}

// toPolicy gives the policy the users as ScanAndRotate sees them in run: keys and tags, the
// history the tags record (history.Apply), and as undelivered each key whose hand-off secret
// the run does not confirm (not sent, sent today, or a dry run, which confirms nothing).
func toPolicy(users []sandboxtest.User, pending map[string]handoff.Pending, run workflow.Run, cfg policy.Config) []policy.User {
	out := make([]policy.User, 0, len(users))
	for _, u := range users {
		pu := policy.User{UserName: u.Name, Tags: maps.Clone(u.Tags), Keys: []policy.Key{}}
		for _, k := range u.Keys {
			p, stored := pending[k.AccessKeyID]
			confirmed := stored && !p.Sent.IsZero() && !history.SameDay(p.Sent, run.Now) && !run.DryRun
			pu.Keys = append(pu.Keys, policy.Key{AccessKeyID: k.AccessKeyID, Status: policy.KeyStatus(k.Status),
				CreateDate: k.CreateDate, LastUsedDate: k.LastUsedDate, Undelivered: stored && !confirmed})
		}
		email, _ := policy.OwnerEmail(pu.Tags, cfg.WithDefaults())
		history.Apply(&pu, run.Now, email)
		out = append(out, pu)
	}
	return out
}

// predict runs the policy (what `keyrotator plan` runs) on an account's users, with the
// hand-off secrets there were before run, and returns the plan and the keys it leaves each
// user with.
func predict(t *testing.T, users []sandboxtest.User, pending map[string]handoff.Pending, cfg policy.Config, run workflow.Run) (policy.Plan, map[string][]keyState) {
	t.Helper()
	plan, err := policy.PlanUsers(toPolicy(users, pending, run, cfg), cfg, run.Now)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	keys := observed(users, users)
	for _, p := range plan.Users {
		for _, a := range p.Actions {
			ks := keys[p.UserName]
			switch a.Action {
			case policy.CreateKey:
				ks = append(ks, keyState{"new", "Active"})
			case policy.DeactivateKey:
				for i := range ks {
					if ks[i].ID == a.AccessKeyID {
						ks[i].Status = "Inactive"
					}
				}
			case policy.DeleteKey:
				ks = slices.DeleteFunc(ks, func(k keyState) bool { return k.ID == a.AccessKeyID })
			}
			slices.SortFunc(ks, func(a, b keyState) int { return strings.Compare(a.ID+a.Status, b.ID+b.Status) })
			keys[p.UserName] = ks
		}
	}
	return plan, keys
}

func (o *org) policyConfig(cleanup bool) policy.Config {
	return policy.Config{AllowedEmailDomains: o.settings.Policy.AllowedEmailDomains, Cleanup: cleanup}.WithDefaults()
}

// checkAccountAsPlanned: the account's keys after the run are what the policy predicts from
// its keys and the hand-off secrets before, and the report lists exactly the plan's actions,
// done (or not, in a dry run) — per user.
func checkAccountAsPlanned(t *testing.T, ex *runner.Execution, name string, before, after []sandboxtest.User, pending map[string]handoff.Pending, cfg policy.Config) {
	t.Helper()
	if ex.Report == nil {
		t.Fatalf("no report for %s", ex.Name)
	}
	plan, want := predict(t, before, pending, cfg, ex.Report.Run)
	if ex.Report.Run.DryRun {
		want = observed(before, before)
	}
	if got := observed(before, after); !reflect.DeepEqual(got, want) {
		for user := range want {
			if !reflect.DeepEqual(got[user], want[user]) {
				t.Errorf("%s/%s: keys after the run %v, the policy predicts %v", name, user, got[user], want[user])
			}
		}
	}
	var result *workflow.AccountResult
	for i, a := range ex.Report.Accounts {
		if a.Account.Name == name {
			result = &ex.Report.Accounts[i]
		}
	}
	if result == nil {
		t.Fatalf("account %s is not in the report", name)
	}
	reported := map[string]workflow.UserResult{}
	for _, u := range result.Users {
		reported[u.UserName] = u
	}
	for _, p := range plan.Users {
		u := reported[p.UserName]
		if len(p.Actions) > 0 && u.Status != p.Status {
			t.Errorf("%s/%s: reported status %q, the policy says %q", name, p.UserName, u.Status, p.Status)
		}
		var got []string
		for _, a := range u.Actions {
			got = append(got, fmt.Sprintf("%s %s done=%v", a.Action.Action, a.AccessKeyID, a.Done))
			if a.Action.Action == policy.CreateKey && a.Done && a.NewAccessKeyID == "" {
				t.Errorf("%s/%s: CreateKey done without a new key ID", name, p.UserName)
			}
		}
		var wantActions []string
		for _, a := range p.Actions {
			wantActions = append(wantActions, fmt.Sprintf("%s %s done=%v", a.Action, a.AccessKeyID, !ex.Report.Run.DryRun))
		}
		if !slices.Equal(got, wantActions) {
			t.Errorf("%s/%s: reported actions %v, the policy plans %v", name, p.UserName, got, wantActions)
		}
	}
}

// checkAllAsPlanned checks every seeded account with checkAccountAsPlanned, except excluded
// ones, which must not have changed.
func (o *org) checkAllAsPlanned(t *testing.T, ex *runner.Execution, before, after map[string][]sandboxtest.User, pending map[string]handoff.Pending, cleanup bool) {
	t.Helper()
	for _, a := range o.sb.Seeded.Settings.Accounts {
		if a.Excluded {
			if !reflect.DeepEqual(before[a.Name], after[a.Name]) {
				t.Errorf("excluded account %s changed", a.Name)
			}
			continue
		}
		checkAccountAsPlanned(t, ex, a.Name, before[a.Name], after[a.Name], pending, o.policyConfig(cleanup))
	}
}

// handoffSecrets lists the hand-off secrets in the rotator's (management) account, scheduled
// for deletion or not: a delivered key's secret is deleted for good.
func (o *org) handoffSecrets(t *testing.T) []string {
	t.Helper()
	var names []string
	// Those scheduled for deletion included: NotifyUser schedules a secret once it sent its key.
	pages := secretsmanager.NewListSecretsPaginator(secretsmanager.NewFromConfig(o.sb.Config()), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		for _, sec := range page.SecretList {
			if strings.HasPrefix(aws.ToString(sec.Name), config.DefaultHandoffSecretPrefix) {
				names = append(names, aws.ToString(sec.Name))
			}
		}
	}
	return names
}

// pending reads the hand-off secrets of every seeded account, by new key ID: the keys whose
// delivery is not confirmed yet.
func (o *org) pending(t *testing.T) map[string]handoff.Pending {
	t.Helper()
	sm := secretsmanager.NewFromConfig(o.sb.Config())
	out := map[string]handoff.Pending{}
	for _, a := range o.sb.Seeded.Settings.Accounts {
		found, problems, err := handoff.List(context.Background(), sm, config.DefaultHandoffSecretPrefix, a.ID)
		if err != nil || len(problems) > 0 {
			t.Fatalf("hand-off secrets of %s: %v %v", a.Name, err, problems)
		}
		maps.Copy(out, found)
	}
	return out
}

// rotatorSessions returns the accounts the rotator assumed into during run (session names
// carry the run ID).
func (o *org) rotatorSessions(t *testing.T, run string) map[string]int {
	t.Helper()
	roles, err := o.sb.AssumedRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range roles {
		if r.SessionName == awsclient.SessionName("scan", run) {
			out[r.AccountID]++
		}
	}
	return out
}

// alertsChecked counts the SNS messages of the suite that checkAlerts checked.
var alertsChecked atomic.Int64

// checkAlerts checks, when the test ends, every message published on sb's topics: each must
// be a custom notification Chatbot renders and still read as text by email
// (sandboxtest.CheckAlert). Every test's stand-in is checked so, whatever it asserts itself.
func checkAlerts(t *testing.T, sb *sandboxtest.Sandbox) {
	t.Cleanup(func() { // before the stand-in stops: cleanups run last-registered first
		msgs, err := sb.SNSMessages(context.Background())
		if err != nil {
			t.Errorf("read the SNS messages: %v", err)
			return
		}
		for _, m := range msgs {
			alertsChecked.Add(1)
			if err := sandboxtest.CheckAlert(m); err != nil {
				t.Errorf("SNS message %q (%s) is not an alert Chatbot renders and email reads:\n%v\nmessage: %.2000s", m.Subject, m.MessageID, err, m.Message)
			}
		}
	})
}

func (o *org) snsMessages(t *testing.T) []sandboxtest.SNSMessage {
	t.Helper()
	msgs, err := o.sb.SNSMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// mail is an email of the run, parsed, with its file in the output directory.
type mail struct {
	sandboxtest.Email
	file string
}

func mails(t *testing.T, ex *runner.Execution, dir string) []mail {
	t.Helper()
	var out []mail
	for i, m := range ex.Emails {
		e, err := sandboxtest.ParseEmail(m.Raw)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "mail", fmt.Sprintf("%03d-*.eml", i+1)))
		if len(files) != 1 {
			t.Fatalf("email %d of %s: files %v in %s/mail", i+1, ex.Name, files, dir)
		}
		e.Destinations = m.Destinations
		out = append(out, mail{e, files[0]})
	}
	return out
}

// delivery is a new key as its owner received it. passwordFiles are the files of every
// password email of the key: NotifyUser sends at least once, so a retry after a send whose
// record was lost (a Lambda timeout, say) mails the same zip and password again.
type delivery struct {
	to, password, secret string
	passwordFiles        []string
}

// addDeliveries adds got to delivered; a key delivered again keeps the password emails of
// every delivery (the same zip and password, sent at least once).
func addDeliveries(delivered, got map[string]delivery) {
	for id, d := range got {
		d.passwordFiles = append(delivered[id].passwordFiles, d.passwordFiles...)
		delivered[id] = d
	}
}

var passwordLine = regexp.MustCompile(`(?m)^    (\S{20,})\s*$`)

// deliveries opens every credentials.zip of the run with the password from its second email,
// using 7-Zip, and returns them by access key ID.
func deliveries(t *testing.T, ms []mail) map[string]delivery {
	t.Helper()
	if _, err := exec.LookPath("7zz"); err != nil {
		t.Fatal("7zz not found: install 7-Zip (Debian: apt-get install 7zip; .ci/run does it)")
	}
	passwords := map[string][]mail{}
	for _, m := range ms {
		if strings.HasPrefix(m.Subject, "Password for the new AWS access key ") {
			id := strings.Fields(strings.TrimPrefix(m.Subject, "Password for the new AWS access key "))[0]
			passwords[id] = append(passwords[id], m)
		}
	}
	out := map[string]delivery{}
	for _, m := range ms {
		for _, a := range m.Attachments {
			if a.Filename != "credentials.zip" {
				continue
			}
			id := strings.Fields(strings.TrimPrefix(m.Subject, "New AWS access key "))[0]
			pms := passwords[id]
			if len(pms) == 0 {
				t.Errorf("key %s: zip sent to %v without a password email", id, m.Destinations)
				continue
			}
			found := passwordLine.FindStringSubmatch(pms[0].Text)
			var files []string
			for _, pm := range pms {
				again := passwordLine.FindStringSubmatch(pm.Text)
				if found == nil || again == nil || again[1] != found[1] || !slices.Equal(pm.Destinations, m.Destinations) {
					t.Errorf("key %s: password email %s to %v without the key's password line (zip to %v)", id, pm.file, pm.Destinations, m.Destinations)
				}
				files = append(files, pm.file)
			}
			if found == nil {
				continue
			}
			zipFile := filepath.Join(t.TempDir(), "credentials.zip")
			if err := os.WriteFile(zipFile, a.Data, 0o600); err != nil {
				t.Fatal(err)
			}
			list, err := exec.Command("7zz", "l", "-slt", "-p"+found[1], zipFile).CombinedOutput()
			if err != nil || !strings.Contains(string(list), "Method = AES-256") {
				t.Errorf("key %s: 7zz l: %v; want AES-256 entries", id, err)
			}
			content, err := exec.Command("7zz", "x", "-so", "-p"+found[1], zipFile, "credentials.csv").Output()
			if err != nil {
				t.Errorf("key %s: the zip does not open with the mailed password: %v", id, err)
				continue
			}
			rows, err := csv.NewReader(bytes.NewReader(content)).ReadAll()
			if err != nil || len(rows) != 2 || rows[1][0] != id || len(rows[1][1]) < 40 {
				t.Errorf("key %s: credentials.csv holds %d rows (%v), want the header and the key", id, len(rows), err)
				continue
			}
			out[id] = delivery{to: m.Destinations[0], password: found[1], passwordFiles: files, secret: rows[1][1]}
		}
	}
	return out
}

// checkDelivered: every key the report says was created reached its owner, and is the key
// IAM now holds for that user.
func checkDelivered(t *testing.T, ex *runner.Execution, got map[string]delivery, state map[string][]sandboxtest.User) {
	t.Helper()
	created := 0
	for _, a := range ex.Report.Accounts {
		users := map[string]sandboxtest.User{}
		for _, u := range state[a.Account.Name] {
			users[u.Name] = u
		}
		for _, u := range a.Users {
			for _, act := range u.Actions {
				if act.Action.Action != policy.CreateKey || !act.Done {
					continue
				}
				created++
				d, ok := got[act.NewAccessKeyID]
				if !ok {
					t.Errorf("%s/%s: new key %s was not delivered", a.Account.Name, u.UserName, act.NewAccessKeyID)
					continue
				}
				email := users[u.UserName].Tags["EmailID"]
				if email == "" {
					email = users[u.UserName].Tags["Email"]
				}
				if d.to != email {
					t.Errorf("%s/%s: key %s delivered to %s, owner is %s", a.Account.Name, u.UserName, act.NewAccessKeyID, d.to, email)
				}
				if !slices.ContainsFunc(users[u.UserName].Keys, func(k sandboxtest.Key) bool {
					return k.AccessKeyID == act.NewAccessKeyID && k.Status == "Active"
				}) {
					t.Errorf("%s/%s: delivered key %s is not an active key of the user", a.Account.Name, u.UserName, act.NewAccessKeyID)
				}
			}
		}
	}
	if created != len(got) {
		t.Errorf("%d keys created, %d delivered", created, len(got))
	}
}

// checkNoLeak searches every file of the output directory, the decoded text of every email,
// the report bucket and the SNS messages for every secret access key and zip password:
// secrets may exist only inside the encrypted zips, a password only in its own email.
func (o *org) checkNoLeak(t *testing.T, dirs []string, ms []mail, got map[string]delivery) {
	t.Helper()
	type needle struct {
		what, value  string
		allowedFiles []string // where value belongs: the key's password emails
	}
	var needles []needle
	for _, k := range o.sb.Seeded.Keys {
		needles = append(needles, needle{"seeded secret of " + k.AccessKeyID, k.Secret.Reveal(), nil})
	}
	for id, d := range got {
		needles = append(needles, needle{"secret of new key " + id, d.secret, nil},
			needle{"zip password of " + id, d.password, d.passwordFiles})
	}
	haystacks := map[string][]byte{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			haystacks[path] = data
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		haystacks[m.file+" (decoded text)"] = []byte(m.Text + m.HTML + m.Subject)
	}
	bucket := o.sb.Seeded.Settings.ManagementAccountID
	objs, err := o.sb.S3Objects(context.Background(), "keyrotator-reports-"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		haystacks["s3://"+obj.Key] = obj.Body
	}
	for i, m := range o.snsMessages(t) {
		haystacks[fmt.Sprintf("SNS message %d", i)] = []byte(m.Subject + m.Message)
	}
	// The local GitHub's request log: what a proxy in front of GitHub would see of the
	// rotator's calls (the sealed values travel in bodies, which no log keeps).
	if gh := o.sb.GitHub(); gh != nil {
		var log strings.Builder
		for _, r := range gh.Log() {
			fmt.Fprintf(&log, "%s %s %d\n", r.Method, r.Path, r.Status)
		}
		haystacks["the local GitHub's request log"] = []byte(log.String())
	}
	if len(needles) < len(o.sb.Seeded.Keys) || len(haystacks) == 0 {
		t.Fatal("nothing to search")
	}
	for _, n := range needles {
		if n.value == "" {
			continue // a key delivered to a secret has no zip password
		}
		for where, data := range haystacks {
			if bytes.Contains(data, []byte(n.value)) && !slices.Contains(n.allowedFiles, strings.TrimSuffix(where, " (decoded text)")) {
				t.Errorf("%s found in %s", n.what, where)
			}
		}
	}
}

// TestE2EDemoOrganization runs the workflow end to end on the demo organization, in the
// order an operator would: a dry run, bad inputs, a single-account run, the daily run,
// re-runs the same day, and the next day's run, which confirms the deliveries and carries out
// what had to wait a day.
func TestE2EDemoOrganization(t *testing.T) {
	t.Parallel()
	o := start(t, demoScenario)
	excluded := o.sb.Seeded.Settings.Rotator.ExcludeAccounts
	if len(excluded) != 1 {
		t.Fatalf("the demo scenario excludes %v, want one account", excluded)
	}
	var allMails []mail
	delivered := map[string]delivery{} // every key delivered so far

	t.Run("dry run: no write, no owner email, a report of what would happen", func(t *testing.T) {
		before, pending := o.state(t), o.pending(t)
		ex, dir := o.run(t, `{"dryRun":true}`)
		mustSucceed(t, ex)
		after := o.state(t)
		if !reflect.DeepEqual(before, after) {
			t.Error("the dry run changed IAM")
		}
		o.checkAllAsPlanned(t, ex, before, after, pending, false)
		if ex.Report.Totals.KeysCreated == 0 || ex.Report.Totals.KeysDeleted == 0 {
			t.Errorf("the dry run's report says nothing would happen: %+v", ex.Report.Totals)
		}
		for _, m := range mails(t, ex, dir) {
			if !slices.Equal(m.Destinations, []string{o.settings.SupportEmail}) {
				t.Errorf("dry run sent %q to %v", m.Subject, m.Destinations)
			}
		}
	})

	t.Run("bad input fails with InvalidInput, changes nothing, tells SNS", func(t *testing.T) {
		for _, input := range []string{`{"accounts":["12345"]}`, `{"acounts":[]}`, `{"accounts":["` + excluded[0] + `"]}`,
			// Inputs that once ran for real, or over the whole organization: each is refused now.
			`{"dryRun":null}`, `{"accounts":null}`, `{"dryRun":true,"DRYRUN":false}`, `{"cleanup":true}`,
			// The one-time cleanup, confirmed, before any canary run went right.
			`{"cleanup":true,"confirmCleanup":"` + workflow.CleanupConfirmation + `"}`} {
			before, sns := o.state(t), len(o.snsMessages(t))
			ex, _ := o.run(t, input)
			if ex.Status != "FAILED" || ex.Error != "InvalidInput" {
				t.Errorf("input %s: %s %s %s, want FAILED InvalidInput", input, ex.Status, ex.Error, ex.Cause)
			}
			if !reflect.DeepEqual(before, o.state(t)) {
				t.Errorf("input %s changed IAM", input)
			}
			if len(ex.Emails) != 0 || ex.Report != nil {
				t.Errorf("input %s: %d emails, report %v", input, len(ex.Emails), ex.Report != nil)
			}
			if sessions := o.rotatorSessions(t, ex.Name); len(sessions) != 0 {
				t.Errorf("input %s: the rotator assumed into %v", input, sessions)
			}
			msgs := o.snsMessages(t)
			if len(msgs) != sns+1 || !strings.Contains(msgs[len(msgs)-1].For("email"), "InvalidInput") ||
				!strings.Contains(msgs[len(msgs)-1].For("email"), ex.Name) {
				t.Errorf("input %s: SNS messages %d → %d, want one naming InvalidInput and the execution", input, sns, len(msgs))
			}
		}
	})

	t.Run("single-account run touches only that account", func(t *testing.T) {
		dev := o.id(t, "dev")
		before, pending := o.state(t), o.pending(t)
		ex, dir := o.run(t, `{"accounts":["`+dev+`"]}`)
		mustSucceed(t, ex)
		if len(ex.Report.Accounts) != 1 {
			t.Errorf("report of %d accounts, want dev only", len(ex.Report.Accounts))
		}
		after := o.state(t)
		checkAccountAsPlanned(t, ex, "dev", before["dev"], after["dev"], pending, o.policyConfig(false))
		for name := range before {
			if name != "dev" && !reflect.DeepEqual(before[name], after[name]) {
				t.Errorf("account %s changed in a run of dev only", name)
			}
		}
		if sessions := o.rotatorSessions(t, ex.Name); len(sessions) != 1 || sessions[dev] == 0 {
			t.Errorf("the rotator assumed into %v, want dev (%s) only", sessions, dev)
		}
		ms := mails(t, ex, dir)
		allMails = append(allMails, ms...)
		got := deliveries(t, ms)
		checkDelivered(t, ex, got, after)
		addDeliveries(delivered, got)
	})

	var daily map[string]delivery
	t.Run("daily run: every account as the policy predicts, keys delivered, excluded untouched", func(t *testing.T) {
		// Later that day: the single-account run's key creations have settled (a user whose
		// key creation is younger than 5 minutes waits for the next run).
		o.advance(t, 10*time.Minute)
		before, pending := o.state(t), o.pending(t)
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		after := o.state(t)
		o.checkAllAsPlanned(t, ex, before, after, pending, false)
		if ex.Report.Totals.Failures != 0 {
			t.Errorf("the daily run reports %d failures", ex.Report.Totals.Failures)
		}
		sessions := o.rotatorSessions(t, ex.Name)
		if sessions[excluded[0]] != 0 || len(sessions) != len(o.sb.Seeded.Settings.Accounts)-1 {
			t.Errorf("the rotator assumed into %v; want every account but the excluded %s", sessions, excluded[0])
		}
		ms := mails(t, ex, dir)
		allMails = append(allMails, ms...)
		daily = deliveries(t, ms)
		checkDelivered(t, ex, daily, after)
		if ex.Report.Totals.KeysCreated == 0 || len(daily) != ex.Report.Totals.KeysCreated {
			t.Errorf("%d keys created, %d delivered", ex.Report.Totals.KeysCreated, len(daily))
		}
		addDeliveries(delivered, daily)
		// SES accepting the emails is not their delivery: each key delivered today keeps its
		// secret, marked sent, until a run of a later day confirms the delivery.
		o.checkAwaitingConfirmation(t, ex.Report.Run.Now, delivered)
	})

	t.Run("re-runs the same day: no key written, no owner email", func(t *testing.T) {
		// Past the 5 minutes a key creation is given to settle, the first re-run sweeps the
		// creations' pending marks (no orphan found); that is all it writes.
		o.advance(t, 10*time.Minute)
		before := o.state(t)
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		after := o.state(t)
		for name, users := range before {
			for i, u := range users {
				delete(u.Tags, history.PendingTag)
				if !reflect.DeepEqual(u, after[name][i]) {
					t.Errorf("%s/%s: a re-run the same day changed %+v into %+v (only the pending mark may go)", name, u.Name, u, after[name][i])
				}
			}
		}
		quiet := func(which string, ex *runner.Execution, dir string) {
			tot := ex.Report.Totals
			if tot.KeysCreated+tot.KeysDeactivated+tot.KeysDeleted+tot.Notices+tot.Failures != 0 {
				t.Errorf("%s the same day reports %+v", which, tot)
			}
			for _, m := range mails(t, ex, dir) {
				if !slices.Equal(m.Destinations, []string{o.settings.SupportEmail}) {
					t.Errorf("%s the same day sent %q to %v", which, m.Subject, m.Destinations)
				}
			}
		}
		quiet("a re-run", ex, dir)
		// A second re-run has nothing at all left to write.
		before = o.state(t)
		ex, dir = o.run(t, `{}`)
		mustSucceed(t, ex)
		if !reflect.DeepEqual(before, o.state(t)) {
			t.Error("a second re-run the same day changed IAM")
		}
		quiet("a second re-run", ex, dir)
		o.checkAwaitingConfirmation(t, ex.Report.Run.Now, delivered)
	})

	t.Run("next day: deliveries confirmed, what waited a day done, as the policy predicts", func(t *testing.T) {
		o.advance(t, 24*time.Hour)
		before, pending := o.state(t), o.pending(t)
		if len(pending) != len(delivered) {
			t.Fatalf("%d hand-off secrets before the next day's run, want the %d delivered keys'", len(pending), len(delivered))
		}
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		after := o.state(t)
		o.checkAllAsPlanned(t, ex, before, after, pending, false)
		if ex.Report.Totals.Failures != 0 {
			t.Errorf("the next day's run reports %d failures", ex.Report.Totals.Failures)
		}
		ms := mails(t, ex, dir)
		allMails = append(allMails, ms...)
		got := deliveries(t, ms)
		checkDelivered(t, ex, got, after)
		for id := range got {
			if _, again := delivered[id]; again {
				t.Errorf("key %s, delivered yesterday, was sent again", id)
			}
		}
		// Yesterday's deliveries did not bounce: their secrets are gone; today's wait.
		o.checkAwaitingConfirmation(t, ex.Report.Run.Now, got)
		addDeliveries(delivered, got)

		// What the first day left for today: xena's key, first seen inactive yesterday, is
		// deleted now; judy's inactive key makes room for her new key.
		if xena := userNamed(t, after["staging"], "xena"); len(xena.Keys) != 0 {
			t.Errorf("xena's inactive key, first seen yesterday, was not deleted: %+v", xena.Keys)
		}
		judy := observed(before["prod"], after["prod"])["judy"]
		if !slices.Contains(judy, keyState{"new", "Active"}) || slices.ContainsFunc(judy, func(k keyState) bool { return k.Status == "Inactive" }) {
			t.Errorf("judy's keys %v: want her inactive key deleted to make room for a new one", judy)
		}
	})

	t.Run("no secret access key or zip password outside the zip and its password email", func(t *testing.T) {
		if len(daily) == 0 {
			t.Fatal("no delivered keys to look for")
		}
		o.checkNoLeak(t, []string{o.out}, allMails, delivered)
	})
}

// advance makes it d later for the stand-in (sandboxtest.Sandbox.Advance).
func (o *org) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if err := o.sb.Advance(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// checkAwaitingConfirmation: the hand-off secrets are exactly those of the keys given, each
// marked sent on the day of now: a delivery is confirmed, and its secret deleted, by a run of
// a later day.
func (o *org) checkAwaitingConfirmation(t *testing.T, now time.Time, keys map[string]delivery) {
	t.Helper()
	pending := o.pending(t)
	if !slices.Equal(slices.Sorted(maps.Keys(pending)), slices.Sorted(maps.Keys(keys))) {
		t.Errorf("hand-off secrets of keys %v, want those of the keys delivered today %v",
			slices.Sorted(maps.Keys(pending)), slices.Sorted(maps.Keys(keys)))
	}
	for id, p := range pending {
		if !history.SameDay(p.Sent, now) {
			t.Errorf("hand-off secret %s: sent %v, want a mark of today", p.SecretName, p.Sent)
		}
		if _, ok := keys[id]; !ok {
			t.Errorf("hand-off secret %s is left for a key not delivered today", p.SecretName)
		}
	}
}

func userNamed(t *testing.T, users []sandboxtest.User, name string) sandboxtest.User {
	t.Helper()
	i := slices.IndexFunc(users, func(u sandboxtest.User) bool { return u.Name == name })
	if i < 0 {
		t.Fatalf("no user %s", name)
	}
	return users[i]
}

// TestE2ECleanupMode: the one-time initial cleanup on a fresh organization, confirmed, after
// a canary run of one account, applies rule 7 only, emails no owner, and sends the support
// team the consolidated report.
func TestE2ECleanupMode(t *testing.T) {
	t.Parallel()
	o := start(t, demoScenario)
	// The canary the cleanup waits for: one account's daily run, every owner notified.
	canary, _ := o.run(t, `{"accounts":["`+o.id(t, "dev")+`"]}`)
	mustSucceed(t, canary)
	before, pending := o.state(t), o.pending(t)
	ex, dir := o.run(t, `{"cleanup":true,"confirmCleanup":"`+workflow.CleanupConfirmation+`"}`)
	mustSucceed(t, ex)
	if !ex.Report.Run.Cleanup {
		t.Fatal("the report is not a cleanup run's")
	}
	after := o.state(t)
	o.checkAllAsPlanned(t, ex, before, after, pending, true)
	if ex.Report.Totals.KeysCreated != 0 || ex.Report.Totals.KeysDeleted+ex.Report.Totals.KeysDeactivated == 0 {
		t.Errorf("cleanup totals %+v: want deletions or deactivations and no new key", ex.Report.Totals)
	}
	ms := mails(t, ex, dir)
	if len(ms) != 1 || !slices.Equal(ms[0].Destinations, []string{o.settings.SupportEmail}) {
		t.Fatalf("cleanup sent %d emails, want only the support report", len(ms))
	}
	if !slices.ContainsFunc(ms[0].Attachments, func(a sandboxtest.Attachment) bool {
		return bytes.Equal(a.Data, ex.ReportCSV)
	}) {
		t.Error("the support email does not carry the run's report.csv")
	}
	o.checkNoLeak(t, []string{dir}, ms, nil)
}

// TestE2EAccountWithoutMemberRole: an account the rotator cannot assume into is reported
// failed and SNS is told, while the other accounts are processed; with summaryToTopic the
// run's summary follows the alert on the topic.
func TestE2EAccountWithoutMemberRole(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/no-member-role.json")
	o.settings.SummaryToTopic = true
	orphan := o.id(t, "orphan")
	before, pending := o.state(t, "management", "prod"), o.pending(t)
	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	after := o.state(t, "management", "prod")
	checkAccountAsPlanned(t, ex, "prod", before["prod"], after["prod"], pending, o.policyConfig(false))
	checkAccountAsPlanned(t, ex, "management", before["management"], after["management"], pending, o.policyConfig(false))
	var failed []string
	for _, a := range ex.Report.Accounts {
		if a.Status == workflow.AccountFailed {
			failed = append(failed, a.Account.AccountID)
			if !strings.Contains(a.Error, "AccessDenied") {
				t.Errorf("orphan's error %q does not say access was denied", a.Error)
			}
		}
	}
	if !slices.Equal(failed, []string{orphan}) {
		t.Errorf("failed accounts %v, want the orphan %s", failed, orphan)
	}
	msgs := o.snsMessages(t)
	if len(msgs) != 2 || !strings.Contains(msgs[0].For("email"), orphan) || !strings.Contains(msgs[0].For("email"), ex.Name) ||
		!strings.HasPrefix(msgs[1].Subject, report.SummarySubjectPrefix) || !strings.Contains(msgs[1].For("email"), "Accounts processed: 3, failed: 1") {
		t.Errorf("SNS messages %+v, want an alert naming account %s and the run, then the run's summary", msgs, orphan)
	}
	ms := mails(t, ex, dir)
	d := deliveries(t, ms)
	checkDelivered(t, ex, d, after)
	if !slices.ContainsFunc(ms, func(m mail) bool { return slices.Equal(m.Destinations, []string{o.settings.SupportEmail}) }) {
		t.Error("the support team was not told of the failed account")
	}
	o.checkNoLeak(t, []string{dir}, ms, d)
}

// TestE2ESESDownThenRedelivery: while SES refuses the sender, the run goes on, every failed
// notification is in report.csv, the support email and one SNS alert, and
// a new key waits in its hand-off secret; once SES is back, the next run (the same day)
// delivers that key without creating another, and the warning that failed, while the action
// it announces waits for the next day. The day after, the delivery is confirmed (its secret
// deleted) and the warned key is deactivated.
func TestE2ESESDownThenRedelivery(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ses-down.json")
	ctx := context.Background()
	ses := sesv2.NewFromConfig(o.sb.Config())
	if _, err := ses.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(o.settings.SenderEmail)}); err != nil {
		t.Fatal(err)
	}
	ex, _ := o.run(t, `{}`)
	mustSucceed(t, ex)
	if len(ex.Emails) != 0 {
		t.Errorf("%d emails sent with the sender refused", len(ex.Emails))
	}
	prod := o.id(t, "prod")
	rows, err := csv.NewReader(bytes.NewReader(ex.ReportCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var inCSV []string
	for _, row := range rows[1:] {
		if row[7] == "NotifyUser" && row[1] == prod && row[10] == "false" && strings.Contains(row[14], "MessageRejected") {
			inCSV = append(inCSV, row[5])
		}
	}
	if slices.Sort(inCSV); !slices.Equal(inCSV, []string{"alice", "carol"}) || ex.Report.Totals.NotifyFailures != 2 {
		t.Errorf("report.csv lists failed notifications for %v, totals %d; want alice and carol", inCSV, ex.Report.Totals.NotifyFailures)
	}
	msgs := o.snsMessages(t)
	if len(msgs) != 1 || !strings.Contains(msgs[0].For("email"), ex.Name) || !strings.Contains(msgs[0].For("email"), "2 owners not notified") ||
		!strings.Contains(msgs[0].For("email"), "alice in "+prod) || !strings.Contains(msgs[0].For("email"), "carol in "+prod) {
		t.Errorf("SNS messages %+v, want one alert of the run naming alice and carol", msgs)
	}
	pending := o.handoffSecrets(t)
	if len(pending) != 1 || !strings.Contains(pending[0], "/alice/") {
		t.Fatalf("hand-off secrets %v, want alice's new key waiting", pending)
	}

	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(o.settings.SenderEmail)}); err != nil {
		t.Fatal(err)
	}
	// Later the same day, past the 5 minutes a key creation is given to settle.
	o.advance(t, 10*time.Minute)
	before, waiting := o.state(t, "prod"), o.pending(t)
	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	after := o.state(t, "prod")
	checkAccountAsPlanned(t, ex, "prod", before["prod"], after["prod"], waiting, o.policyConfig(false))
	if !reflect.DeepEqual(observed(before["prod"], before["prod"]), observed(before["prod"], after["prod"])) || ex.Report.Totals.KeysCreated != 0 {
		t.Errorf("the redelivery run changed keys (created %d): %v → %v", ex.Report.Totals.KeysCreated,
			observed(before["prod"], before["prod"]), observed(before["prod"], after["prod"]))
	}
	ms := mails(t, ex, dir)
	d := deliveries(t, ms)
	alice := userNamed(t, before["prod"], "alice")
	newest := slices.MaxFunc(alice.Keys, func(a, b sandboxtest.Key) int { return a.CreateDate.Compare(b.CreateDate) }).AccessKeyID
	if got, ok := d[newest]; len(d) != 1 || !ok || got.to != "alice@example.com" {
		t.Errorf("delivered %v, want alice's pending key %s", d, newest)
	}
	if !slices.ContainsFunc(ms, func(m mail) bool { return slices.Equal(m.Destinations, []string{"carol@example.com"}) }) {
		t.Error("carol's warning was not sent again")
	}
	o.checkAwaitingConfirmation(t, ex.Report.Run.Now, d)
	allMails := ms

	// The next day: alice's delivery did not bounce, so it is confirmed and its secret
	// deleted; carol, warned yesterday, loses her old key.
	o.advance(t, 24*time.Hour)
	before, waiting = o.state(t, "prod"), o.pending(t)
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	after = o.state(t, "prod")
	checkAccountAsPlanned(t, ex, "prod", before["prod"], after["prod"], waiting, o.policyConfig(false))
	if left := o.handoffSecrets(t); len(left) != 0 {
		t.Errorf("hand-off secrets left after the delivery was confirmed: %v", left)
	}
	ms = mails(t, ex, dir)
	if again := deliveries(t, ms); len(again) != 0 {
		t.Errorf("keys delivered again: %v", again)
	}
	if carol := observed(before["prod"], after["prod"])["carol"]; !slices.ContainsFunc(carol, func(k keyState) bool { return k.Status == "Inactive" }) {
		t.Errorf("carol's keys %v: want her old key deactivated the day after her warning", carol)
	}
	o.checkNoLeak(t, []string{o.out}, append(allMails, ms...), d)
}

// TestE2EStandInEnforcesIAM: the suite's stand-in allows a role of the rotator what its
// synthesized policy grants and nothing else, as AWS does: ScanAndRotate's role enters a
// member account through the member role, which may list the users but not create one, and
// may write its own objects but not the reports; NotifyUser's role enters only through its
// own role, which may not create a key; CleanupReport's role may not enter at all.
func TestE2EStandInEnforcesIAM(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ses-down.json")
	ctx := context.Background()
	res := o.resources(t)
	file, err := permissions.Load()
	if err != nil {
		t.Fatal(err)
	}
	roleOf := func(name string) aws.Config {
		role, err := file.Role(name)
		if err != nil {
			t.Fatal(err)
		}
		return awsclient.AssumeRole(o.sb.Config(), awsclient.RoleARN(sandbox.Partition, o.id(t, "management"), role.RoleName), "enforcement-test")
	}
	memberRole := awsclient.RoleARN(sandbox.Partition, o.id(t, "prod"), o.settings.MemberRoleName)
	scan := roleOf(statemachine.ScanAndRotate)
	prod := iam.NewFromConfig(awsclient.AssumeRole(scan, memberRole, "enforcement-test"))
	denied := func(what string, err error) {
		t.Helper()
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || !strings.Contains(apiErr.ErrorCode(), "AccessDenied") {
			t.Errorf("%s: error %v, want AccessDenied", what, err)
		}
	}
	if _, err := prod.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("the member role lists users: %v", err)
	}
	_, err = prod.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("intruder")})
	denied("the member role creates a user", err)
	s3c := s3.NewFromConfig(scan, awsclient.PathStyle)
	for key, allowed := range map[string]bool{"runs/enforcement-test": true, "reports/enforcement-test": false} {
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(res.Bucket), Key: aws.String(key), Body: strings.NewReader("{}")})
		if allowed && err != nil {
			t.Errorf("ScanAndRotate's role writes %s: %v", key, err)
		} else if !allowed {
			denied("ScanAndRotate's role writes "+key, err)
		}
	}
	_, err = iam.NewFromConfig(awsclient.AssumeRole(roleOf(statemachine.CleanupReport), memberRole, "enforcement-test")).ListUsers(ctx, &iam.ListUsersInput{})
	denied("CleanupReport's role enters a member account", err)
	notify := roleOf(statemachine.NotifyUser)
	_, err = iam.NewFromConfig(awsclient.AssumeRole(notify, memberRole, "enforcement-test")).ListUsers(ctx, &iam.ListUsersInput{})
	denied("NotifyUser's role enters the member role", err)
	notifyMember := iam.NewFromConfig(awsclient.AssumeRole(notify,
		awsclient.RoleARN(sandbox.Partition, o.id(t, "prod"), config.NotifyMemberRoleName(o.settings.MemberRoleName)), "enforcement-test"))
	if _, err := notifyMember.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")}); err != nil {
		t.Errorf("NotifyUser's role in the member account reads a user's tags: %v", err)
	}
	_, err = notifyMember.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	denied("NotifyUser's role in the member account creates a key", err)
}

// TestE2EStandInEnforcesSecretTagCondition: as on AWS, the grant on secrets of NotifyUser's
// role in the member account, conditioned on the tag key key-rotator:user, lets it describe
// and write a secret carrying that key (whatever user it names) and denies it a secret
// without it, or one that does not exist; moto alone evaluates no resource-tag condition and
// would allow all of them. The member role (ScanAndRotate's) may describe such a secret, and
// write none.
func TestE2EStandInEnforcesSecretTagCondition(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/secret-delivery.json")
	ctx := context.Background()
	o.resources(t) // the rotator's roles
	file, err := permissions.Load()
	if err != nil {
		t.Fatal(err)
	}
	// in is the function's role in the prod account: its own role, or the member role.
	in := func(function, roleName string) *secretsmanager.Client {
		role, err := file.Role(function)
		if err != nil {
			t.Fatal(err)
		}
		fn := awsclient.AssumeRole(o.sb.Config(), awsclient.RoleARN(sandbox.Partition, o.id(t, "management"), role.RoleName), "enforcement-test")
		return secretsmanager.NewFromConfig(awsclient.AssumeRole(fn, awsclient.RoleARN(sandbox.Partition, o.id(t, "prod"), roleName), "enforcement-test"))
	}
	notify := in(statemachine.NotifyUser, config.NotifyMemberRoleName(o.settings.MemberRoleName))
	scan := in(statemachine.ScanAndRotate, o.settings.MemberRoleName)
	for _, tc := range []struct {
		secret  string
		allowed bool
	}{
		{"ci/deployer", true},  // key-rotator:user=deployer
		{"ci/reporter", false}, // team=data only
		{"ci/no-such-secret", false},
	} {
		_, describeErr := notify.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(tc.secret)})
		_, putErr := notify.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(tc.secret), SecretString: aws.String("{}")})
		_, scanDescribeErr := scan.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(tc.secret)})
		_, scanPutErr := scan.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(tc.secret), SecretString: aws.String("{}")})
		for _, c := range []struct {
			what    string
			err     error
			allowed bool
		}{
			{"NotifyUser's role's DescribeSecret", describeErr, tc.allowed},
			{"NotifyUser's role's PutSecretValue", putErr, tc.allowed},
			{"the member role's DescribeSecret", scanDescribeErr, tc.allowed},
			{"the member role's PutSecretValue", scanPutErr, false},
		} {
			var apiErr smithy.APIError
			denied := errors.As(c.err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied")
			if denied == c.allowed || c.allowed && c.err != nil {
				t.Errorf("%s of %s: error %v, want allowed %v", c.what, tc.secret, c.err, c.allowed)
			}
		}
	}
}

// TestE2EAccountLeasedByAnotherExecution: an account whose lease an overlapping execution
// holds is read, found busy and left alone: no key written, no owner email, and the report
// names the execution that holds it.
func TestE2EAccountLeasedByAnotherExecution(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ses-down.json")
	ctx := context.Background()
	res := o.resources(t)
	prod := o.id(t, "prod")
	lease := fmt.Sprintf(`{"runId":"overlapping-run","expires":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if _, err := o.sb.S3().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(res.Bucket), Key: aws.String(workflow.LeaseKey(prod)),
		Body: strings.NewReader(lease)}); err != nil {
		t.Fatal(err)
	}
	before := o.state(t, "prod")
	ex, _ := o.run(t, `{}`)
	mustSucceed(t, ex)
	if after := o.state(t, "prod"); !reflect.DeepEqual(before, after) {
		t.Errorf("the leased account changed:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, a := range ex.Report.Accounts {
		if a.Account.AccountID == prod && (a.Status != workflow.AccountFailed || !strings.Contains(a.Error, "overlapping-run")) {
			t.Errorf("leased account %s: %s %q, want failed naming overlapping-run", prod, a.Status, a.Error)
		}
	}
	for _, m := range ex.Emails {
		if !slices.Equal(m.Destinations, []string{o.settings.SupportEmail}) {
			t.Errorf("email to %v while the account was leased", m.Destinations)
		}
	}
}
