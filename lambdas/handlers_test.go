package lambdas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// keyState renders an account's users as "user: KEYID/Status ..." lines, new keys (not in
// known) as NEW/Status.
func keyState(users []sandboxtest.User, known map[string]bool) []string {
	var out []string
	for _, u := range users {
		var keys []string
		for _, k := range u.Keys {
			id := k.AccessKeyID
			if !known[id] {
				id = "NEW"
			}
			keys = append(keys, id+"/"+k.Status)
		}
		slices.Sort(keys)
		out = append(out, u.Name+": "+strings.Join(keys, " "))
	}
	return out
}

// predictedState applies the policy's plan for these users to their keys, as the rotator
// must have.
func predictedState(t *testing.T, users []sandboxtest.User, cfg policy.Config, now time.Time) []string {
	t.Helper()
	plan, err := policy.PlanUsers(policyUsers(users, cfg, now), cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	after := slices.Clone(users)
	for i, p := range plan.Users {
		u := &after[i]
		u.Keys = slices.Clone(u.Keys)
		for _, a := range p.Actions {
			switch a.Action {
			case policy.DeleteKey:
				u.Keys = slices.DeleteFunc(u.Keys, func(k sandboxtest.Key) bool { return k.AccessKeyID == a.AccessKeyID })
			case policy.DeactivateKey:
				u.Keys[slices.IndexFunc(u.Keys, func(k sandboxtest.Key) bool { return k.AccessKeyID == a.AccessKeyID })].Status = "Inactive"
			case policy.CreateKey:
				u.Keys = append(u.Keys, sandboxtest.Key{AccessKeyID: "NEW", Status: "Active"})
			}
		}
	}
	return keyState(after, knownKeys(users))
}

func knownKeys(users []sandboxtest.User) map[string]bool {
	known := map[string]bool{}
	for _, u := range users {
		for _, k := range u.Keys {
			known[k.AccessKeyID] = true
		}
	}
	return known
}

// TestDailyRun runs the daily workflow on the stand-in: every account's IAM state ends as the
// policy predicts, every new key reaches its owner in an AES-256 zip that 7-Zip opens with
// the mailed password, the excluded account is untouched, the report and metrics are written,
// and no secret appears in anything the system emitted.
func TestDailyRun(t *testing.T) {
	r := newRig(t, "org.json")
	now := time.Now()
	before := map[string][]sandboxtest.User{}
	for _, account := range []string{"management", "prod", "dev", "legacy"} {
		before[account] = r.users(account)
	}
	res := r.run(`{}`)

	for _, account := range []string{"management", "prod", "dev"} {
		want := predictedState(t, before[account], r.settings.Policy, now)
		if got := keyState(r.users(account), knownKeys(before[account])); !slices.Equal(got, want) {
			t.Errorf("%s after the run:\n got %q\nwant %q", account, got, want)
		}
	}
	if got, want := keyState(r.users("legacy"), knownKeys(before["legacy"])), keyState(before["legacy"], knownKeys(before["legacy"])); !slices.Equal(got, want) {
		t.Errorf("excluded account changed: %q, was %q", got, want)
	}
	if res.listing.AccountCount != 3 {
		t.Errorf("%d accounts listed, want management, prod and dev", res.listing.AccountCount)
	}

	// Delivery: each created key arrived, in a zip 7-Zip opens with the mailed password.
	emails := r.emails()
	keys := deliveredKeys(t, emails)
	created := 0
	for _, o := range res.outcomes {
		created += o.Counts.KeysCreated
	}
	if created != 2 || len(keys) != created {
		t.Fatalf("%d keys created (want alice's and judy's: ivy's inactive key was first seen today, so its slot frees tomorrow), %d delivered", created, len(keys))
	}
	for _, k := range keys {
		listing, err := exec.Command(sevenZip(t), "l", "-slt", "-p"+k.password, writeTemp(t, k.zip)).Output()
		if err != nil || !strings.Contains(string(listing), "Method = AES-256") {
			t.Errorf("7zz does not list %s's zip as AES-256 (%v):\n%s", k.user, err, listing)
		}
		if err := exec.Command(sevenZip(t), "t", "-pwrong-password-123456", writeTemp(t, k.zip)).Run(); err == nil {
			t.Errorf("%s's zip opens with a wrong password", k.user)
		}
		if !keyExistsAnywhere(r, k.accessKeyID) {
			t.Errorf("delivered key %s does not exist in IAM", k.accessKeyID)
		}
	}
	// Each sent key's secret stays until the next day's run confirms the delivery (no bounce),
	// scheduled for deletion (no longer billed) since its key was sent.
	if pending, billed := r.handoffSecretsBilled(); len(pending) != len(keys) || len(billed) != 0 {
		t.Errorf("hand-off secrets after delivery: %v, still billed %v; want one per sent key, none billed", pending, billed)
	}

	// The report: JSON and CSV in S3, the support email (a user has no usable email).
	if res.report.Accounts != 3 || res.report.FailedAccounts != 0 || !res.report.SupportEmailed {
		t.Errorf("report %+v: want 3 accounts, none failed, support emailed", res.report)
	}
	csv := string(r.object(res.report.CSVKey))
	for _, want := range []string{"erin", "no EmailID or Email tag", "ken", "outside the allowed domains", "DeactivateKey", "CreateKey"} {
		if !strings.Contains(csv, want) {
			t.Errorf("report.csv lacks %q", want)
		}
	}
	support := findEmail(emails, "cloud-support@example.com")
	if support == nil || len(support.Attachments) != 1 || !strings.HasSuffix(support.Attachments[0].Filename, ".csv") {
		t.Errorf("no support email with the CSV report: %+v", support)
	}
	// Its charts: inline PNGs that its HTML shows by cid: (pkg/report's chart tests check the pixels).
	if support != nil {
		for _, name := range []string{report.KeyAgesChartName, report.TrendChartName} {
			if !slices.ContainsFunc(support.Inline, func(a sandboxtest.Attachment) bool {
				_, err := png.Decode(bytes.NewReader(a.Data))
				return a.ContentID == name && a.ContentType == "image/png" && err == nil
			}) || !strings.Contains(support.HTML, `src="cid:`+name+`"`) {
				t.Errorf("the support email does not show %s inline: inline parts %d", name, len(support.Inline))
			}
		}
	}
	if !strings.Contains(r.metrics.String(), `"Namespace":"IAMKeyRotator"`) || !strings.Contains(r.metrics.String(), `"KeysCreated":2`) {
		t.Errorf("no embedded-metric line with the counts: %s", r.metrics.String())
	}

	r.assertNoSecretLeak(keys)
}

// TestSecondRunSameDayIsQuiet: a re-run on the same day writes nothing and emails nobody.
func TestSecondRunSameDayIsQuiet(t *testing.T) {
	r := newRig(t, "org.json")
	r.run(`{}`)
	state := map[string][]string{}
	for _, account := range []string{"prod", "dev"} {
		state[account] = keyState(r.users(account), nil)
	}
	sent := len(r.emails())
	res := r.run(`{}`)
	for _, o := range res.outcomes {
		c := o.Counts
		if c.KeysCreated+c.KeysDeactivated+c.KeysDeleted+c.Notices != 0 || o.NotificationCount != 0 {
			t.Errorf("second run in %s: counts %+v, %d notifications", o.Account.Name, c, o.NotificationCount)
		}
	}
	for _, account := range []string{"prod", "dev"} {
		if got := keyState(r.users(account), nil); !slices.Equal(got, state[account]) {
			t.Errorf("second run changed %s: %q, was %q", account, got, state[account])
		}
	}
	// Only the support report may be sent again (erin and ken still lack an email).
	for _, e := range r.emails()[sent:] {
		if !slices.Contains(e.Destinations, "cloud-support@example.com") {
			t.Errorf("second run emailed %v: %q", e.Destinations, e.Subject)
		}
	}
}

// TestDryRunWritesNothing: the same decisions, reported, with no write and no user email.
func TestDryRunWritesNothing(t *testing.T) {
	r := newRig(t, "org.json")
	before := keyState(r.users("prod"), nil)
	res := r.run(`{"dryRun":true}`)
	if got := keyState(r.users("prod"), nil); !slices.Equal(got, before) {
		t.Errorf("dry run changed prod: %q, was %q", got, before)
	}
	for _, e := range r.emails() {
		if !slices.Contains(e.Destinations, "cloud-support@example.com") {
			t.Errorf("dry run emailed %v", e.Destinations)
		}
	}
	if res.report.Totals.KeysCreated != 2 || res.report.Totals.KeysDeactivated == 0 {
		t.Errorf("dry run report %+v does not say what would happen", res.report.Totals)
	}
	if csv := string(r.object(res.report.CSVKey)); !strings.Contains(csv, ",false,true,") {
		t.Errorf("dry-run CSV does not mark actions as not done in a dry run:\n%s", csv)
	}
}

// TestLostCreateResponse: CreateAccessKey succeeds at AWS but its response is lost. The user
// is reported failed with the pending mark left; the next run deletes the orphan and
// delivers a fresh key. Nothing is duplicated.
func TestLostCreateResponse(t *testing.T) {
	r := newRig(t, "org.json")
	lossy := &responseLoser{action: "CreateAccessKey", base: http.DefaultTransport}
	r.scan.NewIAM = func(cfg aws.Config) rotate.IAMAPI {
		return iam.NewFromConfig(cfg, func(o *iam.Options) {
			o.HTTPClient = &http.Client{Transport: lossy}
			o.RetryMaxAttempts = 1 // the lost response is not retried here; the mark covers retries too
		})
	}
	first := r.run(`{"accounts":["` + r.accountID("prod") + `"]}`)
	alice := userNamed(r.users("prod"), "alice")
	if lossy.lost == 0 || len(alice.Keys) != 2 || policy.Tags(alice.Tags).Get(history.PendingTag) == "" {
		t.Fatalf("after the lost response: %d lost, alice has %d keys and tags %v; want the orphan and the mark", lossy.lost, len(alice.Keys), alice.Tags)
	}
	if first.outcomes[0].Counts.Failures == 0 {
		t.Errorf("the failed creation is not reported: %+v", first.outcomes[0].Counts)
	}
	orphans := knownKeys([]sandboxtest.User{alice})

	r.scan.NewIAM = rotate.NewIAMClient
	sentBefore := len(r.emails())
	r.run(`{"accounts":["` + r.accountID("prod") + `"]}`)
	alice = userNamed(r.users("prod"), "alice")
	// The orphan is gone and a fresh key made; the fresh key's own mark stays for the run after
	// (a CreateAccessKey the SDK re-sent could have made a key this run never saw).
	if len(alice.Keys) != 2 || orphans[alice.Keys[0].AccessKeyID] && orphans[alice.Keys[1].AccessKeyID] {
		t.Fatalf("after the next run alice has keys %+v and tags %v", alice.Keys, alice.Tags)
	}
	var fresh string
	for _, k := range alice.Keys {
		if !orphans[k.AccessKeyID] {
			fresh = k.AccessKeyID
		}
	}
	delivered := deliveredKeys(t, r.emails()[sentBefore:])
	var toAlice []string
	for _, d := range delivered {
		if d.user == "alice@example.com" {
			toAlice = append(toAlice, d.accessKeyID)
		}
	}
	if fresh == "" || !slices.Equal(toAlice, []string{fresh}) {
		t.Errorf("alice got keys %v, want exactly the fresh key %s (orphans %v)", toAlice, fresh, orphans)
	}
}

// responseLoser forwards a request of the given IAM action, then reports a lost connection.
type responseLoser struct {
	action string
	base   http.RoundTripper
	lost   int
}

func (l *responseLoser) RoundTrip(req *http.Request) (*http.Response, error) {
	var raw string
	if req.Body != nil {
		raw = readAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(raw))
	}
	resp, err := l.base.RoundTrip(req)
	if err == nil && strings.Contains(raw, "Action="+l.action) {
		resp.Body.Close()
		l.lost++
		return nil, errors.New("connection reset by peer (response lost by the test)")
	}
	return resp, err
}

