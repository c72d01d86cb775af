package hold

import (
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TestHoldHoldsThroughItsLastDayAndNoLonger: a hold holds from the run that places it through
// Until, not the day after; a release ends it; a later hold of the same user replaces it; a
// retry of the run that placed it places nothing twice.
func TestHoldHoldsThroughItsLastDayAndNoLonger(t *testing.T) {
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t.Add(13 * time.Hour) }
	placing := workflow.Run{RunID: "r1", Now: day("2026-12-07")}
	req := workflow.HoldRequest{Account: "111122223333", User: "ci-bot", Until: "2026-12-20", Reason: "INC-4711", Reactivate: true}
	var b Book
	b.Apply(placing, []workflow.HoldRequest{req}, nil)
	b.Apply(placing, []workflow.HoldRequest{req}, nil) // a retry
	if len(b.Holds) != 1 {
		t.Fatalf("%d records after a retry, want 1", len(b.Holds))
	}
	for d, want := range map[string]bool{"2026-12-07": true, "2026-12-20": true, "2026-12-21": false} {
		if _, got := b.For("111122223333", "ci-bot", day(d)); got != want {
			t.Errorf("on %s: holds %v, want %v", d, got, want)
		}
	}
	if _, got := b.For("111122223333", "other", day("2026-12-08")); got {
		t.Errorf("another user is held")
	}
	b.Apply(workflow.Run{RunID: "r2", Now: day("2026-12-09")}, nil, []workflow.ReleaseRequest{{Account: "111122223333", User: "ci-bot"}})
	if h, got := b.For("111122223333", "ci-bot", day("2026-12-09")); !got || !h.Changed("r2") {
		t.Errorf("not held through the day of its release by r2 (the owner is told that day): %+v", h)
	}
	// The day after the release, the day first told holds until the release's email reached
	// the owner on an earlier day.
	h, found := b.For("111122223333", "ci-bot", day("2026-12-10"))
	if !found || !h.Policy().Holds(policy.User{}, day("2026-12-10")) {
		t.Errorf("not held the day after its release, its email not delivered: %+v", h)
	}
	told := policy.User{NoticesSent: []policy.NoticeRef{{Kind: policy.HoldReleased, AccessKeyID: "AKIAOLD"}}}
	if h.Policy().Holds(told, day("2026-12-10")) {
		t.Errorf("held the day after its release, its email delivered")
	}
	if _, found := b.For("111122223333", "ci-bot", day("2026-12-21")); found {
		t.Errorf("in force after the day first asked")
	}
	if h := b.Holds[0]; h.ReleasedBy != "r2" || h.PlacedBy != "r1" || h.Until != "2026-12-09" || h.Asked != "2026-12-20" {
		t.Errorf("record %+v, want placed by r1 and released by r2, until the release's day, asked 2026-12-20", h)
	}
	b.Apply(workflow.Run{RunID: "r3", Now: day("2027-06-01")}, nil, nil)
	if len(b.Holds) != 0 {
		t.Errorf("%d records kept long after the hold ended, want 0", len(b.Holds))
	}
}
