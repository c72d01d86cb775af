package sim

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// harness runs the real ScanAndRotate and NotifyUser of one account against the model, one
// step at a time, for the regression tests of issue 9's cases. It is the one file these
// tests share with the rotator's API: the cases themselves only call its methods.
type harness struct {
	t        *testing.T
	w        *awsmodel.World
	now      time.Time
	dayStart time.Time
	acct     workflow.Account
	logs     bytes.Buffer
	runs     int
	maxUsers int // the policy's maxUsers (0: its default)
	// appSecrets is the member account's Secrets Manager as the rotator sees it (nil: the
	// model's, with no IAM between).
	appSecrets appsecret.API
	// maxNotifications is the rotator's MaxNotifications (0: its default).
	maxNotifications int
	// seal signs the rotator's tags (its tag key, which only the rotator's Lambdas read).
	seal *history.Seal
}

// harnessTagKey is the rotator's tag key in the harness.
const harnessTagKey = "harness-tag-key-of-the-rotator-0123456789"

// signedTag sets a rotator tag on a user as the rotator would write it, signed.
func (h *harness) signedTag(user, key, value string) {
	must(h.w.SetTag(testAccount, user, key, h.seal.Sign(testAccount, user, key, value)))
}

// memberSecrets is the member account's Secrets Manager as the rotator's calls reach it.
func (h *harness) memberSecrets() appsecret.API {
	if h.appSecrets != nil {
		return h.appSecrets
	}
	return h.w.SecretsIn(testAccount)
}

const testAccount = "111122223333"

func newHarness(t *testing.T) *harness {
	// The wall clock's time: the rotator dates its pending marks by it.
	// Tomorrow at 13:00 UTC: later than the wall clock, which the rotator before issue 9's
	// fixes used to date its pending marks.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(37 * time.Hour)
	seal, err := history.NewSeal([]byte(harnessTagKey))
	must(err)
	h := &harness{t: t, now: start, dayStart: start, acct: workflow.Account{AccountID: testAccount, Name: "prod"}, seal: seal}
	h.w = awsmodel.New(func() time.Time { return h.now }, 1)
	h.w.VerifySES(domain)
	h.w.CreateBucket(reportBucket)
	h.w.ListSecretsDelay = 0
	return h
}

// user makes a user with an email tag (and any other tags) and keys of the given ages in
// days, all used an hour ago; it returns the keys' IDs.
func (h *harness) user(name string, tags map[string]string, ages ...int) []string {
	h.t.Helper()
	all := map[string]string{"EmailID": name + "@" + domain}
	for k, v := range tags {
		all[k] = v
	}
	return h.taggedUser(name, all, ages...)
}

// taggedUser makes a user with exactly these tags (no email tag added) and keys of the given
// ages in days, used an hour ago.
func (h *harness) taggedUser(name string, tags map[string]string, ages ...int) []string {
	h.t.Helper()
	must(h.w.CreateUser(testAccount, name, tags))
	var ids []string
	for _, age := range ages {
		id, _, err := h.w.AddKey(testAccount, name, h.now.AddDate(0, 0, -age), types.StatusTypeActive)
		must(err)
		must(h.w.UseKey(testAccount, id, h.now.Add(-time.Hour), "s3", "us-east-1"))
		ids = append(ids, id)
	}
	h.now = h.now.Add(time.Minute) // past IAM's consistency window for the seeded keys
	return ids
}

// scan runs ScanAndRotate once and returns its notifications.
func (h *harness) scan() []workflow.Notification {
	h.t.Helper()
	_, notes := h.scanWith(context.Background())
	return notes
}

// scanWith runs ScanAndRotate once under ctx (its deadline is the Lambda's).
func (h *harness) scanWith(ctx context.Context) (workflow.AccountResult, []workflow.Notification) {
	h.t.Helper()
	h.runs++
	iamClient := h.w.IAM(testAccount)
	r := &rotate.Rotator{IAM: iamClient, Secrets: h.w.Secrets(), AppSecrets: h.memberSecrets(), Scanner: &scan.Scanner{IAM: iamClient, PollInterval: time.Nanosecond, Reserve: rotate.TimeReserve},
		Bounces: rotate.SESBounces{SES: h.w.SES()}, Policy: policy.Config{AllowedEmailDomains: []string{domain}, MaxUsers: h.maxUsers},
		MaxNotifications: h.maxNotifications, HandoffPrefix: "handoff/", Seal: h.seal, Clock: func() time.Time { return h.now }, Log: slog.New(slog.NewJSONHandler(&h.logs, nil)),
		Leases: &lease.Leases{S3: h.w.S3(), Bucket: reportBucket, Clock: func() time.Time { return h.now }}}
	run := workflow.Run{RunID: "run-" + h.now.Format("20060102-150405"), Now: h.now}
	// As ListAccounts checks SES's suppression settings once per execution (NotifyUser sends
	// through no configuration set here: the account's settings govern).
	problem, err := suppression.Check(ctx, h.w.SES(), "")
	if err != nil {
		h.t.Fatalf("ListAccounts' check of SES's suppression settings: %v", err)
	}
	run.BouncesSuppressed, run.BounceProblem = problem == "", problem
	res, notes, err := r.Process(ctx, run, h.acct)
	if err != nil {
		h.t.Fatalf("ScanAndRotate: %v", err)
	}
	h.now = h.now.Add(time.Second)
	return res, notes
}

// notify runs NotifyUser for each notification, ignoring failures (the ASL reports them).
func (h *harness) notify(notes []workflow.Notification) {
	d := &notify.Deliverer{Secrets: h.w.Secrets(), AppSecrets: func(string) appsecret.API { return h.memberSecrets() }, Sender: notify.NewSender(h.w.SES(), "", nil), From: "rotator@" + domain,
		History: func(string) history.TagAPI { return h.w.IAM(testAccount) }, Now: func() time.Time { return h.now }, Seal: h.seal,
		Log: slog.New(slog.NewJSONHandler(&h.logs, nil))}
	for _, n := range notes {
		_, _ = d.Handle(context.Background(), n)
	}
}

// day runs one daily execution and moves to the next day's run.
func (h *harness) day() {
	h.notify(h.scan())
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
}