// TestNotifyFailsOnceThenDelivers: SES fails on the first send; the key stays in its hand-off
// secret, the retry delivers it from there, and the owner gets it once.
func TestNotifyFailsOnceThenDelivers(t *testing.T) {
	r := newRig(t, "org.json")
	ctx := context.Background()
	n := r.judysNewKey("run-notify")

	flaky := &flakySES{SESAPI: sesv2.NewFromConfig(r.sb.Config()), failures: 1}
	d := *r.deliver
	d.Sender = notify.NewSender(flaky, "", nil)
	_, err := d.Handle(ctx, n)
	if name := workflow.ErrorName(err); name != workflow.ErrRetryable {
		t.Fatalf("first attempt: error %v as %s, want a RetryableError", err, name)
	}
	if len(r.handoffSecrets()) != 1 {
		t.Fatalf("the hand-off secret must survive a failed delivery: %v", r.handoffSecrets())
	}
	if _, err := d.Handle(ctx, n); err != nil {
		t.Fatalf("retry: %v", err)
	}
	keys := deliveredKeys(t, r.emails())
	if len(keys) != 1 || keys[0].accessKeyID != n.NewKey.AccessKeyID || len(r.handoffSecrets()) != 1 {
		t.Errorf("delivered %d keys (want judy's %s once); secrets left %v (want the one awaiting confirmation)", len(keys), n.NewKey.AccessKeyID, r.handoffSecrets())
	}
	// A third attempt (a lost Lambda response retried) finds the key sent by this run and sends
	// it no second time.
	again, err := d.Handle(ctx, n)
	if err != nil || !again.AlreadyDelivered || len(deliveredKeys(t, r.emails())) != 1 {
		t.Errorf("repeat delivery: %+v, %v", again, err)
	}
}

