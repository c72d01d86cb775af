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

// quietAccount is an organization with one member account of n users whose keys are in use
// and between minAge and minAge+9 days old: nothing is due at the organization's limit. Its
// credential report is yesterday's, as on a daily run: IAM makes a new one.
func quietAccount(n, minAge int) *sandbox.Scenario {
	used, reportAge := 0, 24
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "quiet"}}, CredentialReportHoursAgo: &reportAge}
	for i := range n {
		sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: fmt.Sprintf("user-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("user-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: minAge + i%10, LastUsedDaysAgo: &used}}})
	}
	return sc
}

// TestQuietAccountCost: an account where nothing is due costs 3 IAM and STS calls (its
// iamCalls: the AssumeRole, GenerateCredentialReport, which answers STARTED as for a report
// IAM makes anew, and GetCredentialReport, ready at the first poll on the stand-in; on AWS
// each poll that finds the report still in progress adds one), whatever its user count,
// while its keys are too young for any RotationDays tag to make them due; once some are old
// enough for that, every user's tags are read too, at one GetAccountAuthorizationDetails page
// per 1,000 users (IAM has no call that finds the users carrying a tag): 4 calls up to 1,000
// users. Nothing is written either way.
func TestQuietAccountCost(t *testing.T) {
	for _, tt := range []struct {
		name       string
		users, age int
		want       int
	}{
		{"50 users, keys of 0 to 9 days", 50, 0, 3},
		{"1,001 users, keys of 0 to 9 days", 1001, 0, 3},
		{"1,000 users, keys of 20 to 29 days", 1000, 20, 3 + 1},
		{"1,001 users, keys of 20 to 29 days", 1001, 20, 3 + 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			sb := sandboxtest.New(t, quietAccount(tt.users, tt.age))
			seeded := time.Since(start)
			r := rigFor(t, sb)
			res := r.run(`{"accounts":["` + r.accountID("quiet") + `"]}`)
			o := res.outcomes[0]
			if o.Status != workflow.AccountDone || o.Counts.Users != tt.users || o.NotificationCount != 0 ||
				o.Counts.KeysCreated+o.Counts.KeysDeactivated+o.Counts.KeysDeleted != 0 {
				t.Fatalf("outcome %+v", o)
			}
			t.Logf("%d IAM/STS calls (stand-in started and seeded in %v)", o.Counts.IAMCalls, seeded.Round(time.Millisecond))
			if o.Counts.IAMCalls != tt.want {
				t.Errorf("%d IAM/STS calls, want %d", o.Counts.IAMCalls, tt.want)
			}
		})
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
