// Package report consolidates a run (the CleanupReport step): it reads every account's result
// and the notifications that failed past their retries from S3, writes report.json and
// report.csv, emails the support team when a human is needed (always in cleanup mode), tells
// the operators through SNS when an account failed or an owner was not notified, and emits
// the run's metrics in CloudWatch embedded metric format.
package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/alert"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/metrics"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is the part of S3 the report uses.
type S3API interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	s3.ListObjectsV2APIClient
}

// NotifyFailedAction is the action column of a report.csv row for an owner whose
// notification failed past its retries.
const NotifyFailedAction = "NotifyUser"

// alertLines bounds the accounts and owners an SNS alert or the support email names, and
// alertLineBytes each line, where an account's error or a notification's cause (Step Functions
// keeps up to 32,768 characters of it) is cut: an SNS message holds at most 256 KB, the
// support email at most notify.SupportMessageLimit, and the report has them all, whole.
const (
	alertLines     = 50
	alertLineBytes = 1000
)

// SNSAPI publishes the failure alert.
type SNSAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Handler is the CleanupReport step.
type Handler struct {
	S3           S3API
	SNS          SNSAPI
	Sender       *notify.Sender
	Bucket       string
	From         string
	SupportEmail string
	TopicARN     string
	// SummaryToTopic: every run's summary goes to the topic too (config summaryToTopic).
	SummaryToTopic bool
	// SecurityHub, when set (setting securityHubFindings), receives the findings of the users
	// whose keys the rotator cannot rotate (findings.go), as Findings says.
	SecurityHub SecurityHubAPI
	Findings    FindingsConfig
	Log         *slog.Logger
	// Metrics receives the embedded-metric-format line (the Lambda's stdout).
	Metrics io.Writer
}

// Document is report.json: the run, its totals and every account's result.
type Document struct {
	Run      workflow.Run             `json:"run"`
	Totals   workflow.Counts          `json:"totals"`
	Accounts []workflow.AccountResult `json:"accounts"`
	// Holds are the operators' holds that hold on the run's day (pkg/hold), every account's;
	// HoldsProblem says why they could not be read.
	Holds        []hold.Hold `json:"holds,omitempty"`
	HoldsProblem string      `json:"holdsProblem,omitempty"`
}

// HoldAction is the action column of a report.csv row for an active hold.
const HoldAction = "Hold"

