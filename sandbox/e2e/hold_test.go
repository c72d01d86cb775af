package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestE2EHoldReactivatesUntilItsDay (the operator's hold): ci-bot's old key is deactivated on its
// day and its application breaks. An execution with a hold makes the key active again, tells
// the owner until when and what then happens, and lists the hold in the report; a run inside
// the hold leaves the key; the run the day after the hold's last day deactivates it, with the
// KeyDeactivated email the rules require. A hold beyond 2 × noticePeriod days is refused with
// InvalidInput, and nothing is written.
func TestE2EHoldReactivatesUntilItsDay(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/hold.json")
	cfg := o.policyConfig(false)
	const user, owner = "ci-bot", "ci-bot@example.com"
	account := o.id(t, "prod")
	old := userNamed(t, o.state(t, "prod")["prod"], user).Keys[0].AccessKeyID

	// The rotation: a new key on the first run, confirmed the next day, the old key
	// deactivated ten days after the new key.
	for _, step := range []time.Duration{0, 24 * time.Hour, 9 * 24 * time.Hour} {
		if step > 0 {
			o.advance(t, step)
		}
		before, pending := o.state(t), o.pending(t)
		ex, _ := o.run(t, `{}`)
		mustSucceed(t, ex)
		checkAccountAsPlanned(t, ex, "prod", before["prod"], o.state(t)["prod"], pending, cfg)
	}
	if got := keyStatus(t, o.state(t, "prod")["prod"], user, old); got != "Inactive" {
		t.Fatalf("old key %s is %s after its day, want Inactive", old, got)
	}

	// Refused: a hold past 2 × noticePeriod days, or in the past.
	today := time.Now().UTC()
	for _, until := range []string{today.AddDate(0, 0, 2*cfg.NoticePeriod+1).Format(time.DateOnly), today.AddDate(0, 0, -1).Format(time.DateOnly)} {
		keys := len(userNamed(t, o.state(t, "prod")["prod"], user).Keys)
		ex, _ := o.run(t, fmt.Sprintf(`{"hold":[{"account":%q,"user":%q,"until":%q,"reason":"INC-4711","reactivate":true}]}`, account, user, until))
		if ex.Status != "FAILED" || ex.Error != "InvalidInput" || !strings.Contains(ex.Cause, "hold[0].until") {
			t.Errorf("hold until %s: %s %s %s, want FAILED InvalidInput naming hold[0].until", until, ex.Status, ex.Error, ex.Cause)
		}
		if got := keyStatus(t, o.state(t, "prod")["prod"], user, old); got != "Inactive" || len(userNamed(t, o.state(t, "prod")["prod"], user).Keys) != keys {
			t.Errorf("a refused hold changed the keys: %s is %s", old, got)
		}
	}

	// The hold: the key active again, the owner told, the report lists it.
	until := today.AddDate(0, 0, 5).Format(time.DateOnly)
	after := today.AddDate(0, 0, 6).Format(time.DateOnly)
	ex, dir := o.run(t, fmt.Sprintf(`{"hold":[{"account":%q,"user":%q,"until":%q,"reason":"INC-4711","reactivate":true}]}`, account, user, until))
	mustSucceed(t, ex)
	if got := keyStatus(t, o.state(t, "prod")["prod"], user, old); got != "Active" {
		t.Fatalf("after the hold's run: old key %s is %s, want Active", old, got)
	}
	ms := mails(t, ex, dir)
	checkSays(t, ms, owner, "active again", old, "until "+until, "INC-4711", "deactivated on "+after)
	if len(ex.Report.Holds) != 1 || ex.Report.Holds[0].User != user || ex.Report.Holds[0].Until != until || ex.Report.Holds[0].PlacedBy != ex.Name {
		t.Errorf("report holds %+v, want ci-bot's until %s placed by %s", ex.Report.Holds, until, ex.Name)
	}
	support := findMail(t, ms, "cloud-support@example.com", "rotation report")
	if !strings.Contains(oneLine(support.Text), "Hold: "+account+"/"+user+" until "+until+" (INC-4711)") {
		t.Errorf("the support email does not list the hold:\n%s", support.Text)
	}

	// The next day, inside the hold: the key stays active, nothing is sent about it.
	o.advance(t, 24*time.Hour)
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	if got := keyStatus(t, o.state(t, "prod")["prod"], user, old); got != "Active" {
		t.Errorf("inside the hold: old key %s is %s, want Active", old, got)
	}
	for _, m := range mails(t, ex, dir) {
		if slices.Equal(m.Destinations, []string{owner}) {
			t.Errorf("inside the hold the owner got %q", m.Subject)
		}
	}

	// The day after the hold's last day: deactivated, as the rules plan it, and told.
	o.advance(t, 5*24*time.Hour)
	before, pending := o.state(t), o.pending(t)
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	checkAccountAsPlanned(t, ex, "prod", before["prod"], o.state(t)["prod"], pending, cfg)
	if got := keyStatus(t, o.state(t, "prod")["prod"], user, old); got != "Inactive" {
		t.Errorf("the day after the hold: old key %s is %s, want Inactive", old, got)
	}
	checkSays(t, mails(t, ex, dir), owner, "was deactivated", old)
	if len(ex.Report.Holds) != 0 {
		t.Errorf("report holds %+v the day after the hold, want none", ex.Report.Holds)
	}
}