// judysNewKey runs ListAccounts and ScanAndRotate on the dev account as run runID and returns
// the notification of judy's new key (her 300-day key is rotated).
func (r *rig) judysNewKey(runID string) workflow.Notification {
	r.t.Helper()
	ctx := context.Background()
	listing, err := r.list.Handle(ctx, workflow.ListAccountsRequest{Input: []byte(`{"accounts":["` + r.accountID("dev") + `"]}`), RunID: runID, StartTime: time.Now()})
	if err != nil {
		r.t.Fatal(err)
	}
	out, err := r.scan.Handle(ctx, workflow.AccountRequest{Run: listing.Run, Account: r.accounts(listing)[0]})
	if err != nil {
		r.t.Fatal(err)
	}
	notifications := r.notifications(out)
	i := slices.IndexFunc(notifications, func(n workflow.Notification) bool { return n.UserName == "judy" })
	if i < 0 || notifications[i].NewKey == nil {
		r.t.Fatalf("no new-key notification for judy: %+v", notifications)
	}
	return notifications[i]
}

// TestPasswordMailFailsThenRetrySendsTheSamePassword: SES accepts the zip and throttles its
// password email; the retry mails the key again, and every zip the owner received opens with
// the password they received (the password is kept with the key, not made anew per attempt).
func TestPasswordMailFailsThenRetrySendsTheSamePassword(t *testing.T) {
	r := newRig(t, "org.json")
	ctx := context.Background()
	n := r.judysNewKey("run-password")

	flaky := &flakySES{SESAPI: sesv2.NewFromConfig(r.sb.Config()), passes: 1, failures: 1}
	d := *r.deliver
	d.Sender = notify.NewSender(flaky, "", nil)
	if _, err := d.Handle(ctx, n); err == nil {
		t.Fatal("first attempt: the password email failed, want an error")
	}
	if _, err := d.Handle(ctx, n); err != nil {
		t.Fatalf("retry: %v", err)
	}
	keys := deliveredKeys(t, r.emails()) // opens every zip with the password mailed for its key
	if len(keys) != 2 || keys[0].accessKeyID != n.NewKey.AccessKeyID || keys[1].accessKeyID != n.NewKey.AccessKeyID {
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = k.accessKeyID
		}
		t.Errorf("delivered keys %v, want judy's %s twice (the zip of the failed attempt, then the retry's)", ids, n.NewKey.AccessKeyID)
	}
}