// Handle builds and distributes the run's report.
func (r *Handler) Handle(ctx context.Context, req workflow.ReportRequest) (workflow.Report, error) {
	run := req.Listing.Run
	var accounts []workflow.Account
	if err := r.getJSON(ctx, req.Listing.Key, &accounts); err != nil {
		return workflow.Report{}, err
	}
	doc := Document{Run: run}
	var err error
	if doc.Accounts, err = r.results(ctx, run, accounts); err != nil {
		return workflow.Report{}, err
	}
	if err := r.notifyFailures(ctx, run, doc.Accounts); err != nil {
		return workflow.Report{}, err
	}
	for _, res := range doc.Accounts {
		addCounts(&doc.Totals, res.Counts)
	}
	switch book, _, err := (hold.Store{S3: r.S3, Bucket: r.Bucket}).Read(ctx); {
	case err != nil && workflow.IsRetryable(err):
		return workflow.Report{}, err
	case err != nil:
		doc.HoldsProblem = err.Error()
	default:
		doc.Holds = book.Active(run.Now)
	}
	out := workflow.Report{RunID: run.RunID, Totals: doc.Totals, Accounts: len(doc.Accounts),
		JSONKey: workflow.ReportKey(run.RunID, "json"), CSVKey: workflow.ReportKey(run.RunID, "csv")}
	for _, a := range doc.Accounts {
		if a.Status == workflow.AccountFailed {
			out.FailedAccounts++
		}
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return out, fmt.Errorf("encode report: %w", err)
	}
	table := CSV(doc)
	if err := r.put(ctx, out.JSONKey, "application/json", body); err != nil {
		return out, err
	}
	if err := r.put(ctx, out.CSVKey, "text/csv", table); err != nil {
		return out, err
	}
	if canary(doc, out) {
		c, err := json.Marshal(workflow.Canary{RunID: run.RunID, Now: run.Now, Accounts: run.Accounts})
		if err != nil {
			return out, fmt.Errorf("encode the canary record: %w", err)
		}
		if err := r.put(ctx, workflow.CanaryKey, "application/json", c); err != nil {
			return out, err
		}
	}
	// Findings that do not reach Security Hub do not fail the run: the next run imports them
	// again (the state keeps an archive that failed).
	if plan, err := r.findings(ctx, doc); err != nil {
		r.Log.ErrorContext(ctx, "Security Hub findings", "runId", run.RunID, "error", err)
	} else if r.SecurityHub != nil {
		r.Log.InfoContext(ctx, "Security Hub findings imported", "runId", run.RunID, "active", plan.Active, "archived", plan.Archived)
	}
	// Every run adds its point to the trend of users with keys, emailed or not.
	points := r.trend(ctx, doc)
	// A support email that SES refuses (the outage that failed the notifications, say) does
	// not fail the run: the report is written and the alert says so. A retryable send
	// error is returned, for the state machine to retry.
	var emailErr error
	if needsHuman(doc) {
		switch err := r.emailSupport(ctx, doc, out, table, points); {
		case err == nil:
			out.SupportEmailed = true
		case workflow.IsRetryable(err):
			return out, err
		default:
			emailErr = err
			r.Log.ErrorContext(ctx, "support email not sent", "runId", run.RunID, "error", err)
		}
	}
	if out.FailedAccounts > 0 || out.Totals.NotifyFailures > 0 || emailErr != nil || bounceProblem(doc.Run) != "" {
		if err := r.alert(ctx, doc, out, req.Execution, emailErr); err != nil {
			return out, err
		}
	}
	// The summary is for reading, not for acting on: one that SNS refuses is logged, and does
	// not fail the run (a retry of the step would send the support email again).
	if r.SummaryToTopic {
		if err := r.publish(ctx, summaryMessage(doc, out, r.Bucket, req.Execution)); err != nil {
			r.Log.ErrorContext(ctx, "run summary not published", "runId", run.RunID, "error", err)
		}
	}
	r.emitMetrics(doc, out)
	r.Log.InfoContext(ctx, "report written", "runId", run.RunID, "accounts", out.Accounts, "failedAccounts", out.FailedAccounts,
		"totals", out.Totals, "supportEmailed", out.SupportEmailed)
	return out, nil
}

// canary says whether the run is a canary that went right (workflow.CanaryKey): it wrote,
// over the accounts its input named, and no account failed and every owner was notified, in a
// run that could see bounces (one that could not cannot tell that an owner's email arrived).
func canary(doc Document, out workflow.Report) bool {
	return !doc.Run.DryRun && !doc.Run.Cleanup && len(doc.Run.Accounts) > 0 && out.Accounts > 0 &&
		out.FailedAccounts == 0 && out.Totals.NotifyFailures == 0 && bounceProblem(doc.Run) == "" &&
		// a canary of accounts excluded by their tag (each reported excluded) rotated nothing
		slices.ContainsFunc(doc.Accounts, func(a workflow.AccountResult) bool { return a.Status == workflow.AccountDone })
}

// resultReads bounds the concurrent S3 reads of account results: 10,000 accounts are read
// in seconds rather than minutes, without a burst S3 would throttle.
const resultReads = 16

