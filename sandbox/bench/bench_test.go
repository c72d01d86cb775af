package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestBenchScaleSmall runs the whole benchmark at a small size (make bench-scale runs the
// default one): every account is done, the quiet account costs the rotator at most 4 calls
// while the per-user scan pays the call pattern's price for every user, every Lambda
// invocation is counted, and BENCHMARKS.md says all of it. It asserts counts, never times.
func TestBenchScaleSmall(t *testing.T) {
	bin := t.TempDir()
	if err := runner.Build(context.Background(), "", bin); err != nil {
		t.Fatal(err)
	}
	size := Size{Accounts: 4, NoticeUsers: 6, QuietUsers: 60}
	res, err := Run(context.Background(), Options{Size: size, AccountConcurrency: 3, NotifyConcurrency: 2, MaxInstances: 2,
		BinDir: bin, Command: "go test ./sandbox/bench"})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Figures()
	if res.Status != "SUCCEEDED" || f.Accounts != size.Accounts+3 || f.Done != f.Accounts {
		t.Fatalf("execution %s (%s): %d of %d accounts done, want all %d", res.Status, res.Failure, f.Done, f.Accounts, size.Accounts+3)
	}
	// The per-user pattern: AssumeRole, one ListUsers page (up to 100 users), then per user
	// ListAccessKeys and ListUserTags, and GetAccessKeyLastUsed for each of its keys (one).
	if q := f.Quiet; q == nil || q.RotatorCalls > GoalQuietCalls || q.PerUserCalls != 2+3*size.QuietUsers {
		t.Errorf("quiet account: %+v; want at most %d rotator calls and %d per-user calls", q, GoalQuietCalls, 2+3*size.QuietUsers)
	}
	if n := f.Notices; n == nil || n.Counts.Notices != size.NoticeUsers || n.Status != workflow.AccountDone {
		t.Errorf("notice account: %+v; want done with %d notices", n, size.NoticeUsers)
	}
	// Each mixed account: a new key (two emails: the key, then its password) and a notice.
	if f.KeysCreated != size.Accounts || res.Emails != 3*size.Accounts+size.NoticeUsers {
		t.Errorf("%d keys created, %d emails; want %d and %d", f.KeysCreated, res.Emails, size.Accounts, 3*size.Accounts+size.NoticeUsers)
	}
	invocations := map[string]int{}
	for _, l := range res.Lambdas {
		invocations[l.Function] = l.Invocations
		if l.MemoryMB == 0 || (l.Invocations > 0 && l.GBSeconds() <= 0) {
			t.Errorf("%s: %+v, not billed", l.Function, l)
		}
	}
	notifications := 2*size.Accounts + size.NoticeUsers
	want := map[string]int{statemachine.ListAccounts: 1, statemachine.ScanAndRotate: f.Accounts, statemachine.NotifyUser: notifications, statemachine.CleanupReport: 1}
	for fn, n := range want {
		if invocations[fn] != n {
			t.Errorf("%s invoked %d times, want %d (no retries at this size)", fn, invocations[fn], n)
		}
	}
	// The execution, one child per account, one per notification.
	if res.Stats.Executions != 1+f.Accounts+notifications || res.Stats.Transitions < res.Stats.Executions {
		t.Errorf("%d executions with %d transitions, want %d executions and a transition at least each", res.Stats.Executions, res.Stats.Transitions, 1+f.Accounts+notifications)
	}
	if res.Requests["secretsmanager"] == 0 || res.Requests["iam"] == 0 || res.Requests["s3"] == 0 {
		t.Errorf("requests by service %v: the counter missed the Lambdas", res.Requests)
	}
	// The ordinary day counts the users the rotator keeps rotating.
	if res.RotatedUsers == 0 || res.RotatedUsers != RotatedUsers(Organization(size)) {
		t.Errorf("%d rotated users, want the organization's %d", res.RotatedUsers, RotatedUsers(Organization(size)))
	}
	// Each new key's secret is scheduled for deletion once sent: billed its first hour only.
	if res.scheduled() != f.KeysCreated || f.Usage.SecretHours != float64(f.KeysCreated) {
		t.Errorf("%d of %d hand-off secrets scheduled for deletion, %g secret-hours billed; want all, one hour each",
			res.scheduled(), f.KeysCreated, f.Usage.SecretHours)
	}
	var doc strings.Builder
	res.Markdown(&doc)
	if _, after, ok := strings.Cut(doc.String(), "## Cost of the daily run"); ok {
		cost, _, _ := strings.Cut(after, "## Projection")
		t.Logf("the cost at this size:\n%s", cost)
	}
	for _, want := range []string{"go test ./sandbox/bench", "| IAM/STS calls, quiet account (60 users, nothing due) |", "### An ordinary day",
		"| one daily run per 1,000 accounts < $0.50 | " + usd(res.OrdinaryDay(f).Per1000()) + " on an ordinary day; this run, a rollout-like day: ",
		"`TestSteadyStateRatesOfTheOrdinaryDay`", "| cost of an ordinary day (computed) |",
		"| every account `done` | 7 of 7 | met |", sizesHeading + "\n", sizesHeader + "\n", "\n| 7 (4, 6, 60) | ", StateTransition.Source, EmailMessage.String(), "## Projection to 10,000 accounts", "## Whose figures"} {
		if !strings.Contains(doc.String(), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, doc.String())
		}
	}
}

