package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Goals are the scale goals: what BENCHMARKS.md checks the figures against.
const (
	GoalQuietCalls     = 4    // IAM/STS calls of a quiet account, whatever its users
	GoalRatio          = 500  // per-user / rotator calls at 1,000 users
	GoalCostPer1000    = 0.50 // USD per 1,000 accounts per daily run
	GoalWall           = 30 * time.Minute
	ProjectionAccounts = 10_000
	// GoalWallLarger is the goal for an organization larger than the default: 3,000 accounts
	// within the machine's 2 cores and under an hour.
	GoalWallLarger = time.Hour
)

// wallGoal is the whole benchmark's goal at the run's size.
func (o Options) wallGoal() time.Duration {
	if o.Size.Accounts > DefaultSize.Accounts {
		return GoalWallLarger
	}
	return GoalWall
}

// Figures are the run's totals and the accounts that stand out.
type Figures struct {
	Accounts, Done                  int
	RotatorCalls, PerUserCalls      int
	RotatorMax, PerUserMax          Account // the accounts with the most calls of each
	Quiet, Notices                  *Account
	MixedRotator, MixedPerUser      float64 // mean calls of a mixed account
	Mixed                           int
	Usage                           Usage
	Bill                            []Line
	Cost                            float64
	KeysCreated, Notified, Deferred int
}

// Figures computes the totals.
func (r *Result) Figures() Figures {
	var f Figures
	for i, a := range r.Accounts {
		f.Accounts++
		if a.Status == workflow.AccountDone {
			f.Done++
		}
		f.RotatorCalls += a.RotatorCalls
		f.PerUserCalls += a.PerUserCalls
		if a.RotatorCalls > f.RotatorMax.RotatorCalls {
			f.RotatorMax = a
		}
		if a.PerUserCalls > f.PerUserMax.PerUserCalls {
			f.PerUserMax = a
		}
		switch {
		case a.Name == QuietAccount:
			f.Quiet = &r.Accounts[i]
		case a.Name == NoticeAccount:
			f.Notices = &r.Accounts[i]
		case strings.HasPrefix(a.Name, "mixed-"):
			f.Mixed++
			f.MixedRotator += float64(a.RotatorCalls)
			f.MixedPerUser += float64(a.PerUserCalls)
		}
		f.KeysCreated += a.Counts.KeysCreated
		f.Notified += a.Counts.Notices
		f.Deferred += a.Counts.Deferred
	}
	if f.Mixed > 0 {
		f.MixedRotator /= float64(f.Mixed)
		f.MixedPerUser /= float64(f.Mixed)
	}
	f.Usage = Usage{Transitions: r.Stats.Transitions, SecretsCalls: r.Requests["secretsmanager"], Emails: r.Emails}
	for _, s := range r.Handoff {
		f.Usage.SecretHours += s.BilledHours()
	}
	// A new key whose secret the listing missed is counted as left live.
	f.Usage.SecretHours += float64(max(0, f.KeysCreated-len(r.Handoff)) * NextRunHours)
	for _, l := range r.Lambdas {
		f.Usage.LambdaRequests += l.Invocations
		f.Usage.LambdaGBs += l.GBSeconds()
	}
	f.Bill, f.Cost = f.Usage.Bill()
	return f
}

// ratio is a / b as "N×", or "-" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f×", a/b)
}

