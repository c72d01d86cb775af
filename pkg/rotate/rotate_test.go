package rotate_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of one account's run (rotate.go): the work bounded per invocation and the
// order users are served in, run on the AWS model by sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 9: a malformed hand-off secret is set aside; the account's other users are processed.
func TestCase9MalformedSecretDoesNotFailTheAccount(t *testing.T) {
	h := scenario.New(t)
	h.User("judy", nil, 85)
	_, err := h.W.Secrets().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("handoff/" + scenario.Account + "/someone/garbage"), SecretString: aws.String("{}")})
	scenario.Must(err)
	h.Day()
	if len(h.Received("judy")) != 1 {
		t.Errorf("judy received %v: one malformed secret stopped the account", h.Received("judy"))
	}
}

// TestBoundedWorkPerInvocation (docs/scale.md, bounded work): an invocation whose Lambda is about to time out
// reads and writes no more users; they are reported deferred and the next run takes them.
func TestBoundedWorkPerInvocation(t *testing.T) {
	h := scenario.New(t)
	h.User("kim", nil, 85)
	h.User("lee", nil, 95, 5)
	writes := 0
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && c.Operation != "GenerateCredentialReport" {
			writes++
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(rotate.TimeReserve/2))
	defer cancel()
	res, notes := h.ScanWith(ctx)
	if writes != 0 || len(notes) != 0 || res.Counts.Deferred != 2 {
		t.Errorf("out of time: %d writes, %d notifications, %d deferred (want 0, 0, 2)", writes, len(notes), res.Counts.Deferred)
	}
	h.Day()
	if len(h.Received("kim")) != 1 {
		t.Errorf("the next run did not take kim: received %v", h.Received("kim"))
	}
}

// TestMaxUsersServesTheMostUrgentFirst (rule 8): with room for one user's writes, the user
// whose key is oldest gets them, whatever the order of the credential report.
func TestMaxUsersServesTheMostUrgentFirst(t *testing.T) {
	h := scenario.New(t)
	h.MaxUsers = 1
	h.User("amy", nil, 85)
	h.User("zed", nil, 300)
	h.Day()
	if len(h.Received("zed")) != 1 || len(h.Received("amy")) != 0 {
		t.Errorf("with maxUsers 1: zed (300 days) received %v, amy (85 days) %v; want zed served first", h.Received("zed"), h.Received("amy"))
	}
}

// TestListingWithoutReportStopsAtTheTimeBudget (docs/scale.md, bounded work): when IAM cannot give the
// credential report, the scanner lists users one by one; an invocation near its Lambda's
// deadline reads no more of them, reports each user it listed but did not read as deferred
// (not scanned, and why), and the next run scans them.
func TestListingWithoutReportStopsAtTheTimeBudget(t *testing.T) {
	h := scenario.New(t)
	h.User("kim", nil, 85)
	h.User("lee", nil, 10)
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "GenerateCredentialReport" {
			return awsmodel.ServerError // no report: the scanner lists every user
		}
		return awsmodel.None
	}
	reads := 0
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		switch c.Operation {
		case "ListAccessKeys", "GetAccessKeyLastUsed", "ListUserTags":
			reads++
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(rotate.TimeReserve/2))
	defer cancel()
	res, notes := h.ScanWith(ctx)
	if reads != 0 || len(notes) != 0 || res.Counts.Deferred != 2 || res.Counts.Users != 2 {
		t.Errorf("out of time while listing: %d per-user reads, %d notifications, %d deferred of %d users (want 0, 0, 2 of 2)",
			reads, len(notes), res.Counts.Deferred, res.Counts.Users)
	}
	for _, u := range res.Users {
		if u.Status != policy.StatusDeferred || !strings.Contains(u.Reason, "not scanned") {
			t.Errorf("user %s: %s %q, want deferred as not scanned", u.UserName, u.Status, u.Reason)
		}
	}
	h.Day()
	if len(h.Received("kim")) != 1 {
		t.Errorf("the next run did not scan kim: received %v", h.Received("kim"))
	}
}

