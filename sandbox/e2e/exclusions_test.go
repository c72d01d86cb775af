package e2e

import (
	"bytes"
	"encoding/csv"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestE2EExclusionsByOUAndTag: accounts in an excluded OU or any OU below it, and accounts
// tagged key-rotator:exclude=true (the default EXCLUDE_ACCOUNT_TAG; the value in any case),
// are never assumed into. An input naming an account of an excluded OU is refused with the
// account and the reason; the exclusion tag is read by each account's own ScanAndRotate
// (through the management account's tag-reader role, not by ListAccounts), so an input naming
// a tagged account runs, and reports it excluded with the reason; the daily run processes
// the others only.
func TestE2EExclusionsByOUAndTag(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/exclusions.json")
	excluded := map[string]string{
		"sandbox":     "it is in OU " + o.settings.ExcludeOUs[0] + " (EXCLUDE_OUS)",
		"sandbox-dev": "below " + o.settings.ExcludeOUs[0] + " (EXCLUDE_OUS)",
		"migrating":   "it is tagged key-rotator:exclude=true (EXCLUDE_ACCOUNT_TAG)",
	}
	const tagged = "migrating"

	t.Run("an input naming an excluded account is refused, or the account reported excluded, naming it and why", func(t *testing.T) {
		for _, name := range slices.Sorted(maps.Keys(excluded)) {
			id := o.id(t, name)
			before := o.state(t)
			input := `{"accounts":["` + o.id(t, "prod") + `","` + id + `"]}`
			if name == tagged { // alone: prod would rotate, before the daily run below
				input = `{"accounts":["` + id + `"]}`
			}
			ex, _ := o.run(t, input)
			if name == tagged {
				mustSucceed(t, ex)
				var status workflow.AccountStatus
				var reason string
				for _, a := range ex.Report.Accounts {
					if a.Account.AccountID == id {
						status, reason = a.Status, a.Reason
					}
				}
				if status != workflow.AccountExcluded || reason != excluded[name] {
					t.Errorf("input naming %s: reported %q (%q), want %s (%q)", name, status, reason, workflow.AccountExcluded, excluded[name])
				}
			} else if ex.Status != "FAILED" || ex.Error != "InvalidInput" || !strings.Contains(ex.Cause, "accounts[1]") ||
				!strings.Contains(ex.Cause, "account "+id+" is excluded from rotation") || !strings.Contains(ex.Cause, excluded[name]) {
				t.Errorf("input naming %s: %s %s %s, want FAILED InvalidInput naming accounts[1], the account and %q", name, ex.Status, ex.Error, ex.Cause, excluded[name])
			}
			if !reflect.DeepEqual(before, o.state(t)) {
				t.Errorf("input naming %s changed IAM", name)
			}
			if sessions := o.rotatorSessions(t, ex.Name); sessions[id] != 0 {
				t.Errorf("input naming %s: the rotator assumed into it (%v)", name, sessions)
			}
		}
	})

	t.Run("daily run: the excluded accounts are never assumed into, the others rotate", func(t *testing.T) {
		before, pending := o.state(t), o.pending(t)
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		after := o.state(t)
		var reported []string
		for _, a := range ex.Report.Accounts {
			reported = append(reported, a.Account.Name+" "+string(a.Status))
		}
		slices.Sort(reported)
		if want := []string{"management done", "migrating excluded", "prod done", "shared done"}; !slices.Equal(reported, want) {
			t.Errorf("accounts in the report %v, want %v", reported, want)
		}
		sessions := o.rotatorSessions(t, ex.Name)
		for name := range excluded {
			if sessions[o.id(t, name)] > 0 {
				t.Errorf("the rotator assumed into excluded account %s", name)
			}
			if !reflect.DeepEqual(before[name], after[name]) {
				t.Errorf("excluded account %s changed", name)
			}
		}
		for _, a := range o.sb.Seeded.Settings.Accounts {
			if _, want := excluded[a.Name]; a.Excluded != want {
				t.Errorf("seeded settings: %s excluded %v, want %v", a.Name, a.Excluded, want)
			}
			if !a.Excluded && sessions[a.ID] == 0 {
				t.Errorf("the rotator did not assume into %s", a.Name)
			}
		}
		o.checkAllAsPlanned(t, ex, before, after, pending, false)
		// alice (prod, in an OU that is not excluded) and erin (shared, tagged "false").
		if ex.Report.Totals.KeysCreated != 2 {
			t.Errorf("%d keys created, want alice's and erin's", ex.Report.Totals.KeysCreated)
		}
		checkDelivered(t, ex, deliveries(t, mails(t, ex, dir)), after)
	})
}

// TestE2ERotationDays: a user tag RotationDays = N shorter than the organization's limit
// rotates that user's keys on the shorter timeline (new key at N−10, deactivation at N,
// unused keys deleted at N); a value below 3 notice periods gets the shortest timeline (30
// days), a longer or malformed one is ignored; both are in report.json and report.csv, and
// the owner is not harmed. Ten days later the shortened users' old keys are deactivated.
func TestE2ERotationDays(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/rotation-days.json")
	cfg := o.policyConfig(false)

	before, pending := o.state(t), o.pending(t)
	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	after := o.state(t)
	checkAccountAsPlanned(t, ex, "prod", before["prod"], after["prod"], pending, cfg)
	users := map[string]workflow.UserResult{}
	for _, a := range ex.Report.Accounts {
		if a.Account.Name == "prod" {
			for _, u := range a.Users {
				users[u.UserName] = u
			}
		}
	}
	wantStatus := map[string]policy.UserStatus{
		"grace": policy.StatusRotate, // 40: new key at 30, its key is 35
		"judy":  policy.StatusRotate, // 7: the shortest timeline, new key at 20, its key is 25
		"ivan":  policy.StatusRotate, // 365 ignored: the organization's 80, its key is 85
		"leo":   policy.StatusDelete, // 30: a key unused for 31 days is deleted
	}
	for name, want := range wantStatus {
		if users[name].Status != want {
			t.Errorf("%s: status %q, want %q (%+v)", name, users[name].Status, want, users[name])
		}
	}
	for _, name := range []string{"ken", "heidi"} { // no tag, a malformed one: nothing due at 35 days
		if u, listed := users[name]; listed && u.Status != policy.StatusOK {
			t.Errorf("%s: status %q, want nothing due", name, u.Status)
		}
	}
	wantProblem := map[string]string{
		"heidi": `tag RotationDays value "sixty" is not a whole number of days greater than 0: ignored, the limit of 90 days applies`,
		"ivan":  "tag RotationDays=365 is longer than the organization's limit: ignored, the limit of 90 days applies",
		"judy":  "tag RotationDays=7 is shorter than 3 notice periods of 10 days: the shortest limit, 30 days, applies",
	}
	rows, err := csv.NewReader(bytes.NewReader(ex.ReportCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	column := slices.Index(rows[0], "rotation_days_problem")
	inCSV := map[string]string{}
	for _, r := range rows[1:] {
		if r[column] != "" {
			inCSV[r[5]] = r[column]
		}
	}
	for name, want := range wantProblem {
		if users[name].RotationDaysProblem != want || inCSV[name] != want {
			t.Errorf("%s: problem %q in report.json, %q in report.csv; want %q", name, users[name].RotationDaysProblem, inCSV[name], want)
		}
	}
	if len(inCSV) != len(wantProblem) {
		t.Errorf("report.csv reports RotationDays problems for %v, want %v", inCSV, slices.Sorted(maps.Keys(wantProblem)))
	}
	delivered := deliveries(t, mails(t, ex, dir))
	checkDelivered(t, ex, delivered, after)
	if len(delivered) != 3 {
		t.Errorf("%d keys delivered, want grace's, judy's and ivan's", len(delivered))
	}

	// The next day confirms the deliveries; ten days after the new keys, grace's and judy's
	// old keys (40 and 30 days' limits) are deactivated, as is ivan's (the organization's 90).
	old := map[string]string{}
	for _, name := range []string{"grace", "judy", "ivan"} {
		old[name] = userNamed(t, before["prod"], name).Keys[0].AccessKeyID
	}
	for _, step := range []time.Duration{24 * time.Hour, 9 * 24 * time.Hour} {
		o.advance(t, step)
		before, pending := o.state(t), o.pending(t)
		ex, _ := o.run(t, `{}`)
		mustSucceed(t, ex)
		after := o.state(t)
		checkAccountAsPlanned(t, ex, "prod", before["prod"], after["prod"], pending, cfg)
	}
	final := o.state(t, "prod")["prod"]
	for name, id := range old {
		u := userNamed(t, final, name)
		i := slices.IndexFunc(u.Keys, func(k sandboxtest.Key) bool { return k.AccessKeyID == id })
		if i < 0 || u.Keys[i].Status != "Inactive" || len(u.Keys) != 2 {
			t.Errorf("%s: keys %+v ten days after the new key, want %s Inactive beside the new key", name, u.Keys, id)
		}
	}
}