// TestBillPricesEachLine: each line is its quantity at its price.
func TestBillPricesEachLine(t *testing.T) {
	lines, total := Usage{Transitions: 4000, LambdaRequests: 2_000_000, LambdaGBs: 1000, SecretHours: 730, SecretsCalls: 20_000, Emails: 3000}.Bill()
	want := []float64{0.10, 0.0133334, 0.40, 0.40, 0.10, 0.30}
	sum := 0.0
	for i, l := range lines {
		if math.Abs(l.USD-want[i]) > 1e-9 {
			t.Errorf("%s: $%g for %g, want $%g", l.Price.What, l.USD, l.Quantity, want[i])
		}
		sum += want[i]
	}
	if len(lines) != len(want) || math.Abs(total-sum) > 1e-9 {
		t.Errorf("%d lines totalling $%g, want %d totalling $%g", len(lines), total, len(want), sum)
	}
}

// TestHandoffSecretBilledHours: from creation to the scheduled deletion, whole hours rounded
// up; a secret left live waits for the next daily run.
func TestHandoffSecretBilledHours(t *testing.T) {
	created := time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)
	after := func(d time.Duration) *time.Time { t := created.Add(d); return &t }
	tests := []struct {
		name      string
		scheduled *time.Time
		want      float64
	}{
		{"scheduled seconds later", after(90 * time.Second), 1},
		{"scheduled after exactly an hour", after(time.Hour), 1},
		{"scheduled after 61 minutes", after(61 * time.Minute), 2},
		{"left live", nil, NextRunHours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (HandoffSecret{Created: created, Scheduled: tt.scheduled}).BilledHours(); got != tt.want {
				t.Errorf("billed %g hours, want %g", got, tt.want)
			}
		})
	}
}

// tinyRun is a run of 5 accounts, 10 new keys (one secret listed, left live) and 20 notices.
func tinyRun() *Result {
	return &Result{Stats: runner.Stats{Executions: 31, Transitions: 200}, Requests: map[string]int{"secretsmanager": 70}, Emails: 40,
		Lambdas: []runner.Invocations{{Function: statemachine.NotifyUser, MemoryMB: 256, Invocations: 25, Duration: 25 * time.Second},
			{Function: statemachine.ScanAndRotate, MemoryMB: 512, Invocations: 5, Duration: 10 * time.Second}},
		Handoff:  []HandoffSecret{{Created: time.Now()}},
		Accounts: []Account{{Name: "a", Counts: workflow.Counts{KeysCreated: 10}}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}}
}

// TestUnitsAddUpToTheRun: the unit costs times the run's accounts, new keys and notice
// emails give back the run's cost, and a new key costs more than a notice.
func TestUnitsAddUpToTheRun(t *testing.T) {
	r := tinyRun()
	f := r.Figures()
	u := r.Units(f)
	notices := float64(r.Emails - estimate.NewKeyEmails*f.KeysCreated)
	if got := u.PerAccount*float64(f.Accounts) + u.PerNewKey*float64(f.KeysCreated) + u.PerNotice*notices; math.Abs(got-f.Cost) > 1e-12 {
		t.Errorf("units add up to $%g, the run cost $%g", got, f.Cost)
	}
	if u.PerNewKey <= u.PerNotice || u.PerNotice <= 0 || u.PerAccount <= 0 {
		t.Errorf("unit costs %+v", u)
	}
}

// rolloutRun is a run shaped like make bench-scale's: in each of n accounts a new key (its
// secret scheduled for deletion at once), its two emails and a notice.
func rolloutRun(n int) *Result {
	r := &Result{Stats: runner.Stats{Executions: 3 * n, Transitions: 5 * n}, Requests: map[string]int{"secretsmanager": 6 * n}, Emails: 3 * n,
		Lambdas: []runner.Invocations{{Function: statemachine.NotifyUser, MemoryMB: 256, Invocations: 2 * n, Duration: time.Duration(n) * 800 * time.Millisecond},
			{Function: statemachine.ScanAndRotate, MemoryMB: 512, Invocations: n, Duration: time.Duration(n) * time.Second}}}
	for i := range n {
		created := time.Now()
		r.Handoff = append(r.Handoff, HandoffSecret{Created: created, Scheduled: &created})
		r.Accounts = append(r.Accounts, Account{Name: fmt.Sprint(i), Counts: workflow.Counts{KeysCreated: 1}})
	}
	return r
}

