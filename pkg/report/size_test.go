package report

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// supportMessageLimit is the bound the support email must stay under (notify.SupportMessageLimit).
const supportMessageLimit = notify.SupportMessageLimit

// TestSupportEmailOfALargeOrganizationAttachesTheCSVCompressed: at 10,000
// accounts report.csv is about 13 MB, 18 MB in the email once base64-encoded, over what the
// support email may carry; the email stays under the limit and carries the CSV gzipped,
// which decompresses to exactly the report.csv written to S3.
func TestSupportEmailOfALargeOrganizationAttachesTheCSVCompressed(t *testing.T) {
	store, listing := mixedOrganization(t, 10_000)
	ses := &fakeSES{}
	out := handleLarge(t, store, listing, ses)

	table := store.objects[out.CSVKey]
	if len(table) < supportMessageLimit {
		t.Fatalf("report.csv is %d bytes: the test needs one over the limit (%d)", len(table), supportMessageLimit)
	}
	if len(ses.raws) != 1 || !out.SupportEmailed {
		t.Fatalf("support emails sent %d (SupportEmailed %v), want 1", len(ses.raws), out.SupportEmailed)
	}
	raw := ses.raws[0]
	if len(raw) > supportMessageLimit {
		t.Errorf("the support email is %d bytes, over the limit of %d", len(raw), supportMessageLimit)
	}
	text, attachments := readMail(t, raw)
	name := "key-rotation-report-2026-11-25.csv.gz"
	zipped, ok := attachments[name]
	if !ok || len(attachments) != 1 {
		t.Fatalf("attachments %v, want only %s", keys(attachments), name)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatalf("%s is not gzip: %v", name, err)
	}
	csv, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompress %s: %v", name, err)
	}
	if !bytes.Equal(csv, table) {
		t.Errorf("%s decompresses to %d bytes, not the %d bytes of report.csv", name, len(csv), len(table))
	}
	for _, want := range []string{"attached compressed with gzip as " + name, "s3://reports/" + out.CSVKey} {
		if !strings.Contains(oneLine(text), want) {
			t.Errorf("the email does not say %q:\n%s", want, text)
		}
	}
}

// TestSupportEmailOfAnUncompressibleReportPointsToS3: a report.csv that is over the limit
// even gzipped (an organization whose errors are long and unlike each other) is not
// attached; the email, under the limit, says why and where the report is.
func TestSupportEmailOfAnUncompressibleReportPointsToS3(t *testing.T) {
	store, listing := erraticOrganization(t, 20_000)
	ses := &fakeSES{}
	out := handleLarge(t, store, listing, ses)

	if len(ses.raws) != 1 || !out.SupportEmailed {
		t.Fatalf("support emails sent %d (SupportEmailed %v), want 1", len(ses.raws), out.SupportEmailed)
	}
	raw := ses.raws[0]
	if len(raw) > supportMessageLimit {
		t.Errorf("the support email is %d bytes, over the limit of %d", len(raw), supportMessageLimit)
	}
	text, attachments := readMail(t, raw)
	if len(attachments) != 0 {
		t.Errorf("attachments %v, want none", keys(attachments))
	}
	for _, want := range []string{"The report is not attached: it is too large even compressed", "The full report is at s3://reports/" + out.CSVKey} {
		if !strings.Contains(oneLine(text), want) {
			t.Errorf("the email does not say %q:\n%s", want, text)
		}
	}
}