// SideBySide writes the table of the rotator's figures beside the per-user scan's.
func (r *Result) SideBySide(w io.Writer) {
	f := r.Figures()
	row := func(what, rotator, perUser string) { fmt.Fprintf(w, "| %s | %s | %s |\n", what, rotator, perUser) }
	fmt.Fprintln(w, "| | rotator: one execution (`keyrotator run`) | per-user scan (the seed's call pattern) |")
	fmt.Fprintln(w, "|---|---|---|")
	row("wall time", fmt.Sprintf("%s (scan, writes, %d emails, report)", r.Run.Round(time.Second), r.Emails), fmt.Sprintf("%s (reads only)", r.PerUser.Round(time.Second)))
	row(fmt.Sprintf("IAM/STS calls, all %d accounts", f.Accounts), fmt.Sprint(f.RotatorCalls), fmt.Sprintf("%d (%s the rotator's)", f.PerUserCalls, ratio(float64(f.PerUserCalls), float64(f.RotatorCalls))))
	row("IAM/STS calls, most in one account", fmt.Sprintf("%d (%s)", f.RotatorMax.RotatorCalls, f.RotatorMax.Name), fmt.Sprintf("%d (%s)", f.PerUserMax.PerUserCalls, f.PerUserMax.Name))
	if q := f.Quiet; q != nil {
		row(fmt.Sprintf("IAM/STS calls, quiet account (%d users, nothing due)", q.Users), fmt.Sprint(q.RotatorCalls),
			fmt.Sprintf("%d (%s)", q.PerUserCalls, ratio(float64(q.PerUserCalls), float64(q.RotatorCalls))))
	}
	if n := f.Notices; n != nil {
		row(fmt.Sprintf("IAM/STS calls, notice account (%d users, each due a notice)", n.Users), fmt.Sprint(n.RotatorCalls),
			fmt.Sprintf("%d (%s)", n.PerUserCalls, ratio(float64(n.PerUserCalls), float64(n.RotatorCalls))))
	}
	if f.Mixed > 0 {
		row(fmt.Sprintf("IAM/STS calls, mixed account (mean of %d; 5 users: a new key, 2 notified)", f.Mixed), fmt.Sprintf("%.1f (reads and writes)", f.MixedRotator), fmt.Sprintf("%.1f (reads)", f.MixedPerUser))
	}
	row("largest payload", fmt.Sprintf("%d bytes of %d (%s)", r.Stats.LargestPayload, runner.PayloadLimit, r.Stats.LargestPayloadAt), "-")
	row("most history events in one execution", fmt.Sprintf("%d of %d (%s)", r.Stats.MostEvents, runner.HistoryLimit, r.Stats.MostEventsIn), "-")
	var inv []string
	for _, l := range r.Lambdas {
		inv = append(inv, fmt.Sprintf("%s %d", l.Function, l.Invocations))
	}
	row("Lambda invocations", fmt.Sprintf("%d (%s)", f.Usage.LambdaRequests, strings.Join(inv, ", ")), "-")
	row("Lambda GB-seconds", fmt.Sprintf("%.0f", f.Usage.LambdaGBs), "-")
	var longest []string
	for _, l := range r.Lambdas {
		longest = append(longest, fmt.Sprintf("%s %s", l.Function, l.Longest.Round(100*time.Millisecond)))
	}
	row("longest invocation", strings.Join(longest, ", "), "-")
	row("state transitions", fmt.Sprintf("%d in %d executions", r.Stats.Transitions, r.Stats.Executions), "-")
	row("cost of this run (a rollout-like day) at list prices", fmt.Sprintf("%s (%s per 1,000 accounts)", usd(f.Cost), usd(f.per1000(f.Cost))), "-")
}

// check is one line of the goals' table.
func check(w io.Writer, goal, measured string, met bool) {
	verdict := "met"
	if !met {
		verdict = "**not met**"
	}
	fmt.Fprintf(w, "| %s | %s | %s |\n", goal, measured, verdict)
}