// flakySES lets passes sends through, then fails the next failures sends.
type flakySES struct {
	notify.SESAPI
	passes, failures int
}

func (f *flakySES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if f.passes > 0 {
		f.passes--
		return f.SESAPI.SendEmail(ctx, in, opts...)
	}
	if f.failures > 0 {
		f.failures--
		return nil, &smithy.GenericAPIError{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error.", Fault: smithy.FaultServer} // an HTTP 500 on AWS
	}
	return f.SESAPI.SendEmail(ctx, in, opts...)
}

// TestAccountWithoutMemberRole: an account the rotator cannot enter is reported failed, SNS
// is told, and the other accounts are processed.
func TestAccountWithoutMemberRole(t *testing.T) {
	r := newRig(t, "org.json")
	ctx := context.Background()
	dev := r.iam("dev")
	role := aws.String(r.settings.MemberRoleName)
	policies, err := dev.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: role})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies.AttachedPolicies {
		if _, err := dev.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: role, PolicyArn: p.PolicyArn}); err != nil {
			t.Fatal(err)
		}
	}
	inline, err := dev.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: role})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range inline.PolicyNames {
		if _, err := dev.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: role, PolicyName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dev.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: role}); err != nil {
		t.Fatal(err)
	}

	res := r.run(`{}`)
	var failed, done []string
	for _, o := range res.outcomes {
		if o.Status == workflow.AccountFailed {
			failed = append(failed, o.Account.Name)
		} else {
			done = append(done, o.Account.Name)
		}
	}
	if !slices.Equal(failed, []string{"dev"}) || len(done) != 2 || res.report.FailedAccounts != 1 {
		t.Errorf("failed %v, done %v, report %+v; want dev failed and the other two done", failed, done, res.report)
	}
	msgs, err := r.sb.SNSMessages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0].For("email"), r.accountID("dev")) {
		t.Errorf("SNS messages %+v, want one naming the dev account", msgs)
	}
}