// results reads every account's result, in the list's order. An account without one failed
// in ScanAndRotate past its retries (see the execution's history).
func (r *Handler) results(ctx context.Context, run workflow.Run, accounts []workflow.Account) ([]workflow.AccountResult, error) {
	out := make([]workflow.AccountResult, len(accounts))
	errs := make([]error, len(accounts))
	slots := make(chan struct{}, resultReads)
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := r.getJSON(ctx, workflow.ResultKey(run.RunID, a.AccountID), &out[i])
			var missing *s3types.NoSuchKey
			switch {
			case errors.As(err, &missing):
				out[i] = workflow.AccountResult{Run: run, Account: a, Status: workflow.AccountFailed, Users: []workflow.UserResult{},
					Error: "no result: the account's ScanAndRotate step failed; see the execution's history"}
			case err != nil:
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// notifyFailures reads the records the state machine wrote for notifications that failed past
// their retries (workflow.NotifyFailureKey) into their accounts' results, sorted by user, and
// counts them.
func (r *Handler) notifyFailures(ctx context.Context, run workflow.Run, accounts []workflow.AccountResult) error {
	prefix := workflow.NotifyFailuresPrefix(run.RunID)
	index := map[string]int{}
	for i, a := range accounts {
		index[a.Account.AccountID] = i
	}
	type found struct {
		account int
		key     string
		failure workflow.NotifyFailure
	}
	var all []found
	pages := s3.NewListObjectsV2Paginator(r.S3, &s3.ListObjectsV2Input{Bucket: &r.Bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", r.Bucket, prefix, err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			accountID, file, ok := strings.Cut(strings.TrimPrefix(key, prefix), "/")
			i, known := index[accountID]
			if !ok || !known || !strings.HasSuffix(file, ".json") {
				r.Log.WarnContext(ctx, "ignored an object that is no notification failure of this run's accounts", "key", key)
				continue
			}
			all = append(all, found{account: i, key: key, failure: workflow.NotifyFailure{UserName: strings.TrimSuffix(file, ".json")}})
		}
	}
	errs := make([]error, len(all))
	slots := make(chan struct{}, resultReads)
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			var rec workflow.NotifyFailureRecord
			errs[i] = r.getJSON(ctx, all[i].key, &rec)
			all[i].failure.Error, all[i].failure.Cause = rec.Error, rec.Cause
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, f := range all {
		a := &accounts[f.account]
		a.NotifyFailures = append(a.NotifyFailures, f.failure)
	}
	for i := range accounts {
		a := &accounts[i]
		slices.SortFunc(a.NotifyFailures, func(x, y workflow.NotifyFailure) int { return strings.Compare(x.UserName, y.UserName) })
		a.Counts.NotifyFailures = len(a.NotifyFailures)
	}
	return nil
}

func addCounts(t *workflow.Counts, c workflow.Counts) {
	t.Users += c.Users
	t.KeysCreated += c.KeysCreated
	t.KeysDeactivated += c.KeysDeactivated
	t.KeysDeleted += c.KeysDeleted
	t.Notices += c.Notices
	t.Exempt += c.Exempt
	t.Deferred += c.Deferred
	t.NoUsableEmail += c.NoUsableEmail
	t.Failures += c.Failures
	t.NotifyFailures += c.NotifyFailures
	t.IAMCalls += c.IAMCalls
	for use, n := range c.UsersWithKeys {
		if t.UsersWithKeys == nil {
			t.UsersWithKeys = map[advice.Use]int{}
		}
		t.UsersWithKeys[use] += n
	}
	// Every account's run has the same limit; KeyAges of an earlier version's result are nil.
	t.KeyAgeLimit = max(t.KeyAgeLimit, c.KeyAgeLimit)
	for i, n := range c.KeyAges {
		if i >= workflow.KeyAgeBuckets {
			break
		}
		if t.KeyAges == nil {
			t.KeyAges = make([]int, workflow.KeyAgeBuckets)
		}
		t.KeyAges[i] += n
	}
}

// needsHuman: the support team hears of cleanup runs, failures, users nobody can be told
// about or who were not told, users deferred (by maxUsers, the time budget or settling keys),
// and runs whose every account was excluded by its tag.
func needsHuman(doc Document) bool {
	t := doc.Totals
	failed := false
	for _, a := range doc.Accounts {
		failed = failed || a.Status == workflow.AccountFailed
	}
	// Every account excluded by its tag (read by each account's ScanAndRotate): the run
	// rotated nothing, which a run that selects no account at all fails for.
	allExcluded := len(doc.Accounts) > 0 && !slices.ContainsFunc(doc.Accounts, func(a workflow.AccountResult) bool { return a.Status != workflow.AccountExcluded })
	return doc.Run.Cleanup || failed || allExcluded || t.Failures > 0 || t.NoUsableEmail > 0 || t.Deferred > 0 || t.NotifyFailures > 0 ||
		len(atRisk(doc)) > 0 || bounceProblem(doc.Run) != "" || len(doc.Holds) > 0 || doc.HoldsProblem != ""
}

// bounceProblem says why the run could not learn of bounces from SES's suppression list, as
// ListAccounts found (Run.BounceProblem), "" when it could (or for a run that carries no
// check at all, which only tests build).
func bounceProblem(run workflow.Run) string {
	if run.BouncesSuppressed {
		return ""
	}
	return run.BounceProblem
}

// bounceLine is the report's line about a run that could not see bounces.
func bounceLine(run workflow.Run) string {
	return "Bounces NOT suppressed, deliveries by email not confirmed: " + bounceProblem(run)
}

// CSV renders the report as one row per action (or per key of a user without one, or per
// user without keys), one per failed account, and one per owner whose notification failed
// past its retries (action NotifyFailedAction, done false, the caught error), after that
// user's rows. The account's columns (its status and iam_calls, the IAM and STS calls its
// ScanAndRotate made) repeat on each of its rows. A row's access_key_id is the key acted on
// (for CreateKey, the key it replaces); a user's rotation_days_problem says why its
// RotationDays tag was ignored or raised; then come the key's evidence (usageColumns), and
// last the user's advice (pkg/advice: what could replace its long-lived keys, with AWS's
// documentation; empty when the evidence shows no use), on each of the user's rows.
func CSV(doc Document) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"run_id", "account_id", "account_name", "account_status", "iam_calls", "user", "user_status", "action",
		"access_key_id", "new_access_key_id", "done", "dry_run", "reason", "email_problem", "error", "rotation_days_problem",
		"last_used", "last_used_service", "last_used_region", "replacement_used", "deactivate_on", "at_risk", "advice"})
	dry := strconv.FormatBool(doc.Run.DryRun)
	const accountColumns, userColumns = 5, 7
	noUsage := usageColumns(nil)
	for _, a := range doc.Accounts {
		row := []string{doc.Run.RunID, a.Account.AccountID, a.Account.Name, string(a.Status), strconv.Itoa(a.Counts.IAMCalls)}
		if a.Status == workflow.AccountFailed || a.Status == workflow.AccountExcluded {
			_ = w.Write(append(append(append(row, "", "", "", "", "", "", dry, a.Reason, "", a.Error, ""), noUsage...), ""))
		}
		failures := map[string][]workflow.NotifyFailure{}
		for _, f := range a.NotifyFailures {
			failures[f.UserName] = append(failures[f.UserName], f)
		}
		notifyRows := func(userRow []string, user string, emailProblem, advice string) {
			for _, f := range failures[user] {
				_ = w.Write(append(append(append(userRow[:userColumns:userColumns], NotifyFailedAction, "", "", "false", dry,
					"the owner's notification failed after its retries", emailProblem, f.Error+": "+f.Cause, ""), noUsage...), advice))
			}
			delete(failures, user)
		}
		for _, u := range a.Users {
			userRow := append(row[:accountColumns:accountColumns], u.UserName, string(u.Status))
			advice := u.Advice.String()
			switch {
			case len(u.Actions) == 0 && len(u.Keys) == 0:
				_ = w.Write(append(append(append(userRow, "", "", "", "", dry, u.Reason, u.EmailProblem, u.Error, u.RotationDaysProblem), noUsage...), advice))
			case len(u.Actions) == 0:
				for i := range u.Keys {
					_ = w.Write(append(append(append(userRow[:userColumns:userColumns], "", u.Keys[i].AccessKeyID, "", "", dry, u.Reason, u.EmailProblem, u.Error, u.RotationDaysProblem),
						usageColumns(&u.Keys[i])...), advice))
				}
			}
			for _, act := range u.Actions {
				id := act.AccessKeyID
				if act.Action.Action == policy.CreateKey {
					id = act.Replaces
				}
				var usage *policy.KeyUsage
				if i := slices.IndexFunc(u.Keys, func(k policy.KeyUsage) bool { return k.AccessKeyID == id }); i >= 0 {
					usage = &u.Keys[i]
				}
				_ = w.Write(append(append(append(userRow[:userColumns:userColumns], string(act.Action.Action), id, act.NewAccessKeyID,
					strconv.FormatBool(act.Done), dry, act.Reason, u.EmailProblem, u.Error, u.RotationDaysProblem), usageColumns(usage)...), advice))
			}
			notifyRows(userRow, u.UserName, u.EmailProblem, advice)
		}
		for _, f := range a.NotifyFailures { // users the account's result does not list
			if _, left := failures[f.UserName]; left {
				notifyRows(append(row[:accountColumns:accountColumns], f.UserName, ""), f.UserName, "", "")
			}
		}
	}
	for _, h := range doc.Holds {
		_ = w.Write(append([]string{doc.Run.RunID, h.Account, "", "", "", h.User, string(policy.StatusHeld), HoldAction, h.AccessKeyID, "", "true", dry,
			holdLine(h), "", "", ""}, noUsage...))
	}
	w.Flush()
	return b.Bytes()
}

