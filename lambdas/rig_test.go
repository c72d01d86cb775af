// Tests of the four Lambdas' handlers, invoked in-process against the local AWS stand-in
// (moto, over the wire, through the real SDK) the way lambdas/*/main.go wires them, in the
// order the state machine calls them.
package lambdas_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

const bucket = "iam-access-key-rotator-reports"

// rig is a stand-in seeded with a scenario plus the rotator's resources and the four
// handlers, built by the constructors lambdas/*/main.go calls. Everything the handlers emit is captured.
type rig struct {
	t        *testing.T
	sb       *sandboxtest.Sandbox
	settings config.Settings
	logs     *syncBuffer
	metrics  *syncBuffer
	outputs  [][]byte // every handler result, as JSON

	list    *org.Handler
	scan    *rotate.Handler
	deliver *notify.Handler
	report  *report.Handler
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newRig(t *testing.T, scenario string) *rig {
	t.Helper()
	return rigFor(t, sandboxtest.NewFile(t, filepath.Join("testdata", scenario)))
}

// rigFor adds the rotator's resources and handlers to a running stand-in.
func rigFor(t *testing.T, sb *sandboxtest.Sandbox) *rig {
	t.Helper()
	ctx := context.Background()
	cfg := sb.Config()
	if _, err := s3.NewFromConfig(cfg, awsclient.PathStyle).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create report bucket: %v", err)
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("iam-access-key-rotator-topic")})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	st, err := sb.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The rotator's tag key, as the stack creates it (the sandbox's Advance signs what it moves
	// with it too).
	tagKey, err := sandbox.EnsureTagKey(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The scenario's settings as the Lambdas read them, with the resources the stack would set.
	settings := st.Rotator
	settings.ReportBucket, settings.FailureTopicARN, settings.TagKeySecretARN = bucket, aws.ToString(topic.TopicArn), tagKey
	r := &rig{t: t, sb: sb, settings: settings, logs: &syncBuffer{}, metrics: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(r.logs, nil))
	// The steps as lambdas/*/main.go builds them; the rig only captures the metrics and lets
	// a key creation settle at once.
	r.list = org.NewHandler(cfg, settings, log)
	if r.scan, err = rotate.NewHandler(ctx, cfg, settings, log); err != nil {
		t.Fatal(err)
	}
	r.scan.Settle = time.Nanosecond
	if r.deliver, err = notify.NewHandler(ctx, cfg, settings, log); err != nil {
		t.Fatal(err)
	}
	r.report = report.NewHandler(cfg, settings, log)
	r.report.Metrics = r.metrics
	return r
}

func (r *rig) record(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.outputs = append(r.outputs, b)
}

// runResult is what one pass through the workflow produced.
type runResult struct {
	listing  workflow.AccountList
	outcomes []workflow.AccountOutcome
	// notifications are each outcome's, as NotifyOwners' ItemReader reads them from S3.
	notifications [][]workflow.Notification
	deliveries    []notify.Delivery
	report        workflow.Report
}

// run calls the handlers in the state machine's order for one execution input.
func (r *rig) run(input string) runResult {
	r.t.Helper()
	ctx := context.Background()
	var res runResult
	var err error
	res.listing, err = r.list.Handle(ctx, workflow.ListAccountsRequest{Input: json.RawMessage(input),
		RunID: fmt.Sprintf("run-%d", time.Now().UnixNano()), StartTime: time.Now()})
	if err != nil {
		r.t.Fatalf("ListAccounts: %v", err)
	}
	r.record(res.listing)
	for _, a := range r.accounts(res.listing) {
		out, err := r.scan.Handle(ctx, workflow.AccountRequest{Run: res.listing.Run, Account: a})
		if err != nil {
			r.t.Fatalf("ScanAndRotate %s: %v", a.Name, err)
		}
		r.record(out)
		res.outcomes = append(res.outcomes, out)
		notifications := r.notifications(out)
		res.notifications = append(res.notifications, notifications)
		for _, n := range notifications {
			d, err := r.deliver.Handle(ctx, n)
			if err != nil {
				r.t.Fatalf("NotifyUser %s/%s: %v", a.Name, n.UserName, err)
			}
			r.record(d)
			res.deliveries = append(res.deliveries, d)
		}
	}
	res.report, err = r.report.Handle(ctx, workflow.ReportRequest{Listing: res.listing})
	if err != nil {
		r.t.Fatalf("CleanupReport: %v", err)
	}
	r.record(res.report)
	return res
}

// accounts reads the list ListAccounts wrote, as the Distributed Map's ItemReader does.
func (r *rig) accounts(l workflow.AccountList) []workflow.Account {
	var accounts []workflow.Account
	if err := json.Unmarshal(r.object(l.Key), &accounts); err != nil {
		r.t.Fatalf("account list: %v", err)
	}
	return accounts
}

// notifications reads an outcome's notifications from S3, as the NotifyOwners Map's
// ItemReader does; none when the outcome has none (nothing is written then).
func (r *rig) notifications(o workflow.AccountOutcome) []workflow.Notification {
	r.t.Helper()
	if o.NotificationCount == 0 {
		return nil
	}
	var ns []workflow.Notification
	if err := json.Unmarshal(r.object(o.NotificationsKey), &ns); err != nil {
		r.t.Fatalf("notifications of %s: %v", o.Account.AccountID, err)
	}
	if len(ns) != o.NotificationCount {
		r.t.Fatalf("%s holds %d notifications, the outcome says %d", o.NotificationsKey, len(ns), o.NotificationCount)
	}
	return ns
}

