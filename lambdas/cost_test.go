package lambdas_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// quietAccount is an organization with one member account of n users whose keys are all
// young and in use: nothing is due.
func quietAccount(n int) *sandbox.Scenario {
	used := 0
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "quiet"}}}
	for i := range n {
		sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: fmt.Sprintf("user-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("user-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 10 + i%60, LastUsedDaysAgo: &used}}})
	}
	return sc
}

// TestQuietAccountCostIsFlat: an account where nothing is due costs the same handful of IAM
// and STS calls (its iamCalls: the AssumeRole, the credential report, and every user's tags
// in one GetAccountAuthorizationDetails page per 1,000 users, since keys of 20 days and
// more could be due by a RotationDays tag) with 50 users as with 500, at most 5, and
// touches nothing.
func TestQuietAccountCostIsFlat(t *testing.T) {
	calls := map[int]int{}
	for _, n := range []int{50, 500} {
		start := time.Now()
		sb := sandboxtest.New(t, quietAccount(n))
		seeded := time.Since(start)
		r := rigFor(t, sb)
		res := r.run(`{"accounts":["` + r.accountID("quiet") + `"]}`)
		o := res.outcomes[0]
		if o.Status != workflow.AccountDone || o.Counts.Users != n || o.NotificationCount != 0 ||
			o.Counts.KeysCreated+o.Counts.KeysDeactivated+o.Counts.KeysDeleted != 0 {
			t.Fatalf("%d quiet users: outcome %+v", n, o)
		}
		calls[n] = o.Counts.IAMCalls
		t.Logf("%d users: %d IAM/STS calls (stand-in started and seeded in %v)", n, o.Counts.IAMCalls, seeded.Round(time.Millisecond))
	}
	if calls[50] != calls[500] {
		t.Errorf("IAM calls grow with the user count: %d with 50 users, %d with 500", calls[50], calls[500])
	}
	if calls[500] > 5 {
		t.Errorf("%d IAM/STS calls for an account where nothing is due, want at most 5", calls[500])
	}
}

// wireLog records the Action of every query-protocol request (IAM and STS) sent through it:
// the calls as the stand-in received them, independent of the SDK's middleware.
type wireLog struct {
	next    aws.HTTPClient
	mu      sync.Mutex
	actions map[string]int
}

func (w *wireLog) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		w.mu.Lock()
		w.actions[form.Get("Action")]++
		w.mu.Unlock()
	}
	return w.next.Do(req)
}

func (w *wireLog) take() (map[string]int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	got, total := w.actions, 0
	for _, n := range got {
		total += n
	}
	w.actions = map[string]int{}
	return got, total
}

// TestIAMCallsAreTheCallsMade: each account's iamCalls, in ScanAndRotate's outcome and in
// report.json and report.csv, is the number of IAM and STS requests its ScanAndRotate sent
// to the stand-in (the AssumeRole of the member role, the scan, the reads and writes of
// every user acted on), as recorded on the wire under the SDK.
func TestIAMCallsAreTheCallsMade(t *testing.T) {
	r := newRig(t, "org.json")
	wire := &wireLog{next: awshttp.NewBuildableClient(), actions: map[string]int{}}
	// Base only builds the member role's STS and IAM clients; S3, Secrets Manager and SES
	// were built before and do not go through wire.
	r.scan.Base = r.scan.Base.Copy()
	r.scan.Base.HTTPClient = wire
	for _, account := range []string{"prod", "dev"} {
		res := r.run(`{"accounts":["` + r.accountID(account) + `"]}`)
		sent, total := wire.take()
		o := res.outcomes[0]
		t.Logf("%s: %d users, %d keys created, %d IAM/STS calls: %v", account, o.Counts.Users, o.Counts.KeysCreated, total, sent)
		if sent["AssumeRole"] != 1 || sent["CreateAccessKey"] != o.Counts.KeysCreated || sent["ListAccessKeys"] == 0 {
			t.Errorf("%s: the requests sent %v do not show the run's assume, scan and writes", account, sent)
		}
		if o.Counts.IAMCalls != total {
			t.Errorf("%s: outcome says iamCalls %d, %d requests were sent: %v", account, o.Counts.IAMCalls, total, sent)
		}
		if res.report.Totals.IAMCalls != total {
			t.Errorf("%s: report totals say iamCalls %d, %d requests were sent", account, res.report.Totals.IAMCalls, total)
		}
		csv := string(r.object(res.report.CSVKey))
		if want := fmt.Sprintf(",%s,%s,done,%d,", r.accountID(account), account, total); !strings.Contains(csv, want) {
			t.Errorf("%s: report.csv has no iam_calls %d (%q):\n%s", account, total, want, csv)
		}
	}
}