// usageColumns are a key's evidence in report.csv: last_used (RFC 3339), last_used_service,
// last_used_region, replacement_used (whether its newer key was used; empty without one),
// deactivate_on and at_risk; all empty for a key the result does not describe.
func usageColumns(k *policy.KeyUsage) []string {
	if k == nil {
		return []string{"", "", "", "", "", ""}
	}
	var used, replacementUsed string
	if k.LastUsedDate != nil {
		used = k.LastUsedDate.UTC().Format(time.RFC3339)
	}
	if k.Replacement != nil {
		replacementUsed = strconv.FormatBool(k.Replacement.LastUsedDate != nil)
	}
	return []string{used, k.Service, k.Region, replacementUsed, k.DeactivateOn, strconv.FormatBool(k.AtRisk)}
}

func (r *Handler) emailSupport(ctx context.Context, doc Document, out workflow.Report, table []byte, points []TrendPoint) error {
	m, err := notify.SupportReportMail(r.From, []string{r.SupportEmail}, notify.SupportReport{
		Day: doc.Run.Now.UTC().Format(time.DateOnly), Summary: supportSummary(doc, out, r.Bucket), CSV: table,
		Location: "s3://" + r.Bucket + "/" + out.CSVKey, Charts: r.charts(ctx, doc, points)})
	if err != nil {
		return err
	}
	_, err = r.Sender.At(doc.Run.SendRate).Send(ctx, m)
	return err
}