func (r *rig) object(key string) []byte {
	r.t.Helper()
	out, err := r.sb.S3().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: &key})
	if err != nil {
		r.t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) accountID(name string) string {
	id, err := r.sb.AccountID(name)
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) users(account string) []sandboxtest.User {
	r.t.Helper()
	users, err := r.sb.Users(context.Background(), account)
	if err != nil {
		r.t.Fatal(err)
	}
	return users
}

func (r *rig) emails() []sandboxtest.Email {
	r.t.Helper()
	emails, err := r.sb.SentEmails(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return emails
}

func (r *rig) iam(account string) *iam.Client {
	c, err := r.sb.IAM(account)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// policyUsers converts the stand-in's users to the policy's input.
// policyUsers gives the policy the users as the rotator sees them on day now: keys and tags,
// with the history its tags record.
func policyUsers(users []sandboxtest.User, cfg policy.Config, now time.Time) []policy.User {
	var out []policy.User
	for _, u := range users {
		pu := policy.User{UserName: u.Name, Tags: u.Tags}
		for _, k := range u.Keys {
			pu.Keys = append(pu.Keys, policy.Key{AccessKeyID: k.AccessKeyID, Status: policy.KeyStatus(k.Status),
				CreateDate: k.CreateDate, LastUsedDate: k.LastUsedDate})
		}
		email, _ := policy.OwnerEmail(pu.Tags, cfg.WithDefaults())
		history.Apply(&pu, now, email)
		out = append(out, pu)
	}
	return out
}

// delivered is a key as its owner received it: the zip opened with the mailed password.
type delivered struct {
	user, accessKeyID, secretKey, password string
	zip                                    []byte
}

// deliveredKeys opens every credentials.zip sent with 7-Zip, using the password from the
// matching second email.
func deliveredKeys(t *testing.T, emails []sandboxtest.Email) []delivered {
	t.Helper()
	passwords := map[string]string{} // new key ID → password
	for _, e := range emails {
		if strings.HasPrefix(e.Subject, "Password for the new AWS access key") {
			id, pw := keyAndPassword(t, e)
			passwords[id] = pw
		}
	}
	var out []delivered
	for _, e := range emails {
		for _, a := range e.Attachments {
			if a.Filename != notify.CredentialsZipName {
				continue
			}
			var d delivered
			d.zip = a.Data
			for id, pw := range passwords {
				if strings.Contains(e.Text, id) {
					d.accessKeyID, d.password = id, pw
				}
			}
			if d.password == "" {
				t.Fatalf("no password email for the zip in %q", e.Subject)
			}
			csv := sevenZipExtract(t, d.zip, d.password, "credentials.csv")
			lines := strings.Split(strings.TrimSpace(csv), "\n")
			if len(lines) != 2 || lines[0] != "Access key ID,Secret access key" {
				t.Fatalf("credentials.csv is not in the console's format: %q", csv)
			}
			id, secretKey, _ := strings.Cut(strings.TrimSpace(lines[1]), ",")
			if id != d.accessKeyID || len(secretKey) < 30 {
				t.Fatalf("credentials.csv holds %q (secret of %d characters), the email names %s", id, len(secretKey), d.accessKeyID)
			}
			d.secretKey = secretKey
			d.user = e.Destinations[0]
			out = append(out, d)
		}
	}
	return out
}

// keyAndPassword reads the new key ID from a password email's subject and the password
// from its text, where it stands alone on an indented line.
func keyAndPassword(t *testing.T, e sandboxtest.Email) (string, string) {
	t.Helper()
	var id, pw string
	for _, field := range strings.Fields(e.Subject) {
		if strings.HasPrefix(field, "AKIA") {
			id = field
		}
	}
	for _, line := range strings.Split(e.Text, "\n") {
		if candidate := strings.TrimSpace(line); strings.HasPrefix(line, "    ") && !strings.Contains(candidate, " ") &&
			len(candidate) >= notify.MinPasswordLength {
			pw = candidate
		}
	}
	if id == "" || pw == "" {
		t.Fatalf("cannot find the key ID and password in %q:\n%s", e.Subject, e.Text)
	}
	return id, pw
}

// sevenZip returns 7zz's path, failing with an install hint when it is missing.
func sevenZip(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("7zz")
	if err != nil {
		t.Fatal("7zz (7-Zip) is needed to check the delivered zip independently: install it with `apt-get install 7zip` (.ci/run does)")
	}
	return path
}

func sevenZipExtract(t *testing.T, zipped []byte, password, name string) string {
	t.Helper()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "credentials.zip")
	writeFile(t, zipPath, zipped)
	out, err := exec.Command(sevenZip(t), "x", "-so", "-p"+password, zipPath, name).Output()
	if err != nil {
		t.Fatalf("7zz x %s with the mailed password: %v", name, err)
	}
	return string(out)
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
