package org

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// AssumedOrgThrottle is the Organizations rate the rotator is assumed to get in the
// management account (docs/scale.md, "ListAccounts and Organizations' throttling"): AWS
// publishes no request rate for Organizations' List calls; the lowest read rate it publishes
// for the management account's Account Management API is 3 a second (GetAccountInformation,
// burst 3), and Organizations' throttle is shared by every tool of the management account,
// so the rotator is assumed two thirds of that: 2 a second, a burst of 4, each attempt taking
// 250 ms.
var AssumedOrgThrottle = awsmodel.OrgThrottle{Rate: 2, Burst: 4, Latency: 250 * time.Millisecond}

// scaleOrganization is an organization of n accounts: every 50th in an OU below the
// excluded one, every 40th tagged for exclusion, every 100th SUSPENDED.
func scaleOrganization(t *testing.T, n int) (*awsmodel.World, string) {
	w := awsmodel.New(func() time.Time { return time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC) }, 1)
	const sandbox, deeper, workloads = "ou-a1b2-sandbox1", "ou-a1b2-sandbdeep", "ou-a1b2-workload"
	for _, ou := range [][2]string{{sandbox, awsmodel.OrgRoot}, {deeper, sandbox}, {workloads, awsmodel.OrgRoot}} {
		if err := w.AddOU(ou[0], ou[1]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		parent, state, tags := workloads, orgtypes.AccountStateActive, map[string]string{"team": "t" + fmt.Sprint(i%7)}
		switch {
		case i%50 == 0:
			parent = deeper
		case i%100 == 1:
			state = orgtypes.AccountStateSuspended
		case i%40 == 3:
			tags["key-rotator:exclude"] = "true"
		}
		if err := w.AddOrgAccount(fmt.Sprintf("%012d", 100000000000+i), fmt.Sprint("account-", i), state, parent, tags); err != nil {
			t.Fatal(err)
		}
	}
	return w, sandbox
}

// TestListAccountsStaysWithinItsTimeoutAt10000Accounts: at 10,000 accounts, on the model of
// Organizations throttled at AssumedOrgThrottle with the SDK's retries, ListAccounts makes
// one ListAccounts call per 20 accounts and the walk of the excluded OUs, and no call per
// account (each account's ScanAndRotate reads its exclusion tag), and finishes in under half
// its Lambda timeout.
func TestListAccountsStaysWithinItsTimeoutAt10000Accounts(t *testing.T) {
	const n = 10000
	w, excludedOU := scaleOrganization(t, n)
	throttle := AssumedOrgThrottle
	w.OrgThrottle = &throttle
	store := &fakeS3{objects: map[string][]byte{}}
	l := &Handler{Org: w.Organizations(), S3: store, Bucket: "reports", ExcludedOUs: []string{excludedOU},
		ExcludeTagKey: "key-rotator:exclude", ExcludeTagValue: "true", Log: slog.New(slog.DiscardHandler), SendRate: oneASecond}
	got, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "run-1", StartTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	stats := w.OrgStats()
	timeout := statemachine.Functions[0].Timeout
	t.Logf("%d accounts, %d selected: %d Organizations calls %v, %d attempts (%d throttled), %s of %s",
		n, got.AccountCount, stats.Calls, stats.ByOperation, stats.Attempts, stats.Throttled, stats.Elapsed.Round(time.Second), timeout)
	// 500 pages of accounts; 2 OUs walked, 10 and 190 accounts in them: 1 + 10 pages of
	// accounts and one page of child OUs each.
	if want := n/20 + (1 + 10) + 2; stats.Calls != want || stats.ByOperation["ListTagsForResource"] != 0 || stats.Failed != 0 {
		t.Errorf("%d Organizations calls %v (%d failed), want %d and no tag read", stats.Calls, stats.ByOperation, stats.Failed, want)
	}
	if stats.Elapsed > timeout/2 {
		t.Errorf("ListAccounts took %s on Organizations at %v, over half its timeout of %s", stats.Elapsed, throttle, timeout)
	}
	// Every ACTIVE account outside the excluded OU, the tagged ones included: their own
	// ScanAndRotate leaves them alone.
	if want := n - n/50 - n/100; got.AccountCount != want {
		t.Errorf("%d accounts selected, want %d", got.AccountCount, want)
	}
}