// charts are the support email's pictures: the key ages, and the trend of users with keys.
// A chart that cannot be drawn is logged and left out: the email goes without it.
func (r *Handler) charts(ctx context.Context, doc Document, points []TrendPoint) []notify.Chart {
	var out []notify.Chart
	ages, err := keyAgeChart(doc.Totals)
	if err == nil && ages != nil {
		out = append(out, *ages)
	}
	trend, err2 := trendChart(points)
	if err2 == nil && trend != nil {
		out = append(out, *trend)
	}
	if err := errors.Join(err, err2); err != nil {
		r.Log.WarnContext(ctx, "chart left out of the support email", "error", err.Error())
	}
	return out
}

// supportSummary is the support email's list: the run's figures, then the failed accounts
// and the owners not notified (the first alertLines of each; report.csv has them all).
func supportSummary(doc Document, out workflow.Report, bucket string) []string {
	summary := figures(doc, out, bucket)
	for _, line := range failedAccounts(doc, bucket, out.JSONKey) {
		summary = append(summary, "Account "+line)
	}
	for _, line := range notNotified(doc, bucket, out.JSONKey) {
		summary = append(summary, "Not notified: "+line)
	}
	for _, line := range bounded(atRisk(doc), bucket, out.JSONKey) {
		summary = append(summary, "At risk: "+line)
	}
	var holds []string
	for _, h := range doc.Holds {
		holds = append(holds, holdLine(h))
	}
	for _, line := range bounded(holds, bucket, out.JSONKey) {
		summary = append(summary, "Hold: "+line)
	}
	return summary
}

