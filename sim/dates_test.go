package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestRedeliveredKeyNamesTheDayTheOldKeyIsDeactivated: a legacy key is replaced on day 0
// (its date: day 10), and the new key's email fails until day 12. The redelivery must not
// name day 10, already past: the old key is deactivated on the first run after the owner got
// the new key, day 13, and that is the day the email names (invariant 8).
func TestRedeliveredKeyNamesTheDayTheOldKeyIsDeactivated(t *testing.T) {
	h := scenario.New(t)
	old := h.User("dev", nil, 300)[0]
	start := h.DayStart
	sesDown := true
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" && sesDown {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	for d := 0; d <= 20; d++ {
		sesDown = d < 12
		h.Day()
		if d == 12 {
			told := toldDates(h.W.Delivered("dev@" + domain))
			if want := start.AddDate(0, 0, 13).Format(time.DateOnly); told[old] != want {
				t.Fatalf("day 12: the redelivered key's email names %q for %s, want %s", told[old], old, want)
			}
		}
		if inactive := h.Keys("dev")[old] == types.StatusTypeInactive; inactive != (d >= 13) {
			t.Fatalf("day %d: old key %s is %s (told day 13)", d, old, h.Keys("dev")[old])
		}
	}
}

// TestNewKeySentAfterMidnightNamesNoDayPast: NotifyUser retried past midnight sends a new-key
// email made the day before; a legacy key's date (made for the day after the run) must then
// be the day after the sending, the first run that can act on it.
func TestNewKeySentAfterMidnightNamesNoDayPast(t *testing.T) {
	h := scenario.New(t)
	old := h.User("dev", nil, 300)[0]
	sesDown := true
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" && sesDown {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	for range 10 {
		h.Day() // the email fails until the old key's day (day 10)
	}
	sesDown = false
	notes := h.Scan() // day 10's run: the redelivery names day 11
	h.Now = h.DayStart.AddDate(0, 0, 1).Add(-h.DayStart.Sub(h.DayStart.Truncate(24*time.Hour)) + time.Minute)
	h.Notify(notes) // sent at 00:01 on day 11
	want := h.DayStart.AddDate(0, 0, 2).Format(time.DateOnly)
	if told := toldDates(h.W.Delivered("dev@" + domain)); told[old] != want {
		t.Fatalf("sent on %s, the email names %q for %s, want %s", h.Now.Format(time.DateOnly), told[old], old, want)
	}
}

// TestToldInReadsEveryDatedEmail: the checker of invariant 8 reads the day from each owner
// email that names one, as composed by pkg/notify (an account name beside the ID included).
func TestToldInReadsEveryDatedEmail(t *testing.T) {
	a := notify.Addressing{From: "rotator@" + domain, To: "dev@" + domain, AccountID: "100000000001", AccountName: "account-1", UserName: "dev"}
	const old = "AKIAOLDOLDOLDOLDOLD1"
	usage := &policy.Usage{AccessKeyID: old}
	for _, tt := range []struct {
		kind      policy.NoticeKind
		wantDeact string
		wantDel   string
	}{
		{policy.DeactivationScheduled, "2026-03-04", ""},
		{policy.KeyDeactivated, "", "2026-03-04"},
	} {
		m, err := notify.NoticeMail(a, policy.Notice{Kind: tt.kind, AccessKeyID: old, ActBy: "2026-03-04", Message: "details", Usage: usage})
		if err != nil {
			t.Fatal(err)
		}
		got := toldIn(m.Raw)
		if got.deactivation[old] != tt.wantDeact || got.deletion[old] != tt.wantDel {
			t.Errorf("%s: read deactivation %q, deletion %q; want %q, %q", tt.kind, got.deactivation[old], got.deletion[old], tt.wantDeact, tt.wantDel)
		}
	}
}