func userNamed(users []sandboxtest.User, name string) sandboxtest.User {
	for _, u := range users {
		if u.Name == name {
			return u
		}
	}
	return sandboxtest.User{}
}

func findEmail(emails []sandboxtest.Email, to string) *sandboxtest.Email {
	for i := range emails {
		if slices.Contains(emails[i].Destinations, to) {
			return &emails[i]
		}
	}
	return nil
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "credentials.zip")
	writeFile(t, path, b)
	return path
}

func keyExistsAnywhere(r *rig, id string) bool {
	for _, account := range []string{"management", "prod", "dev"} {
		for _, u := range r.users(account) {
			for _, k := range u.Keys {
				if k.AccessKeyID == id && k.Status == "Active" {
					return true
				}
			}
		}
	}
	return false
}

// handoffSecrets lists the hand-off secrets still stored, those NotifyUser scheduled for
// deletion once it sent their keys included: every delivery not yet confirmed.
func (r *rig) handoffSecrets() []string {
	names, _ := r.handoffSecretsBilled()
	return names
}

// handoffSecretsBilled lists the hand-off secrets still stored, and those of them still
// billed (not scheduled for deletion).
func (r *rig) handoffSecretsBilled() (stored, billed []string) {
	r.t.Helper()
	out, err := secretsmanager.NewFromConfig(r.sb.Config()).ListSecrets(context.Background(), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range out.SecretList {
		if name := aws.ToString(s.Name); strings.HasPrefix(name, r.settings.HandoffSecretPrefix) {
			stored = append(stored, name)
			if s.DeletedDate == nil {
				billed = append(billed, name)
			}
		}
	}
	return stored, billed
}

// assertNoSecretLeak searches every log line, handler output, S3 object and SNS message for
// every secret the test knows: seeded secret keys, delivered secret keys and zip passwords.
func (r *rig) assertNoSecretLeak(keys []delivered) {
	r.t.Helper()
	ctx := context.Background()
	var secrets []string
	for _, k := range r.sb.Seeded.Keys {
		secrets = append(secrets, k.Secret.Reveal())
	}
	for _, k := range keys {
		secrets = append(secrets, k.secretKey, k.password)
	}
	if len(keys) == 0 || len(secrets) < 10 {
		r.t.Fatalf("the leak check needs secrets to look for: %d", len(secrets))
	}
	places := map[string]string{"logs": r.logs.String(), "metrics": r.metrics.String()}
	for i, o := range r.outputs {
		places[fmt.Sprintf("handler output %d", i)] = string(o)
	}
	objects, err := r.sb.S3Objects(ctx, bucket)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, o := range objects {
		places["s3://"+bucket+"/"+o.Key] = string(o.Body)
	}
	msgs, err := r.sb.SNSMessages(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	for i, m := range msgs {
		places[fmt.Sprintf("SNS message %d", i)] = m.Subject + m.Message
	}
	hits := 0
	for where, text := range places {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				hits++
				r.t.Errorf("a secret (%d characters) appears in %s", len(s), where)
			}
		}
	}
	r.t.Logf("leak check: %d secrets searched in %d places (%d bytes of logs): %d hits", len(secrets), len(places), len(r.logs.String()), hits)
}

