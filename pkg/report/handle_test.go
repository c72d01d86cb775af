package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// fakeS3 is a bucket in memory; ListObjectsV2 answers pageSize keys at a time.
type fakeS3 struct {
	mu       sync.Mutex
	objects  map[string][]byte
	pageSize int
}

var _ S3API = (*fakeS3)(nil)

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body))}, nil
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[aws.ToString(in.Key)] = body
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) && k > aws.ToString(in.ContinuationToken) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := &s3.ListObjectsV2Output{}
	if size := cmp.Or(f.pageSize, 1000); len(keys) > size { // S3's page: 1,000 keys
		keys = keys[:size]
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(keys[len(keys)-1])
	}
	for _, k := range keys {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	out.KeyCount = aws.Int32(int32(len(keys)))
	return out, nil
}

func (f *fakeS3) putJSON(t *testing.T, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f.objects[key] = b
}

type fakeSNS struct {
	messages []sns.PublishInput
	err      error // every Publish fails so
}

// emailText is what an email subscriber reads of a published message: with SNS's
// per-protocol structure, its default.
func emailText(t *testing.T, in sns.PublishInput) string {
	t.Helper()
	return sandboxtest.SNSMessage{Message: aws.ToString(in.Message), MessageStructure: aws.ToString(in.MessageStructure)}.For("email")
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.messages = append(f.messages, *in)
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

type fakeSES struct {
	sent int
	raws [][]byte // the raw messages sent
	err  error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.sent++
	f.raws = append(f.raws, in.Content.Raw.Data)
	return &sesv2.SendEmailOutput{MessageId: aws.String("e-1")}, nil
}

// TestNotifyFailuresReachTheReport: a notification that failed past its
// retries (recorded by the state machine under runs/<run>/notify-failures/<account>/<user>.json)
// is counted per account and in the totals, listed in report.json and report.csv, and brings
// the support email and an SNS alert, even when every account succeeded.
func TestNotifyFailuresReachTheReport(t *testing.T) {
	ctx := context.Background()
	store, listing := failedNotifications(t)
	prod, dev := workflow.Account{AccountID: "111111111111", Name: "prod"}, workflow.Account{AccountID: "222222222222", Name: "dev"}
	topic, ses := &fakeSNS{}, &fakeSES{}
	var metrics bytes.Buffer
	r := &Handler{S3: store, SNS: topic, Sender: notify.NewSender(ses, "", nil), Bucket: "reports", From: "rotator@example.com",
		SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
		Log: slog.New(slog.DiscardHandler), Metrics: &metrics}
	out, err := r.Handle(ctx, workflow.ReportRequest{Listing: listing})
	if err != nil {
		t.Fatal(err)
	}

	if out.Totals.NotifyFailures != 3 {
		t.Errorf("totals count %d notification failures, want 3", out.Totals.NotifyFailures)
	}
	var doc Document
	if err := json.Unmarshal(store.objects[out.JSONKey], &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{prod.AccountID: {"alice", "carol"}, dev.AccountID: {"bob"}}
	for _, a := range doc.Accounts {
		var users []string
		for _, f := range a.NotifyFailures {
			users = append(users, f.UserName)
			if f.Error != "FatalError" || !strings.Contains(f.Cause, "MessageRejected") {
				t.Errorf("account %s: failure %+v lost its error", a.Account.AccountID, f)
			}
		}
		if !slices.Equal(users, want[a.Account.AccountID]) || a.Counts.NotifyFailures != len(want[a.Account.AccountID]) {
			t.Errorf("account %s: report.json lists %v (count %d), want %v", a.Account.AccountID, users, a.Counts.NotifyFailures, want[a.Account.AccountID])
		}
	}

	rows, err := csv.NewReader(bytes.NewReader(store.objects[out.CSVKey])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var notified []string
	for _, row := range rows {
		if row[7] == NotifyFailedAction {
			notified = append(notified, row[1]+"/"+row[5])
			if row[10] != "false" || !strings.Contains(row[14], "FatalError: send to") {
				t.Errorf("notification failure row %q: want done false and the error", row)
			}
		}
	}
	if !slices.Equal(notified, []string{"111111111111/alice", "111111111111/carol", "222222222222/bob"}) {
		t.Errorf("report.csv has notification failures for %v, want alice, carol (prod) and bob (dev)", notified)
	}

	if ses.sent != 1 || !out.SupportEmailed {
		t.Errorf("support emails sent %d (SupportEmailed %v), want 1", ses.sent, out.SupportEmailed)
	}
	if summary := strings.Join(supportSummary(doc, out, r.Bucket), "\n"); !strings.Contains(summary, "Owners not notified (after the retries): 3") ||
		!strings.Contains(summary, "bob in 222222222222 (dev): FatalError") {
		t.Errorf("the support email's summary does not list the notification failures:\n%s", summary)
	}
	if len(topic.messages) != 1 {
		t.Fatalf("%d SNS alerts, want 1", len(topic.messages))
	}
	msg := emailText(t, topic.messages[0])
	for _, part := range []string{"3 owners not notified", "alice in 111111111111 (prod)", "bob in 222222222222 (dev)"} {
		if !strings.Contains(msg, part) {
			t.Errorf("the SNS alert does not say %q:\n%s", part, msg)
		}
	}
	if !strings.Contains(metrics.String(), `"NotifyFailures":3`) {
		t.Errorf("metrics %s: want NotifyFailures 3", metrics.String())
	}
}

// failedNotifications is a run of two accounts, both done, with three owners whose
// notification failed (and one record of another run).
func failedNotifications(t *testing.T) (*fakeS3, workflow.AccountList) {
	run := workflow.Run{RunID: "run-1", Now: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}
	prod := workflow.Account{AccountID: "111111111111", Name: "prod"}
	dev := workflow.Account{AccountID: "222222222222", Name: "dev"}
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 2}
	listing := workflow.AccountList{Run: run, AccountCount: 2, Bucket: "reports", Key: workflow.AccountsKey(run.RunID)}
	store.putJSON(t, listing.Key, []workflow.Account{prod, dev})
	store.putJSON(t, workflow.ResultKey(run.RunID, prod.AccountID), workflow.AccountResult{Run: run, Account: prod, Status: workflow.AccountDone,
		Counts: workflow.Counts{Users: 2, KeysCreated: 1, Notices: 2},
		Users: []workflow.UserResult{
			{UserName: "alice", Status: policy.StatusRotate, Actions: []workflow.ActionResult{
				{Action: policy.Action{Action: policy.CreateKey, Reason: "due"}, NewAccessKeyID: "AKIANEW", Done: true}}},
			{UserName: "carol", Status: policy.StatusOK, Reason: "notice only"}}})
	store.putJSON(t, workflow.ResultKey(run.RunID, dev.AccountID), workflow.AccountResult{Run: run, Account: dev, Status: workflow.AccountDone,
		Counts: workflow.Counts{Users: 1, Notices: 1}, Users: []workflow.UserResult{{UserName: "bob", Status: policy.StatusOK}}})
	failure := func(cause string) map[string]string { return map[string]string{"Error": "FatalError", "Cause": cause} }
	store.putJSON(t, workflow.NotifyFailureKey(run.RunID, prod.AccountID, "carol"), failure("send to carol@example.com: MessageRejected"))
	store.putJSON(t, workflow.NotifyFailureKey(run.RunID, prod.AccountID, "alice"), failure("send to alice@example.com: MessageRejected"))
	store.putJSON(t, workflow.NotifyFailureKey(run.RunID, dev.AccountID, "bob"), failure("send to bob@example.com: MessageRejected"))
	store.putJSON(t, workflow.NotifyFailureKey("run-0", dev.AccountID, "bob"), failure("another run's"))
	return store, listing
}

// TestSupportEmailRefusedStillAlerts: when SES refuses the support email itself (the outage
// that failed the notifications, say) the report is still written and the SNS alert says the
// email was not sent; the run does not fail for it. A retryable send error is returned, for
// the state machine to retry.
func TestSupportEmailRefusedStillAlerts(t *testing.T) {
	for _, tt := range []struct {
		name      string
		err       error
		wantError bool
	}{
		{"refused", &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified"}, false},
		{"throttled", &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, listing := failedNotifications(t)
			topic := &fakeSNS{}
			r := &Handler{S3: store, SNS: topic, Sender: notify.NewSender(&fakeSES{err: tt.err}, "", nil), Bucket: "reports",
				From: "rotator@example.com", SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
				Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
			out, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing})
			if tt.wantError {
				if err == nil || !workflow.IsRetryable(err) {
					t.Fatalf("error %v, want a retryable one", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("the run fails for its support email: %v", err)
			}
			if out.SupportEmailed || store.objects[out.CSVKey] == nil {
				t.Errorf("SupportEmailed %v, report.csv written %v", out.SupportEmailed, store.objects[out.CSVKey] != nil)
			}
			if len(topic.messages) != 1 || !strings.Contains(emailText(t, topic.messages[0]), "The support email was not sent: ") ||
				!strings.Contains(emailText(t, topic.messages[0]), "MessageRejected") {
				t.Errorf("SNS alerts %d, want one saying the support email was not sent and why", len(topic.messages))
			}
		})
	}
}

// TestAlertListsAreBounded: an SNS message holds at most 256 KB; with thousands of failed
// accounts or notifications the alert and the support email's summary name the first few and
// point to the report, and cut an error or a cause that is long (Step Functions keeps up to
// 32,768 characters of a cause).
func TestAlertListsAreBounded(t *testing.T) {
	for _, tt := range []struct {
		name      string
		errorSize int
		maxBytes  int
	}{
		{"short errors", 100, 32 * 1024},
		{"long errors", 32768, 128 * 1024},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := Document{Run: workflow.Run{RunID: "run-1"}}
			accountError, cause := strings.Repeat("x", tt.errorSize), strings.Repeat("é", tt.errorSize/2)
			for i := range 5000 {
				doc.Accounts = append(doc.Accounts, workflow.AccountResult{Account: workflow.Account{AccountID: "111111111111", Name: "prod"},
					Status: workflow.AccountFailed, Error: accountError,
					NotifyFailures: []workflow.NotifyFailure{{UserName: "user" + string(rune('a'+i%26)), Error: "FatalError", Cause: cause}}})
			}
			topic := &fakeSNS{}
			r := &Handler{SNS: topic, Bucket: "reports", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures"}
			out := workflow.Report{Accounts: 5000, FailedAccounts: 5000, Totals: workflow.Counts{NotifyFailures: 5000}, JSONKey: "reports/run-1/report.json"}
			if err := r.alert(context.Background(), doc, out, testExecution, nil); err != nil {
				t.Fatal(err)
			}
			if whole := len(aws.ToString(topic.messages[0].Message)); whole > snsMessageLimit {
				t.Errorf("the published message, email text and chat notification, is %d bytes: over SNS's %d", whole, snsMessageLimit)
			}
			if err := sandboxtest.CheckAlert(sandboxtest.SNSMessage{Message: aws.ToString(topic.messages[0].Message),
				MessageStructure: aws.ToString(topic.messages[0].MessageStructure)}); err != nil {
				t.Error(err)
			}
			msg := emailText(t, topic.messages[0])
			if len(msg) > tt.maxBytes || !strings.Contains(msg, "more in s3://reports/reports/run-1/report.json") || !utf8.ValidString(msg) {
				t.Errorf("alert of %d bytes (valid UTF-8 %v); want a bounded list that points to the report", len(msg), utf8.ValidString(msg))
			}
			summary := strings.Join(supportSummary(doc, out, r.Bucket), "\n")
			if len(summary) > tt.maxBytes || !utf8.ValidString(summary) {
				t.Errorf("support summary of %d bytes (valid UTF-8 %v), want at most %d", len(summary), utf8.ValidString(summary), tt.maxBytes)
			}
		})
	}
}

// TestRunThatCannotSeeBouncesAlerts: a run whose ListAccounts found that SES does not put
// bounced addresses on the suppression list confirms no delivery by email; even with every
// account done, the support email and the SNS alert say so, naming the setting and the fix.
func TestRunThatCannotSeeBouncesAlerts(t *testing.T) {
	problem := "the SES account's suppression settings (GetAccount SuppressionAttributes) have reasons [COMPLAINT], without BOUNCE; " +
		"fix: aws sesv2 put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT"
	run := workflow.Run{RunID: "run-1", Now: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), BounceProblem: problem}
	prod := workflow.Account{AccountID: "111111111111", Name: "prod"}
	store := &fakeS3{objects: map[string][]byte{}}
	listing := workflow.AccountList{Run: run, AccountCount: 1, Bucket: "reports", Key: workflow.AccountsKey(run.RunID)}
	store.putJSON(t, listing.Key, []workflow.Account{prod})
	store.putJSON(t, workflow.ResultKey(run.RunID, prod.AccountID), workflow.AccountResult{Run: run, Account: prod, Status: workflow.AccountDone,
		Counts: workflow.Counts{Users: 1}, Users: []workflow.UserResult{}})
	topic, ses := &fakeSNS{}, &fakeSES{}
	r := &Handler{S3: store, SNS: topic, Sender: notify.NewSender(ses, "", nil), Bucket: "reports", From: "rotator@example.com",
		SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
		Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
	out, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing})
	if err != nil {
		t.Fatal(err)
	}
	if !out.SupportEmailed || ses.sent != 1 || !strings.Contains(string(ses.raws[0]), "without BOUNCE") {
		t.Errorf("support email sent %d (SupportEmailed %v); want one saying BOUNCE is not suppressed", ses.sent, out.SupportEmailed)
	}
	if len(topic.messages) != 1 {
		t.Fatalf("%d SNS alerts, want 1", len(topic.messages))
	}
	msg, subject := emailText(t, topic.messages[0]), aws.ToString(topic.messages[0].Subject)
	for _, part := range []string{"Bounces NOT suppressed", "without BOUNCE", "put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT"} {
		if !strings.Contains(msg, part) {
			t.Errorf("the SNS alert does not say %q:\n%s", part, msg)
		}
	}
	if !strings.Contains(subject, "bounces not suppressed") {
		t.Errorf("SNS subject %q does not say it", subject)
	}
	run.BouncesSuppressed, run.BounceProblem = true, ""
	if needsHuman(Document{Run: run}) {
		t.Errorf("a run that sees bounces and has nothing else to say needs a human")
	}
}