func handleLarge(t *testing.T, store *fakeS3, listing workflow.AccountList, ses *fakeSES) workflow.Report {
	t.Helper()
	r := &Handler{S3: store, SNS: &fakeSNS{}, Sender: notify.NewSender(ses, "", nil), Bucket: "reports", From: "rotator@example.com",
		SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
		Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
	out, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var testRun = workflow.Run{RunID: "5f0c2a3e-8d1b-4c6f-9a7e-2b4d6f8a0c1e", Now: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}

// mixedOrganization is a run of n accounts like the benchmark's mixed ones (BENCHMARKS.md):
// five users each, one given a new key, two notified, one with nothing due and one without a
// usable email (which brings the support email), with the policy's reasons and random key
// IDs, as IAM makes them. report.csv has six rows an account, about 1,300 bytes.
func mixedOrganization(t *testing.T, n int) (*fakeS3, workflow.AccountList) {
	t.Helper()
	rnd := rand.New(rand.NewChaCha8([32]byte{11}))
	keyID := func() string { return "AKIA" + randomString(rnd, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) }
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 1000}
	used := testRun.Now.Add(-26 * time.Hour)
	usage := func(id, service, region string) policy.Usage {
		return policy.Usage{AccessKeyID: id, LastUsedDate: &used, Service: service, Region: region}
	}
	accounts := make([]workflow.Account, n)
	for i := range accounts {
		a := workflow.Account{AccountID: randomString(rnd, "0123456789", 12), Name: fmt.Sprintf("mixed-%04d", i)}
		accounts[i] = a
		deployOld, etlOld, etlNew := keyID(), keyID(), keyID()
		store.putJSON(t, workflow.ResultKey(testRun.RunID, a.AccountID), workflow.AccountResult{Run: testRun, Account: a, Status: workflow.AccountDone,
			Counts: workflow.Counts{Users: 5, KeysCreated: 1, Notices: 3, NoUsableEmail: 1, IAMCalls: 20},
			Users: []workflow.UserResult{
				{UserName: "deploy", Status: policy.StatusRotate,
					Actions: []workflow.ActionResult{{Action: policy.Action{Action: policy.CreateKey, Replaces: deployOld, DeactivateOn: "2026-12-05",
						Reason: fmt.Sprintf("key %s is 85 days old (new key at 80) and has no replacement: create a new key; %s will be deactivated on 2026-12-05", deployOld, deployOld)},
						Done: true, NewAccessKeyID: keyID()}},
					Keys: []policy.KeyUsage{{Usage: usage(deployOld, "s3", "eu-west-1"), Status: policy.Active, DeactivateOn: "2026-12-05"}}},
				{UserName: "etl", Status: policy.StatusNotify, Keys: []policy.KeyUsage{
					{Usage: usage(etlOld, "sts", "us-east-1"), Status: policy.Active, Replacement: &policy.Usage{AccessKeyID: etlNew}, DeactivateOn: "2026-11-30"},
					{Usage: policy.Usage{AccessKeyID: etlNew}, Status: policy.Active}}},
				{UserName: "reporting", Status: policy.StatusNotify, Keys: []policy.KeyUsage{
					{Usage: usage(keyID(), "dynamodb", "eu-central-1"), Status: policy.Active, DeactivateOn: "2026-12-02"}}},
				{UserName: "alice", Status: policy.StatusOK, Reason: "nothing due: oldest key is 31 days old (new key at 80, deactivate at 90)",
					Keys: []policy.KeyUsage{{Usage: usage(keyID(), "ec2", "eu-west-1"), Status: policy.Active}}},
				{UserName: "build-bot", Status: policy.StatusOK, Reason: "nothing due: oldest key is 12 days old (new key at 80, deactivate at 90)",
					EmailProblem: "no EmailID or Email tag",
					Keys:         []policy.KeyUsage{{Usage: usage(keyID(), "codeartifact", "us-east-1"), Status: policy.Active}}},
			}})
	}
	listing := workflow.AccountList{Run: testRun, AccountCount: n, Bucket: "reports", Key: workflow.AccountsKey(testRun.RunID)}
	store.putJSON(t, listing.Key, accounts)
	return store, listing
}

// erraticOrganization is a run of one account whose n users each failed with a long error
// unlike any other (600 random characters): report.csv is about 15 MB, and gzip gains little.
func erraticOrganization(t *testing.T, n int) (*fakeS3, workflow.AccountList) {
	t.Helper()
	rnd := rand.New(rand.NewChaCha8([32]byte{12}))
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 1000}
	a := workflow.Account{AccountID: "111111111111", Name: "prod"}
	res := workflow.AccountResult{Run: testRun, Account: a, Status: workflow.AccountDone, Counts: workflow.Counts{Users: n, Failures: n}}
	for i := range n {
		res.Users = append(res.Users, workflow.UserResult{UserName: fmt.Sprintf("user-%05d", i), Status: policy.StatusOK,
			Error: "list access keys: " + randomString(rnd, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 600)})
	}
	store.putJSON(t, workflow.ResultKey(testRun.RunID, a.AccountID), res)
	listing := workflow.AccountList{Run: testRun, AccountCount: 1, Bucket: "reports", Key: workflow.AccountsKey(testRun.RunID)}
	store.putJSON(t, listing.Key, []workflow.Account{a})
	return store, listing
}

func randomString(rnd *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// readMail reads a raw MIME message: its text/plain body and its attachments by file name,
// decoded (not its inline parts).
func readMail(t *testing.T, raw []byte) (text string, attachments map[string][]byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	attachments = map[string][]byte{}
	var walk func(contentType, encoding, disposition string, body io.Reader)
	walk = func(contentType, encoding, disposition string, body io.Reader) {
		mediaType, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			t.Fatalf("content type %q: %v", contentType, err)
		}
		if strings.HasPrefix(mediaType, "multipart/") {
			parts := multipart.NewReader(body, params["boundary"])
			for {
				p, err := parts.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("next part: %v", err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
			}
		}
		if strings.EqualFold(encoding, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read %s part: %v", mediaType, err)
		}
		// An inline part (a chart the HTML shows) is no attachment.
		if d, dp, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" && dp["filename"] != "" {
			attachments[dp["filename"]] = data
		} else if mediaType == "text/plain" {
			text = string(data)
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body)
	return text, attachments
}

func keys(m map[string][]byte) []string {
	var names []string
	for name := range m {
		names = append(names, name)
	}
	return names
}

// oneLine joins a wrapped text body into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