// TestGoalIsJudgedOnTheOrdinaryDay: the ordinary day has a new key per rotated user per
// rotation period and estimate.NoticesPerRotation notices a key, at the run's unit costs; the
// cost goal is met or not on its cost per 1,000 accounts, whatever the rollout-like day cost,
// which the goal's row shows beside it with its new keys' floor.
func TestGoalIsJudgedOnTheOrdinaryDay(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rotated int
		met     bool
	}{
		{"seven rotated users an account", 7000, true},
		{"so many that every day is a rollout", 100_000, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rolloutRun(1000)
			r.RotatedUsers = tt.rotated
			f := r.Figures()
			d, u := r.OrdinaryDay(f), r.Units(f)
			keys := float64(tt.rotated) / float64(estimate.RotationPeriodDays())
			if d.NewKeys != keys || d.Notices != estimate.NoticesPerRotation*keys ||
				math.Abs(d.Cost-(1000*u.PerAccount+keys*u.PerNewKey+estimate.NoticesPerRotation*keys*u.PerNotice)) > 1e-12 {
				t.Errorf("ordinary day %+v; want %g new keys and %g notices a day at the unit costs %+v", d, keys, estimate.NoticesPerRotation*keys, u)
			}
			if rollout := f.per1000(f.Cost); rollout < GoalCostPer1000 || (d.Per1000() < GoalCostPer1000) != tt.met {
				t.Fatalf("the rollout-like day costs %s per 1,000 accounts, the ordinary day %s: not the case to test", usd(rollout), usd(d.Per1000()))
			}
			var doc strings.Builder
			r.Markdown(&doc)
			verdict := "| met |"
			if !tt.met {
				verdict = "| **not met** |"
			}
			want := fmt.Sprintf("| one daily run per 1,000 accounts < $0.50 | %s on an ordinary day; this run, a rollout-like day: %s, %s of it its 1000 new keys' floor under the design (see the cost below) %s",
				usd(d.Per1000()), usd(f.per1000(f.Cost)), usd(f.per1000(f.NewKeyFloor())), verdict)
			if !strings.Contains(doc.String(), want+"\n") {
				t.Errorf("BENCHMARKS.md lacks the goal's row %q:\n%s", want, doc.String())
			}
		})
	}
}

// TestNewKeyFloor: two emails a new key and its secret's measured hours.
func TestNewKeyFloor(t *testing.T) {
	f := tinyRun().Figures() // 10 keys; one secret listed and left live, nine missed: 24 hours each
	if want := EmailMessage.Cost(20) + SecretHour.Cost(240); math.Abs(f.NewKeyFloor()-want) > 1e-12 {
		t.Errorf("floor $%g, want $%g", f.NewKeyFloor(), want)
	}
}

// TestRotatedUsers: the users with an Active key, a usable email and no exempt tag, in the
// accounts the rotator scans (the management account's included).
func TestRotatedUsers(t *testing.T) {
	active := []sandbox.Key{{Status: "Active", AgeDays: 3}}
	user := func(name string, tags map[string]string, keys ...sandbox.Key) sandbox.User {
		return sandbox.User{Name: name, Tags: tags, Keys: keys}
	}
	email := func(addr string) map[string]string { return map[string]string{"EmailID": addr} }
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management", Users: []sandbox.User{user("admin", email("admin@example.com"), active...)}},
		AllowedEmailDomains: []string{"example.com"}, ExcludeAccounts: []string{"legacy"},
		Accounts: []sandbox.Account{
			{Name: "prod", Users: []sandbox.User{
				user("app", email("app@example.com"), active...),
				user("old", map[string]string{"Email": "old@example.com"}, sandbox.Key{Status: "Inactive", AgeDays: 200}, sandbox.Key{Status: "Active", AgeDays: 85}),
				user("exempt", map[string]string{"EmailID": "exempt@example.com", "Exempt": "TRUE"}, active...),
				user("elsewhere", email("elsewhere@example.org"), active...),
				user("untagged", nil, active...),
				user("inactive", email("inactive@example.com"), sandbox.Key{Status: "Inactive", AgeDays: 3}),
				user("keyless", email("keyless@example.com")),
			}},
			{Name: "legacy", Users: []sandbox.User{user("ci", email("ci@example.com"), active...)}},
		}}
	if got := RotatedUsers(sc); got != 3 {
		t.Errorf("%d rotated users, want 3 (admin, app, old)", got)
	}
}