// TestCanaryRecordedOnlyForARunThatWentRight: a run that wrote, over the accounts its input
// named, every account done and every owner notified, records the canary a cleanup run waits
// for; a dry run, a run of the whole organization, a cleanup run, one whose notifications
// failed, or one that could not see bounces (it cannot tell that an owner's email arrived,
// and alerts) does not.
func TestCanaryRecordedOnlyForARunThatWentRight(t *testing.T) {
	for _, tt := range []struct {
		name         string
		run          workflow.Run
		notifyFailed bool
		want         bool
	}{
		{"a few accounts, all notified", workflow.Run{Accounts: []string{"111111111111", "222222222222"}}, false, true},
		{"a few accounts, an owner not notified", workflow.Run{Accounts: []string{"111111111111", "222222222222"}}, true, false},
		{"a few accounts, bounces not suppressed", workflow.Run{Accounts: []string{"111111111111", "222222222222"},
			BounceProblem: "the SES account's suppression settings have reasons [COMPLAINT], without BOUNCE"}, false, false},
		{"dry run", workflow.Run{Accounts: []string{"111111111111"}, DryRun: true}, false, false},
		{"the whole organization", workflow.Run{}, false, false},
		{"cleanup", workflow.Run{Accounts: []string{"111111111111"}, Cleanup: true}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, listing := failedNotifications(t)
			tt.run.RunID, tt.run.Now = listing.Run.RunID, listing.Run.Now
			listing.Run = tt.run
			if !tt.notifyFailed {
				for key := range store.objects {
					if strings.HasPrefix(key, "runs/") && strings.Contains(key, "/notify-failures/") {
						delete(store.objects, key)
					}
				}
			}
			r := &Handler{S3: store, SNS: &fakeSNS{}, Sender: notify.NewSender(&fakeSES{}, "", nil), Bucket: "reports",
				From: "rotator@example.com", SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
				Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
			if _, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing}); err != nil {
				t.Fatal(err)
			}
			raw, recorded := store.objects[workflow.CanaryKey]
			if recorded != tt.want {
				t.Fatalf("canary recorded %v, want %v", recorded, tt.want)
			}
			var c workflow.Canary
			if recorded && (json.Unmarshal(raw, &c) != nil || c.RunID != "run-1" || !slices.Equal(c.Accounts, tt.run.Accounts)) {
				t.Errorf("canary record %s", raw)
			}
		})
	}
}