// TestNoticeOnlyUsersBeyondTheLimitWait: when an account's notifications reach the run's
// limit, a user who would only get a notice is deferred (nothing recorded, nothing sent)
// and notified by the next run; users with writes are always notified.
func TestNoticeOnlyUsersBeyondTheLimitWait(t *testing.T) {
	r := newRig(t, "org.json")
	prod := `{"accounts":["` + r.accountID("prod") + `"]}`
	// prod has 2 notified users with writes today (alice's new key, dave's unused key deleted)
	// and 2 who only get a warning: bob (his old key is deactivated once he was told) and hank.
	r.scan.MaxNotifications = 2
	first := r.run(prod)
	o := first.outcomes[0]
	var notified []string
	for _, n := range first.notifications[0] {
		notified = append(notified, n.UserName)
	}
	if slices.Sort(notified); !slices.Equal(notified, []string{"alice", "dave"}) || o.Counts.Deferred != 2 {
		t.Fatalf("notified %v with counts %+v, want alice and dave, bob and hank deferred", notified, o.Counts)
	}
	for _, name := range []string{"bob", "hank"} {
		if tags := userNamed(r.users("prod"), name).Tags; tags[history.NoticesTag] != "" {
			t.Errorf("%s's deferred notice was recorded as sent: %v", name, tags)
		}
	}
	r.scan.MaxNotifications = 0
	second := r.run(prod)
	var warned []string
	for _, n := range second.notifications[0] {
		if len(n.Notices) == 1 && n.Notices[0].Kind == policy.DeactivationScheduled {
			warned = append(warned, n.UserName)
		}
	}
	if slices.Sort(warned); !slices.Equal(warned, []string{"bob", "hank"}) {
		t.Errorf("the next run warned %v, want bob and hank (notifications %+v)", warned, second.notifications[0])
	}
}