// Markdown writes BENCHMARKS.md.
func (r *Result) Markdown(w io.Writer) {
	f := r.Figures()
	o := r.Options
	fmt.Fprintln(w, "# Benchmarks: the rotator at scale on the local stand-in")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Written by `make bench-scale` (`keyrotator bench-scale`); see [docs/scale.md](docs/scale.md) for what the")
	fmt.Fprintln(w, "figures mean and how the run is made. Do not edit by hand: run it again.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- command: `%s`\n", o.Command)
	fmt.Fprintf(w, "- date: %s\n", r.Date.Format(time.RFC3339))
	if r.Commit != "" {
		fmt.Fprintf(w, "- commit: %s\n", r.Commit)
	}
	fmt.Fprintf(w, "- machine: %s; load average (1, 5, 15 min) %s before, %s after (other work shared the machine)\n", r.Machine, r.LoadStart, r.LoadEnd)
	fmt.Fprintf(w, "- organization: %d mixed accounts of 5 users, one account of %d users who each need only a notice, one quiet account of %d users (nothing due, keys of 1 to %d days), and the management account (no users): %d accounts; every account's credential report is yesterday's, so IAM makes a new one (the stand-in has it ready at the first poll)\n",
		o.Size.Accounts, o.Size.NoticeUsers, o.Size.QuietUsers, min(o.Size.QuietUsers, QuietKeyDays), f.Accounts)
	fmt.Fprintf(w, "- account concurrency %d, notify concurrency %d, at most %d processes per Lambda function\n", o.AccountConcurrency, o.NotifyConcurrency, o.MaxInstances)
	fmt.Fprintf(w, "- the whole benchmark: %s (seeding %s, the execution %s, the per-user scan %s); the execution %s\n",
		r.Total.Round(time.Second), r.Seed.Round(time.Second), r.Run.Round(time.Second), r.PerUser.Round(time.Second), strings.ToLower(r.Status))
	if r.Failure != "" {
		fmt.Fprintf(w, "- failure: %s\n", r.Failure)
	}
	fmt.Fprintln(w)
	r.writeSizes(w, f)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Side by side")
	fmt.Fprintln(w)
	r.SideBySide(w)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The run created %d keys, sent %d notices (%d emails) and deferred %d users. IAM/STS requests that\n", f.KeysCreated, f.Notified, r.Emails, f.Deferred)
	fmt.Fprintf(w, "reached the stand-in from all the Lambdas and the state machine's own Task states (its ItemReaders, ResultWriters and S3\n")
	fmt.Fprintf(w, "writes; NotifyUser's AssumeRole and history tag included): %d IAM, %d STS;\n", r.Requests["iam"], r.Requests["sts"])
	fmt.Fprintf(w, "Secrets Manager %d, SES %d, S3 %d.\n", r.Requests["secretsmanager"], r.Requests["ses"], r.Requests["s3"])
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Goals")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| goal | measured | |")
	fmt.Fprintln(w, "|---|---|---|")
	check(w, "every account `done`", fmt.Sprintf("%d of %d", f.Done, f.Accounts), f.Done == f.Accounts && r.Status == "SUCCEEDED")
	check(w, fmt.Sprintf("no payload over %d bytes", runner.PayloadLimit), fmt.Sprint(r.Stats.LargestPayload), r.Stats.LargestPayload <= runner.PayloadLimit)
	check(w, fmt.Sprintf("no execution over %d events", runner.HistoryLimit), fmt.Sprint(r.Stats.MostEvents), r.Stats.MostEvents <= runner.HistoryLimit)
	if n := f.Notices; n != nil {
		check(w, "the notice account finishes", fmt.Sprintf("%s: %d notices, %d deferred (%s)", n.Status, n.Counts.Notices, n.Counts.Deferred, noticeDeferral(*n)), n.Status == workflow.AccountDone)
	}
	if q := f.Quiet; q != nil {
		check(w, fmt.Sprintf("a quiet account costs at most %d IAM/STS calls", GoalQuietCalls), fmt.Sprintf("%d at %d users (3, and a page of the users' tags per 1,000 users once a key is old enough for a RotationDays tag: docs/scale.md)", q.RotatorCalls, q.Users), q.RotatorCalls <= GoalQuietCalls)
		check(w, fmt.Sprintf("per-user / rotator calls at %d users ≥ %d×", q.Users, GoalRatio), ratio(float64(q.PerUserCalls), float64(q.RotatorCalls)),
			q.RotatorCalls > 0 && q.PerUserCalls >= GoalRatio*q.RotatorCalls)
	}
	ordinary := r.OrdinaryDay(f)
	check(w, fmt.Sprintf("one daily run per 1,000 accounts < $%.2f", GoalCostPer1000),
		fmt.Sprintf("%s on an ordinary day; this run, a rollout-like day: %s, %s of it its %d new keys' floor under the design (see the cost below)",
			usd(ordinary.Per1000()), usd(f.per1000(f.Cost)), usd(f.per1000(f.NewKeyFloor())), f.KeysCreated),
		ordinary.Per1000() < GoalCostPer1000)
	check(w, fmt.Sprintf("the benchmark within %s on this machine", o.wallGoal()), r.Total.Round(time.Second).String(), r.Total < o.wallGoal())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Cost of the daily run")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The run measured here is a rollout-like day: every mixed account replaces a key on the same day, as on")
	fmt.Fprintln(w, "a first rollout. The cost goal is judged on an ordinary day, computed below from this run's")
	fmt.Fprintln(w, "unit costs.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "List prices, US East (N. Virginia), on demand, before free tiers, as published on %s (package\n", PricesAsOf)
	fmt.Fprintln(w, "`sandbox/bench`, cost.go, is their one home). A hand-off secret is counted as measured: from its")
	fmt.Fprintln(w, "creation to its scheduled deletion (NotifyUser schedules it once SES accepted the key's emails, and")
	fmt.Fprintln(w, "Secrets Manager bills no secret scheduled for deletion), in whole hours rounded up; one the run left")
	fmt.Fprintf(w, "live is counted until the next daily run (%d hours). S3, CloudWatch, KMS and SNS are left out.\n", NextRunHours)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| item | price | quantity | this run | per 1,000 accounts | %s accounts |\n", thousands(ProjectionAccounts))
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	scale := float64(ProjectionAccounts) / float64(max(f.Accounts, 1))
	to1000 := 1000 / float64(max(f.Accounts, 1))
	for _, l := range f.Bill {
		fmt.Fprintf(w, "| %s | [%s](%s) | %.1f | $%.4f | $%.4f | $%.2f |\n", l.Price.What, l.Price, l.Price.Source, l.Quantity, l.USD, l.USD*to1000, l.USD*scale)
	}
	fmt.Fprintf(w, "| **total** | | | **$%.4f** | **$%.4f** | **$%.2f** |\n", f.Cost, f.Cost*to1000, f.Cost*scale)
	if f.KeysCreated > 0 {
		secrets := SecretHour.Cost(f.Usage.SecretHours)
		fmt.Fprintf(w, "\nThe hand-off secrets of the %d new keys were billed %.0f secret-hours, %.1f a key (%d scheduled for\n",
			f.KeysCreated, f.Usage.SecretHours, f.Usage.SecretHours/float64(f.KeysCreated), r.scheduled())
		fmt.Fprintf(w, "deletion by the end of the run): %.1f%% of the run's cost. This day's new keys alone cost at least\n", 100*secrets/f.Cost)
		fmt.Fprintf(w, "%s (%s per 1,000 accounts): %d emails each and their secrets' measured hours. That floor is the\n",
			usd(f.NewKeyFloor()), usd(f.per1000(f.NewKeyFloor())), estimate.NewKeyEmails)
		fmt.Fprintln(w, "design's: DESIGN.md hands each new key to NotifyUser in a Secrets Manager secret, counted here as a")
		fmt.Fprintln(w, "whole first hour however soon its deletion is scheduled (the pricing page says only that a secret")
		fmt.Fprintln(w, "stored less than a month is prorated by the hour), and sends it as a zip and its password in two emails.")
	}
	ordinary.write(w, f.Usage.SecretHours/float64(max(f.KeysCreated, 1)))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "## Projection to %s accounts\n", thousands(ProjectionAccounts))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The measured totals per account (%d accounts) times %s: an organization of the same mix, %.1f\n", f.Accounts, thousands(ProjectionAccounts), scale)
	fmt.Fprintln(w, "times over. Payloads and history events do not grow with the number of accounts (docs/scale.md):")
	fmt.Fprintln(w, "each account and each notification is a child execution of its own; the table by size shows it measured.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| figure | measured | per account | projected |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	project := func(what string, v float64) {
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.0f |\n", what, v, v/float64(max(f.Accounts, 1)), v*scale)
	}
	project("IAM/STS calls, rotator (iamCalls)", float64(f.RotatorCalls))
	project("IAM/STS calls, per-user scan", float64(f.PerUserCalls))
	project("state transitions", float64(r.Stats.Transitions))
	project("Lambda invocations", float64(f.Usage.LambdaRequests))
	project("Lambda GB-seconds", f.Usage.LambdaGBs)
	project("emails", float64(r.Emails))
	project("Secrets Manager API calls", float64(f.Usage.SecretsCalls))
	fmt.Fprintf(w, "| cost of this run (a rollout-like day) | %s | %s | %s |\n", usd(f.Cost), usd(f.Cost/float64(max(f.Accounts, 1))), usd(f.Cost*scale))
	fmt.Fprintf(w, "| cost of an ordinary day (computed) | %s | %s | %s |\n", usd(ordinary.Cost), usd(ordinary.Cost/float64(max(f.Accounts, 1))), usd(ordinary.Cost*scale))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Whose figures")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The stand-in (moto) is one Python process serving every account's IAM, STS, Secrets Manager, SES")
	fmt.Fprintln(w, "and S3 on the same 2 cores as the Lambdas, the runner and the per-user scan: **wall times and")
	fmt.Fprintln(w, "GB-seconds are the stand-in's** (each call waits on that one process; on AWS each is a network")
	fmt.Fprintln(w, "round trip under the account's own rate limit, and accounts do not share one), so neither says how")
	fmt.Fprintln(w, "long the run takes on AWS, and the cost's Lambda lines, which come from them, are an upper bound")
	fmt.Fprintln(w, "of this machine's. **Calls, invocations, state transitions, history events, payloads, emails and")
	fmt.Fprintln(w, "secrets are the rotator's**: they are what it asks of AWS and do not depend on the stand-in's speed.")
}