// snsMessageLimit is SNS's largest message: 256 KiB, the per-protocol structure whole.
const snsMessageLimit = 256 * 1024

// testExecution is an execution as the state machine names it to CleanupReport.
var testExecution = workflow.Execution{ARN: "arn:aws:states:us-east-1:999999999999:execution:iam-access-key-rotator:run-1",
	Account: "999999999999",
	ConsoleURL: "https://console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" +
		"arn:aws:states:us-east-1:999999999999:execution:iam-access-key-rotator:run-1"}

// TestRunMessagesReadInChatAndByEmail: the run's alert and, with SummaryToTopic, its summary
// are each one publish that Chatbot renders (a custom notification under https, with the
// account and the execution's link) and email reads as text (default); without
// SummaryToTopic a run that went right publishes nothing.
func TestRunMessagesReadInChatAndByEmail(t *testing.T) {
	for _, tt := range []struct {
		name     string
		failures bool
		summary  bool
		subjects []string
	}{
		{"alert", true, false, []string{"Key rotation: 3 owners not notified"}},
		{"alert and summary", true, true, []string{"Key rotation: 3 owners not notified", "Key rotation summary: 2026-11-25, daily run"}},
		{"summary of a run that went right", false, true, []string{"Key rotation summary: 2026-11-25, daily run"}},
		{"a run that went right", false, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, listing := failedNotifications(t)
			if !tt.failures {
				for k := range store.objects {
					if strings.Contains(k, "/notify-failures/") {
						delete(store.objects, k)
					}
				}
			}
			topic := &fakeSNS{}
			r := &Handler{S3: store, SNS: topic, Sender: notify.NewSender(&fakeSES{}, "", nil), Bucket: "reports", From: "rotator@example.com",
				SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures", SummaryToTopic: tt.summary,
				Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
			if _, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing, Execution: testExecution}); err != nil {
				t.Fatal(err)
			}
			var subjects []string
			for _, in := range topic.messages {
				subjects = append(subjects, aws.ToString(in.Subject))
				m := sandboxtest.SNSMessage{Message: aws.ToString(in.Message), MessageStructure: aws.ToString(in.MessageStructure)}
				if err := sandboxtest.CheckAlert(m); err != nil {
					t.Errorf("%q: %v", aws.ToString(in.Subject), err)
				}
				text, chat := m.For("email"), m.For("https")
				for _, part := range []string{"run-1", testExecution.ConsoleURL, "Full report: s3://reports/reports/run-1/report.json"} {
					if strings.HasPrefix(aws.ToString(in.Subject), AlertSubjectPrefix) && strings.HasPrefix(part, "Full") {
						part = "Report: s3://reports/reports/run-1/report.json"
					}
					if !strings.Contains(text, part) || !strings.Contains(chat, part) {
						t.Errorf("%q: the email or the chat does not say %q:\n%s\n%s", aws.ToString(in.Subject), part, text, chat)
					}
				}
			}
			if !slices.Equal(subjects, tt.subjects) {
				t.Errorf("published %q, want %q", subjects, tt.subjects)
			}
		})
	}
}

// TestSummaryRefusedDoesNotFailTheRun: a summary SNS refuses is logged; the run's report
// stands and the step does not fail (a retry would send the support email again), while a
// refused alert still fails it, for the state machine to retry.
func TestSummaryRefusedDoesNotFailTheRun(t *testing.T) {
	for _, failures := range []bool{false, true} {
		store, listing := failedNotifications(t)
		if !failures {
			for k := range store.objects {
				if strings.Contains(k, "/notify-failures/") {
					delete(store.objects, k)
				}
			}
		}
		r := &Handler{S3: store, SNS: &fakeSNS{err: errors.New("throttled")}, Sender: notify.NewSender(&fakeSES{}, "", nil), Bucket: "reports",
			From: "rotator@example.com", SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
			SummaryToTopic: true, Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
		_, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing, Execution: testExecution})
		if failures != (err != nil) {
			t.Errorf("with failures %v: error %v", failures, err)
		}
	}
}