// mode names the kind of run.
func mode(run workflow.Run) string {
	switch {
	case run.Cleanup:
		return "initial cleanup"
	case run.DryRun:
		return "dry run (nothing was changed)"
	}
	return "daily run"
}

// figures are the run's figures, the start of the support email's summary and the whole of
// the chat's.
func figures(doc Document, out workflow.Report, bucket string) []string {
	t := doc.Totals
	summary := []string{
		"Run: " + doc.Run.RunID + " (" + mode(doc.Run) + ")",
	}
	if bounceProblem(doc.Run) != "" {
		summary = append(summary, bounceLine(doc.Run))
	}
	summary = append(summary,
		fmt.Sprintf("Accounts processed: %d, failed: %d", out.Accounts, out.FailedAccounts),
		fmt.Sprintf("Keys created: %d, deactivated: %d, deleted: %d", t.KeysCreated, t.KeysDeactivated, t.KeysDeleted),
		fmt.Sprintf("Notices to owners: %d", t.Notices),
		fmt.Sprintf("Users without a usable email: %d (no key can be delivered to them; tag them with an email)", t.NoUsableEmail),
		fmt.Sprintf("Users deferred (maxUsers, time budget, settling keys; see report.csv): %d, user failures: %d", t.Deferred, t.Failures),
		fmt.Sprintf("Owners not notified (after the retries): %d", t.NotifyFailures),
		fmt.Sprintf("Owners at risk (an old key used within %d days and deactivated within %d days): %d", policy.AtRiskDays, policy.AtRiskDays, len(atRisk(doc))),
		usersWithKeys(t),
	)
	if doc.HoldsProblem != "" {
		summary = append(summary, "Holds could not be read: "+clip(doc.HoldsProblem, alertLineBytes))
	}
	if len(doc.Holds) > 0 {
		summary = append(summary, fmt.Sprintf("Active holds: %d (no key of these users is deactivated or deleted before the day after the hold, but unused keys)", len(doc.Holds)))
	}
	return append(summary, "Full report: s3://"+bucket+"/"+out.JSONKey)
}

// usersWithKeys is the support summary's count of the organization's IAM users with an active
// access key, by use (pkg/advice), every use named, in advice.Uses' order: the number a team
// that leaves long-lived keys behind watches fall. Failed accounts are not in it.
func usersWithKeys(t workflow.Counts) string {
	total := 0
	var parts []string
	for _, use := range advice.Uses {
		total += t.UsersWithKeys[use]
		parts = append(parts, fmt.Sprintf("%s %d", use, t.UsersWithKeys[use]))
	}
	return fmt.Sprintf("IAM users with active access keys: %d, by use: %s (report.csv's advice column says what replaces their keys)",
		total, strings.Join(parts, ", "))
}

// holdLine says a hold for people: whose, until when, why, placed by which execution when.
func holdLine(h hold.Hold) string {
	key := ""
	if h.AccessKeyID != "" {
		key = ", key " + h.AccessKeyID
	}
	return clip(fmt.Sprintf("%s/%s until %s (%s)%s, placed by execution %s on %s", h.Account, h.User, h.Until, h.Reason, key, h.PlacedBy,
		h.PlacedAt.UTC().Format(time.DateOnly)), alertLineBytes)
}