// TestTableBySizeKeepsTheOtherSizes: a run rewrites BENCHMARKS.md with its own row in the
// table by size and keeps the rows of the other sizes from the file it replaces, by number of
// accounts; a run at a size already there replaces that size's row; a table with other
// columns is not kept.
func TestTableBySizeKeepsTheOtherSizes(t *testing.T) {
	run := func(n int, date string) *Result {
		r := rolloutRun(n)
		r.Options.Size = Size{Accounts: n}
		r.Status = "SUCCEEDED"
		r.Date, _ = time.Parse(time.DateOnly, date)
		return r
	}
	doc := func(r *Result, previous string) string {
		t.Helper()
		if _, err := r.KeepSizes([]byte(previous)); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		r.Markdown(&b)
		return b.String()
	}
	rows := func(doc string) []string {
		_, table, _ := strings.Cut(doc, sizesHeader+"\n")
		table, _, _ = strings.Cut(table, "\n\n")
		var dates []string
		for _, line := range strings.Split(table, "\n")[1:] {
			cells := strings.Split(line, " | ")
			dates = append(dates, strings.TrimPrefix(cells[0], "| ")+" "+cells[1])
		}
		return dates
	}
	first := doc(run(1000, "2026-11-30"), "")
	if got := rows(first); !slices.Equal(got, []string{"1,000 (1,000, 0, 0) 2026-11-30"}) {
		t.Fatalf("the first run's table: %q", got)
	}
	second := doc(run(3000, "2026-12-07"), first)
	third := doc(run(50, "2026-12-08"), second)
	if got, want := rows(third), []string{"50 (50, 0, 0) 2026-12-08", "1,000 (1,000, 0, 0) 2026-11-30", "3,000 (3,000, 0, 0) 2026-12-07"}; !slices.Equal(got, want) {
		t.Errorf("after runs at 1,000, 3,000 and 50 accounts: %q, want %q", got, want)
	}
	again := doc(run(3000, "2026-12-09"), third)
	if got, want := rows(again), []string{"50 (50, 0, 0) 2026-12-08", "1,000 (1,000, 0, 0) 2026-11-30", "3,000 (3,000, 0, 0) 2026-12-09"}; !slices.Equal(got, want) {
		t.Errorf("after another run at 3,000: %q, want %q", got, want)
	}
	if !strings.Contains(again, "The sections after this table are the run of 2026-12-09 at 3,000 accounts.") {
		t.Error("the table does not say which run the sections after it are")
	}
	old := strings.Replace(again, "| accounts (mixed, notice users, quiet users) |", "| accounts |", 1)
	if n, err := run(1000, "2026-12-10").KeepSizes([]byte(old)); n != 0 || err == nil {
		t.Errorf("a table with other columns: kept %d rows, err %v; want none and an error", n, err)
	}
}

// TestMeasuredIsWhatTheRunMeasured: the figures preflight's estimate embeds are the run's
// unit costs, accounts, execution time and concurrency.
func TestMeasuredIsWhatTheRunMeasured(t *testing.T) {
	r := tinyRun()
	r.Date, r.Run, r.Options.AccountConcurrency = time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC), 90*time.Second, 4
	m := r.Measured()
	want := estimate.Measured{Date: "2026-12-07", Accounts: 5, Units: r.Units(r.Figures()), ExecutionSeconds: 90, AccountConcurrency: 4}
	if m != want {
		t.Errorf("measured %+v, want %+v", m, want)
	}
}

// TestRunSaysItsCommit: the run's row of the table by size and its header name the commit
// it was made at, beside the date.
func TestRunSaysItsCommit(t *testing.T) {
	r := rolloutRun(3000)
	r.Options.Size = Size{Accounts: 3000}
	r.Status = "SUCCEEDED"
	r.Date, r.Commit = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC), "3d2fb1e"
	var b strings.Builder
	r.Markdown(&b)
	if !strings.Contains(b.String(), "| 3,000 (3,000, 0, 0) | 2026-12-07 at 3d2fb1e | ") || !strings.Contains(b.String(), "\n- commit: 3d2fb1e\n") {
		t.Errorf("the row and header do not name the commit:\n%s", b.String()[:min(b.Len(), 3000)])
	}
	if c := commit(t.Context()); c == "" {
		t.Log("not in a git work tree: the run names no commit")
	} else if len(strings.TrimSuffix(c, "+changes")) != 7 {
		t.Errorf("commit() = %q, want an abbreviated commit", c)
	}
}