// noticeDeferral says why the account deferred users, as its report does.
func noticeDeferral(a Account) string {
	if len(a.Deferrals) == 0 {
		return "none"
	}
	return strings.Join(a.Deferrals, "; ")
}

// usd writes an amount in dollars to four decimals.
func usd(v float64) string { return fmt.Sprintf("$%.4f", v) }

// scheduled counts the hand-off secrets the run left scheduled for deletion.
func (r *Result) scheduled() int {
	n := 0
	for _, s := range r.Handoff {
		if s.Scheduled != nil {
			n++
		}
	}
	return n
}

// Units splits the run's cost. A notification costs its NotifyUser invocations (requests and
// GB-seconds, NotifyUser's mean) and one child execution's state transitions (the mean of all
// executions).
func (r *Result) Units(f Figures) estimate.Units {
	accounts, keys := float64(max(f.Accounts, 1)), float64(f.KeysCreated)
	perExecution := StateTransition.Cost(float64(r.Stats.Transitions) / float64(max(r.Stats.Executions, 1)))
	notification := perExecution
	for _, l := range r.Lambdas {
		if l.Function == statemachine.NotifyUser && l.Invocations > 0 {
			notification += (LambdaRequest.Cost(float64(l.Invocations)) + LambdaGBSecond.Cost(l.GBSeconds())) / float64(l.Invocations)
		}
	}
	email := EmailMessage.Cost(1)
	u := estimate.Units{PerNotice: email + notification}
	if keys > 0 {
		keyCalls := max(0, float64(f.Usage.SecretsCalls)-accounts) / keys
		u.PerNewKey = SecretHour.Cost(f.Usage.SecretHours)/keys + SecretsCall.Cost(keyCalls) + estimate.NewKeyEmails*email + notification
	}
	notices := float64(max(0, r.Emails-estimate.NewKeyEmails*f.KeysCreated))
	u.PerAccount = (f.Cost - keys*u.PerNewKey - notices*u.PerNotice) / accounts
	return u
}