// TestRedeliveriesCountInTheNotificationLimit: keys that could not be delivered (SES was
// down during the first run: nothing was sent) are sent again by the next run inside its
// notification limit, like notices: beyond it a redelivery waits for the next run, its key
// kept in its hand-off secret, and the user is reported deferred.
func TestRedeliveriesCountInTheNotificationLimit(t *testing.T) {
	sc, err := sandbox.LoadScenario(filepath.Join("testdata", "org.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A second owner due for a new key in prod, beside alice.
	sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: "zoe", Tags: map[string]string{"EmailID": "zoe@example.com"},
		Keys: []sandbox.Key{{Status: sandbox.StatusActive, AgeDays: 84, LastUsedDaysAgo: aws.Int(1)}}})
	r := rigFor(t, sandboxtest.New(t, sc))
	ctx := context.Background()
	prod := `{"accounts":["` + r.accountID("prod") + `"]}`
	listing, err := r.list.Handle(ctx, workflow.ListAccountsRequest{Input: json.RawMessage(prod), RunID: "run-ses-down", StartTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.scan.Handle(ctx, workflow.AccountRequest{Run: listing.Run, Account: r.accounts(listing)[0]}); err != nil {
		t.Fatal(err)
	}
	waiting := r.handoffSecrets()
	if len(waiting) != 2 {
		t.Fatalf("hand-off secrets %v after the first run, want alice's and zoe's new keys waiting", waiting)
	}

	r.scan.MaxNotifications = 1
	second := r.run(prod)
	if n := second.notifications[0]; len(n) != 1 {
		t.Errorf("%d notifications queued with a limit of 1: %+v", len(n), n)
	}
	if o := second.outcomes[0]; o.Counts.Deferred < 3 {
		t.Errorf("counts %+v: want the redelivery and the two warnings beyond the limit deferred", o.Counts)
	}
	if left := r.handoffSecrets(); len(left) != 2 {
		t.Errorf("hand-off secrets %v, want both kept (one delivered today awaits confirmation, one waits)", left)
	}

	r.scan.MaxNotifications = 0
	third := r.run(prod)
	var redelivered []string
	for _, n := range third.notifications[0] {
		if n.NewKey != nil {
			redelivered = append(redelivered, n.UserName)
		}
	}
	if len(redelivered) != 1 {
		t.Errorf("the next run redelivered keys to %v, want the one deferred", redelivered)
	}
}

// TestOutcomeIsFixedSize: ScanAndRotate's output does not carry the account's notifications
// (550 notices measured 275 KB, over the 256 KiB payload limit); they are in S3, at
// runs/<run>/notifications/<account>.json, as the JSON array the NotifyOwners Map's
// ItemReader reads, and the output says where and how many.
func TestOutcomeIsFixedSize(t *testing.T) {
	r := newRig(t, "org.json")
	prod := r.accountID("prod")
	res := r.run(`{"accounts":["` + prod + `"]}`)
	out, err := json.Marshal(res.outcomes[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), `"notifications":[`) || strings.Contains(string(out), "@") {
		t.Errorf("ScanAndRotate's output carries the notifications: %s", out)
	}
	var fields struct {
		NotificationsKey  string `json:"notificationsKey"`
		NotificationCount int    `json:"notificationCount"`
	}
	if err := json.Unmarshal(out, &fields); err != nil {
		t.Fatal(err)
	}
	want := "runs/" + res.listing.Run.RunID + "/notifications/" + prod + ".json"
	if fields.NotificationsKey != want {
		t.Fatalf("notificationsKey %q, want %q", fields.NotificationsKey, want)
	}
	var stored []workflow.Notification
	if err := json.Unmarshal(r.object(want), &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || len(stored) != fields.NotificationCount || len(stored) != len(res.deliveries) {
		t.Errorf("%d notifications stored, notificationCount %d, %d delivered", len(stored), fields.NotificationCount, len(res.deliveries))
	}
}

// TestOverlappingExecutionsNeverBothWrite: while one execution holds an account's lease (the
// daily run, still writing there), a console re-run of that account writes nothing there and
// says why; once the lease is given back, the re-run goes ahead.
func TestOverlappingExecutionsNeverBothWrite(t *testing.T) {
	r := newRig(t, "org.json")
	ctx := context.Background()
	prod := r.accountID("prod")
	before := keyState(r.users("prod"), nil)
	release, err := (&lease.Leases{S3: r.scan.Clients.S3, Bucket: r.settings.ReportBucket}).Acquire(ctx, prod, "daily-run-still-writing")
	if err != nil {
		t.Fatal(err)
	}
	res := r.run(`{"accounts":["` + prod + `"]}`)
	o := res.outcomes[0]
	if o.Status != workflow.AccountFailed || o.Counts.KeysCreated+o.Counts.KeysDeactivated+o.Counts.KeysDeleted != 0 || o.NotificationCount != 0 {
		t.Errorf("the overlapping run: status %s, counts %+v, %d notifications; want failed with no write", o.Status, o.Counts, o.NotificationCount)
	}
	if got := keyState(r.users("prod"), nil); !slices.Equal(got, before) {
		t.Errorf("the overlapping run changed prod: %q, was %q", got, before)
	}
	if csv := string(r.object(res.report.CSVKey)); !strings.Contains(csv, "daily-run-still-writing") {
		t.Errorf("report.csv does not name the execution holding the account:\n%s", csv)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if again := r.run(`{"accounts":["` + prod + `"]}`); again.outcomes[0].Status != workflow.AccountDone || again.outcomes[0].Counts.KeysCreated == 0 {
		t.Errorf("after the lease was given back: %+v", again.outcomes[0])
	}
}