// TestMaxUsersBoundsTheReads (rule 8): on a first rollout, 50 users each due for a
// new key and maxUsers 5: once 5 users have writes, the rest are deferred without being read
// (their credential report row shows the write), so the per-user reads are about maxUsers
// plus the users who need only a notice, not 50. Those are still read and notified, unless
// the notification limit is reached too; every deferred user is reported with its reason, and
// the next run serves the next most urgent.
func TestMaxUsersBoundsTheReads(t *testing.T) {
	for _, tc := range []struct {
		name                                          string
		maxNotifications                              int
		wantRead, wantCalls, wantNotes, wantNoticeCut int
	}{
		// A user read costs ListAccessKeys, ListUserTags and GetAccessKeyLastUsed per key.
		{"notification room left", 0, 5 + 3, 5*3 + 3*4, 5 + 3, 0},
		{"notification limit reached too", 6, 5 + 1, 5*3 + 1*4, 6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			h.MaxUsers, h.MaxNotifications = 5, tc.maxNotifications
			for i := range 50 {
				h.User(fmt.Sprintf("due%02d", i), nil, 85+i) // one key: a new key is due
			}
			for i := range 3 {
				// A newer key of their own: only the old key's deactivation date is due, a
				// notice; their oldest key is as old as the least urgent writer's.
				h.User(fmt.Sprintf("note%d", i), nil, 85, 10)
			}
			calls, read := h.ReadsOf()
			res, notes := h.ScanWith(context.Background())
			if len(read) != tc.wantRead || *calls != tc.wantCalls {
				t.Errorf("read %d users in %d calls (want %d in %d, not the 53 candidates): %v", len(read), *calls, tc.wantRead, tc.wantCalls, slices.Sorted(maps.Keys(read)))
			}
			if len(notes) != tc.wantNotes || res.Counts.KeysCreated != 5 {
				t.Errorf("%d notifications, %d keys created (want %d, 5)", len(notes), res.Counts.KeysCreated, tc.wantNotes)
			}
			maxUsersCut, noticeCut := 0, 0
			for _, u := range res.Users {
				switch {
				case u.Status != policy.StatusDeferred:
				case strings.Contains(u.Reason, "already have writes in this run and maxUsers is 5"):
					maxUsersCut++
					if !strings.HasPrefix(u.UserName, "due") {
						t.Errorf("%s deferred for maxUsers: %q", u.UserName, u.Reason)
					}
				case u.Reason == "notices deferred to the next run: this run's notification limit is reached":
					noticeCut++
				default:
					t.Errorf("%s deferred: %q", u.UserName, u.Reason)
				}
			}
			if maxUsersCut != 45 || noticeCut != tc.wantNoticeCut || res.Counts.Deferred != 45+tc.wantNoticeCut {
				t.Errorf("reported %d deferred for maxUsers, %d for the notification limit, counted %d (want 45, %d, %d)",
					maxUsersCut, noticeCut, res.Counts.Deferred, tc.wantNoticeCut, 45+tc.wantNoticeCut)
			}
			h.Notify(notes)
			for i := range 50 {
				if got, want := len(h.Received(fmt.Sprintf("due%02d", i))), b2i(i >= 45); got != want {
					t.Errorf("due%02d received %d new keys, want %d (the 5 oldest first)", i, got, want)
				}
			}
			h.DayStart = h.DayStart.AddDate(0, 0, 1)
			h.Now = h.DayStart
			h.Day()
			for i := 40; i < 45; i++ {
				if len(h.Received(fmt.Sprintf("due%02d", i))) != 1 {
					t.Errorf("the next run did not serve due%02d", i)
				}
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestPendingDeliveryIsReadBeyondMaxUsers (rule 8): a user whose new key waits in
// its hand-off secret is read even once maxUsers users have writes, though a stale credential
// report (a same-day re-run) still shows its old key alone, due: its key is redelivered.
func TestPendingDeliveryIsReadBeyondMaxUsers(t *testing.T) {
	h := scenario.New(t)
	h.MaxUsers = 2
	h.User("old0", nil, 300)
	h.User("old1", nil, 299)
	h.User("amy", nil, 85)
	// The first run cannot read the two oldest users: amy gets the writes, a new key, but its
	// email is not sent.
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.ListUserTagsInput); ok && strings.HasPrefix(aws.ToString(in.UserName), "old") {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	if res, _ := h.ScanWith(context.Background()); res.Counts.KeysCreated != 1 || res.Counts.Failures != 2 {
		t.Fatalf("first run: %d keys created, %d failures (want 1, 2)", res.Counts.KeysCreated, res.Counts.Failures)
	}
	h.W.Inject = nil
	h.Now = h.Now.Add(30 * time.Minute) // the same report: amy's row shows the old key alone
	res, notes := h.ScanWith(context.Background())
	if res.Counts.KeysCreated != 2 || len(notes) != 3 {
		t.Errorf("re-run: %d keys created, %d notifications (want 2 for old0 and old1, 3 with amy's redelivery)", res.Counts.KeysCreated, len(notes))
	}
	h.Notify(notes)
	if len(h.Received("amy")) != 1 {
		t.Errorf("amy's pending key was not redelivered: received %v", h.Received("amy"))
	}
}