// OrdinaryDay is the daily run an organization pays every day in the steady state, once its
// rollout is over: every account scanned, and the new keys and notices of its rotated users
// at the steady state's rates (steady.go), each at the unit cost the run measured (Units).
// The cost goal is judged on it.
type OrdinaryDay struct {
	Units        estimate.Units
	Accounts     int // scanned every day
	RotatedUsers int // each gets a new key every PeriodDays
	PeriodDays   int
	// NewKeys and Notices are a day's: RotatedUsers / PeriodDays, and estimate.NoticesPerRotation a key.
	NewKeys, Notices float64
	Cost             float64
}

// OrdinaryDay prices the steady state of the run's organization at the run's unit costs.
func (r *Result) OrdinaryDay(f Figures) OrdinaryDay {
	d := OrdinaryDay{Units: r.Units(f), Accounts: f.Accounts, RotatedUsers: r.RotatedUsers, PeriodDays: estimate.RotationPeriodDays()}
	d.NewKeys = float64(d.RotatedUsers) / float64(d.PeriodDays)
	d.Notices = estimate.NoticesPerRotation * d.NewKeys
	d.Cost = d.Units.OrdinaryDay(d.Accounts, d.RotatedUsers)
	return d
}

// Per1000 is the ordinary day's cost per 1,000 accounts.
func (d OrdinaryDay) Per1000() float64 { return d.Cost * 1000 / float64(max(d.Accounts, 1)) }