// TestCheckerHoldsTheRotatorToTheDayTold: the campaign's checker of invariant 8 reports an
// email naming today, and a deactivation before the day an email named; not the rotator
// keeping the day.
func TestCheckerHoldsTheRotatorToTheDayTold(t *testing.T) {
	now := time.Date(2026, 1, 3, 13, 0, 0, 0, time.UTC)
	s := &sim{owners: map[string]*owner{}, trace: map[string][]string{}, reported: map[string]bool{},
		lastPlan: map[string]workflow.UserResult{}, now: now, res: Result{Faults: map[string]int{}}}
	s.w = awsmodel.New(func() time.Time { return now }, 1)
	s.check = newCheckers(s)
	const acct = "100000000003"
	must(s.w.CreateUser(acct, "dev", map[string]string{"EmailID": "dev@" + domain}))
	id, _, err := s.w.AddKey(acct, "dev", now.AddDate(0, 0, -95), types.StatusTypeActive)
	must(err)
	o := &owner{account: acct, user: "dev", held: map[string]bool{id: true}, actedOn: -1, shortenedOn: -1, noticesForgedOn: -1}
	a := notify.Addressing{From: "rotator@" + domain, To: "dev@" + domain, AccountID: acct, UserName: "dev"}
	tell := func(day string) {
		m, err := notify.NoticeMail(a, policy.Notice{Kind: policy.DeactivationScheduled, AccessKeyID: id, ActBy: day, Message: "m", Usage: &policy.Usage{AccessKeyID: id}})
		must(err)
		s.check.told.heard(m.Raw, m.Subject)
	}
	deactivate := func() {
		keys := s.w.Keys(acct, "dev")
		s.check.told.notBefore(awsmodel.Call{Service: "IAM", Operation: "UpdateAccessKey", Account: acct}, o, keys[0])
	}
	tell("2026-01-04")
	deactivate() // on the 3rd, told the 4th
	tell("2026-01-03")
	var got []string
	for _, v := range s.res.Violations {
		got = append(got, v.Invariant)
	}
	want := []string{"a key is deactivated on the day its owner was told, not before", "a date an owner is told is after today"}
	if !slices.Equal(got, want) {
		t.Errorf("violations %q, want %q", got, want)
	}
	s.res.Violations, s.reported = nil, map[string]bool{}
	s.now = now.AddDate(0, 0, 1)
	tell("2026-01-05")
	s.now = now.AddDate(0, 0, 2)
	deactivate() // on the day told
	if len(s.res.Violations) != 0 {
		t.Errorf("the day kept, reported: %v", s.res.Violations)
	}
}

// TestDeactivatedKeyIsDeletedOnTheDayItsOwnerWasTold: when the rotator deactivates a key
// whose other key comes due for its own replacement first, rule 4 deletes the Inactive key
// on that day to make room. The KeyDeactivated email must name that day, not the later day
// rule 3 alone would give: a run cut between the deletion and the creation (a crash, a lost
// response, a missed day) otherwise leaves the key deleted days before the day told, with no
// new key in its slot (campaign seeds 35, 66, 149, 171).
func TestDeactivatedKeyIsDeletedOnTheDayItsOwnerWasTold(t *testing.T) {
	for _, tt := range []struct {
		name string
		ages []int
	}{
		{"its replacement comes due three days after the deactivation", []int{85, 72}},
		{"two old active keys: the other is replaced the day after", []int{89, 80}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := scenario.New(t)
			old := h.User("dev", nil, tt.ages...)[0]
			start := h.DayStart
			deletedOn := ""
			for d := 0; d <= 20 && deletedOn == ""; d++ {
				h.Day()
				if _, exists := h.Keys("dev")[old]; !exists {
					deletedOn = start.AddDate(0, 0, d).Format(time.DateOnly)
				}
			}
			told := ""
			for _, m := range h.W.Delivered("dev@" + domain) {
				if day, ok := toldIn(m.Raw).deletion[old]; ok {
					told = day
				}
			}
			if told == "" || deletedOn != told {
				t.Fatalf("%s deleted on %q, its owner was told %q", old, deletedOn, told)
			}
		})
	}
}