// atRisk names every owner whose old key is at risk (policy.KeyUsage.AtRisk): still used,
// and deactivated within days, with the evidence.
func atRisk(doc Document) []string {
	var lines []string
	for _, a := range doc.Accounts {
		for _, u := range a.Users {
			for _, k := range u.Keys {
				if !k.AtRisk {
					continue
				}
				line := fmt.Sprintf("%s in %s (%s): key %s is deactivated on %s and was %s", u.UserName, a.Account.AccountID, a.Account.Name,
					k.AccessKeyID, k.DeactivateOn, k.Usage)
				if r := k.Replacement; r != nil {
					line += fmt.Sprintf("; newer key %s %s", r.AccessKeyID, r)
				}
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// failedAccounts names the failed accounts, at most alertLines of them.
func failedAccounts(doc Document, bucket, key string) []string {
	var lines []string
	for _, a := range doc.Accounts {
		if a.Status == workflow.AccountFailed {
			lines = append(lines, fmt.Sprintf("%s (%s) failed: %s", a.Account.AccountID, a.Account.Name, a.Error))
		}
	}
	return bounded(lines, bucket, key)
}

// notNotified names the owners whose notification failed, at most alertLines of them.
func notNotified(doc Document, bucket, key string) []string {
	var lines []string
	for _, a := range doc.Accounts {
		for _, f := range a.NotifyFailures {
			lines = append(lines, fmt.Sprintf("%s in %s (%s): %s: %s", f.UserName, a.Account.AccountID, a.Account.Name, f.Error, f.Cause))
		}
	}
	return bounded(lines, bucket, key)
}

// bounded keeps the first alertLines lines, each cut at alertLineBytes, and says how many
// more the report has.
func bounded(lines []string, bucket, key string) []string {
	var out []string
	for _, line := range lines[:min(len(lines), alertLines)] {
		out = append(out, clip(line, alertLineBytes))
	}
	if len(lines) > alertLines {
		out = append(out, fmt.Sprintf("… and %d more in s3://%s/%s", len(lines)-alertLines, bucket, key))
	}
	return out
}

// clip cuts s to at most n bytes, on a character boundary, and marks the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// AlertSubjectPrefix begins the subject of the run's SNS alert; the parts that apply follow
// it ("N accounts failed", ...). docs/operations.md's failure table lists it.
const AlertSubjectPrefix = "Key rotation: "

// SummarySubjectPrefix begins the subject of the run's summary on the topic
// (summaryToTopic); the day and the kind of run follow it.
const SummarySubjectPrefix = "Key rotation summary: "

// chatLines bounds the accounts and owners a chat message names, and chatLineBytes each
// line: a chat message is read at a glance; the email has alertLines, the report all.
const (
	chatLines     = 5
	chatLineBytes = 300
)

// alert tells the operators which accounts failed, which owners were not notified, and why
// the support email was not sent (emailErr), if it was not.
func (r *Handler) alert(ctx context.Context, doc Document, out workflow.Report, ex workflow.Execution, emailErr error) error {
	var msg, chat strings.Builder
	var subject []string
	headline := fmt.Sprintf("IAM access key rotation run %s: %d of %d accounts failed, %d owners not notified.",
		doc.Run.RunID, out.FailedAccounts, out.Accounts, out.Totals.NotifyFailures)
	msg.WriteString(headline + "\n")
	chat.WriteString(headline + "\n")
	failed, missed := failedAccounts(doc, r.Bucket, out.JSONKey), notNotified(doc, r.Bucket, out.JSONKey)
	if out.FailedAccounts > 0 {
		subject = append(subject, fmt.Sprintf("%d accounts failed", out.FailedAccounts))
		msg.WriteString("\nFailed accounts:\n")
		for _, line := range failed {
			msg.WriteString("- " + line + "\n")
		}
		chat.WriteString("Failed accounts:\n" + chatList(failed, out.FailedAccounts))
	}
	if out.Totals.NotifyFailures > 0 {
		subject = append(subject, fmt.Sprintf("%d owners not notified", out.Totals.NotifyFailures))
		msg.WriteString("\nOwners not notified after the retries (a new key stays in its hand-off secret for the next run):\n")
		for _, line := range missed {
			msg.WriteString("- " + line + "\n")
		}
		chat.WriteString("Owners not notified (a new key waits in its hand-off secret for the next run):\n" + chatList(missed, out.Totals.NotifyFailures))
	}
	if bounceProblem(doc.Run) != "" {
		subject = append(subject, "bounces not suppressed")
		msg.WriteString("\n" + bounceLine(doc.Run) + "\n")
		chat.WriteString(clip(bounceLine(doc.Run), 2*chatLineBytes) + "\n")
	}
	if emailErr != nil {
		subject = append(subject, "support email not sent")
		fmt.Fprintf(&msg, "\nThe support email was not sent: %v\n", emailErr)
		chat.WriteString(clip(fmt.Sprintf("The support email was not sent: %v", emailErr), chatLineBytes) + "\n")
	}
	fmt.Fprintf(&msg, "\nReport: s3://%s/%s\n", r.Bucket, out.JSONKey)
	if ex.ConsoleURL != "" {
		fmt.Fprintf(&msg, "Execution: %s\n", ex.ConsoleURL)
	}
	fmt.Fprintf(&chat, "Report: s3://%s/%s", r.Bucket, out.JSONKey)
	title := AlertSubjectPrefix + strings.Join(subject, ", ")
	return r.publish(ctx, alert.Message{Subject: title, Text: msg.String(),
		Chat: alert.Chat(title, chat.String(), "RunAlert", doc.Run.RunID, ex, map[string]string{
			"failedAccounts": strconv.Itoa(out.FailedAccounts), "notifyFailures": strconv.Itoa(out.Totals.NotifyFailures)})})
}

// chatList is a chat message's list: the first chatLines of lines (of total), each cut at
// chatLineBytes.
func chatList(lines []string, total int) string {
	var b strings.Builder
	for _, line := range lines[:min(len(lines), chatLines)] {
		b.WriteString("• " + clip(line, chatLineBytes) + "\n")
	}
	if total > chatLines {
		fmt.Fprintf(&b, "… and %d more in the report\n", total-chatLines)
	}
	return b.String()
}

// summaryMessage is the run's summary for the topic: the support email's summary by email,
// its figures in chat.
func summaryMessage(doc Document, out workflow.Report, bucket string, ex workflow.Execution) alert.Message {
	title := SummarySubjectPrefix + doc.Run.Now.UTC().Format(time.DateOnly) + ", " + mode(doc.Run)
	text := strings.Join(supportSummary(doc, out, bucket), "\n") + "\n"
	if ex.ConsoleURL != "" {
		text += "Execution: " + ex.ConsoleURL + "\n"
	}
	return alert.Message{Subject: title, Text: text,
		Chat: alert.Chat(title, strings.Join(figures(doc, out, bucket), "\n"), "RunSummary", doc.Run.RunID, ex, map[string]string{
			"failedAccounts": strconv.Itoa(out.FailedAccounts), "notifyFailures": strconv.Itoa(out.Totals.NotifyFailures)})}
}

// publish sends m to the failure topic.
func (r *Handler) publish(ctx context.Context, m alert.Message) error {
	in, err := m.Input(r.TopicARN)
	if err != nil {
		return err
	}
	if _, err := r.SNS.Publish(ctx, in); err != nil {
		return fmt.Errorf("publish %q to %s: %w", m.Subject, r.TopicARN, err)
	}
	return nil
}

// emitMetrics writes one embedded-metric-format line: CloudWatch turns it into the run
// metrics (metrics.Runs) without an API call.
func (r *Handler) emitMetrics(doc Document, out workflow.Report) {
	line := map[string]any{}
	var defs []map[string]string
	for _, m := range metrics.Runs {
		line[m.Name] = m.Value(out)
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": "Count"})
	}
	line["runId"] = doc.Run.RunID
	line["dryRun"] = doc.Run.DryRun
	line["_aws"] = map[string]any{
		"Timestamp":         doc.Run.Now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{"Namespace": metrics.Namespace, "Dimensions": [][]string{{}}, "Metrics": defs}},
	}
	b, _ := json.Marshal(line)
	fmt.Fprintln(r.Metrics, string(b))
}

func (r *Handler) getJSON(ctx context.Context, key string, v any) error {
	out, err := r.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.Bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", r.Bucket, key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(out.Body).Decode(v); err != nil {
		return fmt.Errorf("decode s3://%s/%s: %w", r.Bucket, key, err)
	}
	return nil
}

func (r *Handler) put(ctx context.Context, key, contentType string, body []byte) error {
	if _, err := r.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &r.Bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: &contentType}); err != nil {
		return fmt.Errorf("write s3://%s/%s: %w", r.Bucket, key, err)
	}
	return nil
}