// per1000 is an amount of the run per 1,000 of its accounts.
func (f Figures) per1000(v float64) float64 { return v * 1000 / float64(max(f.Accounts, 1)) }

// NewKeyFloor is the least the run's new keys cost under the design, whatever the rest of
// the rotator: estimate.NewKeyEmails emails each and their hand-off secrets' measured hours.
func (f Figures) NewKeyFloor() float64 {
	return EmailMessage.Cost(float64(estimate.NewKeyEmails*f.KeysCreated)) + SecretHour.Cost(f.Usage.SecretHours)
}

// write writes the ordinary day's section of BENCHMARKS.md.
func (d OrdinaryDay) write(w io.Writer, secretHoursPerKey float64) {
	u := d.Units
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### An ordinary day")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The cost goal is judged on this day: the daily run the organization pays every day in the")
	fmt.Fprintln(w, "steady state, once its rollout is over, computed from this run's unit costs and the steady state's")
	fmt.Fprintln(w, "rates. The unit costs split the measured bill: a new key costs its secret's measured hours, its")
	fmt.Fprintln(w, "Secrets Manager calls (all but one ListSecrets per account), its emails and its notification")
	fmt.Fprintln(w, "(NotifyUser's mean invocation and one child execution's mean state transitions); a notice email")
	fmt.Fprintln(w, "costs an email and a notification; an account scanned costs the rest of the bill, divided by the")
	fmt.Fprintf(w, "accounts. In the steady state each rotated user (an Active key, a usable email, not exempt: %d of\n", d.RotatedUsers)
	fmt.Fprintf(w, "this organization's users) gets a new key once per rotation period (%d days by default), sent in %d\n", d.PeriodDays, estimate.NewKeyEmails)
	fmt.Fprintf(w, "emails (the zip and its password), with %d notices besides (its old key's deactivation and deletion),\n", estimate.NoticesPerRotation)
	fmt.Fprintf(w, "and its hand-off secret is billed its first hour only (this run: %.1f secret-hours a key); every\n", secretHoursPerKey)
	fmt.Fprintln(w, "account is scanned daily. `sim`'s `TestSteadyStateRatesOfTheOrdinaryDay` checks these rates against")
	fmt.Fprintln(w, "the rotator over six rotation periods.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| item | unit cost | per day, this organization | cost per day |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	fmt.Fprintf(w, "| account scanned | $%.6f | %d | %s |\n", u.PerAccount, d.Accounts, usd(u.PerAccount*float64(d.Accounts)))
	fmt.Fprintf(w, "| new key | $%.6f | %.1f (%d rotated users / %d days) | %s |\n", u.PerNewKey, d.NewKeys, d.RotatedUsers, d.PeriodDays, usd(u.PerNewKey*d.NewKeys))
	fmt.Fprintf(w, "| notice email | $%.6f | %.1f (%d a new key) | %s |\n", u.PerNotice, d.Notices, estimate.NoticesPerRotation, usd(u.PerNotice*d.Notices))
	fmt.Fprintf(w, "| **ordinary day** | | | **%s** (**%s per 1,000 accounts**) |\n", usd(d.Cost), usd(d.Per1000()))
}

// Measured is what `keyrotator preflight` estimates a daily run from (pkg/estimate's
// measured.json): this run's unit costs and its execution's time per account.
func (r *Result) Measured() estimate.Measured {
	f := r.Figures()
	return estimate.Measured{Date: r.Date.UTC().Format(time.DateOnly), Accounts: f.Accounts, Units: r.Units(f),
		ExecutionSeconds: r.Run.Seconds(), AccountConcurrency: r.Options.AccountConcurrency}
}
