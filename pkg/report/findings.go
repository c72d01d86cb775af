package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Security Hub findings (setting securityHubFindings): one finding per IAM user whose keys the
// rotator cannot rotate, in the AWS Security Finding Format, imported in the rotator account
// with the default product ARN (BatchImportFindings requires the finding's AwsAccountId to be
// the caller's account then); a delegated administrator aggregates them. A finding's Id is
// stable per account and user, so a later run updates it (UpdatedAt) and the first run that
// finds the condition ended archives it (RecordState ARCHIVED: a finding provider sets
// RecordState; Workflow.Status belongs to the customer's BatchUpdateFindings, and Security
// Hub sets it back to NEW should an archived finding become ACTIVE again).

// SecurityHubAPI imports findings.
type SecurityHubAPI interface {
	BatchImportFindings(context.Context, *securityhub.BatchImportFindingsInput, ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

// FindingsKey is the report-bucket object that keeps the open findings between runs (and
// since when a user's rotation fails), so that a run knows which findings to archive.
const FindingsKey = workflow.FindingsKey

const (
	// findingsSchema is the ASFF version.
	findingsSchema = "2018-10-08"
	// findingsBatch is BatchImportFindings' documented maximum of findings per request.
	findingsBatch = 100
	// maxFindings bounds the open findings a run imports and FindingsKey keeps (and the
	// failing users it remembers): the object stays a few MB; the rest are counted and logged.
	maxFindings = 10000
	// findingType is the finding's type, namespace/category/classifier.
	findingType = "Software and Configuration Checks/AWS Security Best Practices/IAM access key rotation"
	// findingIDPrefix starts every finding's Id and GeneratorId: the rotator's name.
	findingIDPrefix = statemachine.Name
)

// The conditions a finding reports, most severe first.
const (
	findingStuck      = "stuck"       // the user's rotation has failed for more than noticePeriod days
	findingNoDelivery = "no-delivery" // no usable address, or the key's delivery is refused
	findingExempt     = "exempt"      // exempt, with a key past the limit
	findingHeld       = "held"        // an operator's hold keeps the user's keys (pkg/hold)
)

// FindingsConfig is what the findings need besides the report: where they are imported and
// the rules' limits.
type FindingsConfig struct {
	Partition, Region, AccountID string
	// LimitDays: an exempt user's key older than this is past the limit.
	LimitDays int
	// StuckDays: a user whose rotation has failed for more than this many days is stuck.
	StuckDays int
}

// ProductARN is the default product ARN of the rotator account's own findings.
func (c FindingsConfig) ProductARN() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", c.Partition, c.Region, c.AccountID, c.AccountID)
}

// FindingsState is FindingsKey's content.
type FindingsState struct {
	RunID string `json:"runId"`
	// Open are the findings imported ACTIVE and not archived since, by Id.
	Open map[string]OpenFinding `json:"open"`
	// Failing is since when each failing user's rotation fails (run time), by account/user.
	Failing map[string]time.Time `json:"failing,omitempty"`
}

// OpenFinding is what archiving a finding needs again (BatchImportFindings takes whole
// findings, also to update one).
type OpenFinding struct {
	Account   string    `json:"account"`
	User      string    `json:"user"`
	Kind      string    `json:"kind"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"createdAt"`
}

// FindingsPlan is one run's findings: those to import and the state to keep.
type FindingsPlan struct {
	Findings []shtypes.AwsSecurityFinding
	Next     FindingsState
	// Active and Archived count Findings by RecordState; Dropped, the open findings beyond
	// maxFindings.
	Active, Archived, Dropped int
}

// PlanFindings decides a run's findings from its report and the previous state. A finding is
// archived only for a user of an account the run completed (AccountDone) who is no longer in
// its condition, or who is gone; the findings of accounts the run did not complete (failed,
// excluded, not in a canary's list) and of users the run could not decide (an error, not yet
// stuck) stay as they are.
func PlanFindings(doc Document, prev FindingsState, c FindingsConfig) FindingsPlan {
	now := doc.Run.Now.UTC()
	next := FindingsState{RunID: doc.Run.RunID, Open: map[string]OpenFinding{}, Failing: map[string]time.Time{}}
	type candidate struct {
		id string
		OpenFinding
		description, remediation string
		keys                     []string
		severity                 shtypes.SeverityLabel
	}
	var active []candidate
	done := map[string]bool{}
	undecided := map[string]bool{}
	for _, a := range doc.Accounts {
		if a.Status != workflow.AccountDone {
			continue
		}
		acct := a.Account.AccountID
		done[acct] = true
		holds := hold.Book{Holds: doc.Holds}.Account(acct, now)
		for _, u := range a.Users {
			id := FindingID(acct, u.UserName)
			user := acct + "/" + u.UserName
			cand := candidate{id: id, OpenFinding: OpenFinding{Account: acct, User: u.UserName}}
			for _, k := range u.Keys {
				cand.keys = append(cand.keys, k.AccessKeyID)
			}
			switch {
			case u.Error != "":
				since, ok := prev.Failing[user]
				if !ok {
					since = now
				}
				next.Failing[user] = since
				days := int(now.Sub(since).Hours() / 24)
				if days <= c.StuckDays {
					undecided[id] = true // an open finding stays as it is
					continue
				}
				cand.Kind, cand.severity = findingStuck, shtypes.SeverityLabelHigh
				cand.Title = fmt.Sprintf("IAM user %s in %s: key rotation has failed for %d days", u.UserName, acct, days)
				cand.description = fmt.Sprintf("The rotator has failed on IAM user %s in account %s (%s) in every run since %s: %s",
					u.UserName, acct, a.Account.Name, since.Format(time.DateOnly), cut(u.Error))
				cand.remediation = fmt.Sprintf("Read the user's error in the run's report (s3 reports/%s/report.json), fix its cause "+
					"(the member role in the account, a permissions boundary or SCP, the user's tags), then the next run retries. Until then "+
					"the user's keys are not rotated.", doc.Run.RunID)
			case u.EmailProblem != "" && len(u.Keys) > 0:
				cand.Kind, cand.severity = findingNoDelivery, shtypes.SeverityLabelMedium
				cand.Title = fmt.Sprintf("IAM user %s in %s: no new key can be delivered", u.UserName, acct)
				cand.description = fmt.Sprintf("The rotator cannot deliver a new key of IAM user %s in account %s (%s), so it makes none: %s. "+
					"Its keys are still deactivated and deleted on their dates.", u.UserName, acct, a.Account.Name, cut(u.EmailProblem))
				if u.Held { // one finding per user, the most severe: the hold's own is not imported
					cand.description = fmt.Sprintf("The rotator cannot deliver a new key of IAM user %s in account %s (%s), so it makes none: %s. "+
						"An operator's hold keeps its keys for now (%s); after it, they are deactivated and deleted on their dates.",
						u.UserName, acct, a.Account.Name, cut(u.EmailProblem), cut(u.Hold))
				}
				cand.remediation = "Tag the user with its owner's email address in an allowed domain (the emailTagKeys setting names the tags), " +
					"or fix the delivery the description names (the owner's address on SES's suppression list, the application's secret that " +
					"does not opt in); the next run then rotates the key."
			case u.Status == policy.StatusExempt && u.OldestKeyAgeDays > c.LimitDays:
				cand.Kind, cand.severity = findingExempt, shtypes.SeverityLabelMedium
				cand.Title = fmt.Sprintf("IAM user %s in %s: exempt from rotation with a key %d days old", u.UserName, acct, u.OldestKeyAgeDays)
				cand.description = fmt.Sprintf("IAM user %s in account %s (%s) is exempt from rotation (%s) and its oldest key is %d days old, "+
					"past the %d-day limit.", u.UserName, acct, a.Account.Name, cut(u.Reason), u.OldestKeyAgeDays, c.LimitDays)
				cand.remediation = "Rotate the user's key by hand (create a key, switch the application, deactivate and delete the old one), " +
					"or remove the exemption tag so the rotator rotates it with the owner's notice; better, replace the long-lived key with a role."
			case u.Held:
				// LOW: a key past its date stays active, so a person has something to do
				// before the hold's last day; but the hold is an operator's decision (only
				// those who may start executions place one), recorded with its reason, at
				// most 2 × noticePeriod days long, and it ends by itself (the rules apply
				// again the next day; rule 2 deletes unused keys meanwhile). An exemption,
				// unbounded and set by a tag, is MEDIUM; a rotation stuck on an unknown
				// cause, HIGH.
				h, known := holds[u.UserName]
				cand.Kind, cand.severity = findingHeld, shtypes.SeverityLabelLow
				cand.Title, cand.description, cand.remediation = heldTexts(a.Account, u, h, known, now)
			case u.Status == policy.StatusDeferred:
				undecided[id] = true // not decided this run: an open finding stays as it is
				continue
			}
			if cand.Kind == "" {
				continue
			}
			if p, ok := prev.Open[id]; ok {
				cand.CreatedAt = p.CreatedAt
			} else {
				cand.CreatedAt = now
			}
			active = append(active, cand)
		}
	}
	// Most severe first, then the oldest, so that the bound drops the least urgent.
	rank := map[string]int{findingStuck: 0, findingNoDelivery: 1, findingExempt: 2, findingHeld: 3}
	slices.SortFunc(active, func(x, y candidate) int {
		if d := rank[x.Kind] - rank[y.Kind]; d != 0 {
			return d
		}
		if d := x.CreatedAt.Compare(y.CreatedAt); d != 0 {
			return d
		}
		return strings.Compare(x.id, y.id)
	})
	var plan FindingsPlan
	// Open findings the run does not decide on stay open, first (they count against the bound).
	for _, id := range slices.Sorted(maps.Keys(prev.Open)) {
		p := prev.Open[id]
		if !done[p.Account] || undecided[id] {
			next.Open[id] = p
		}
	}
	for _, cand := range active {
		if len(next.Open) >= maxFindings {
			plan.Dropped++
			continue
		}
		next.Open[cand.id] = cand.OpenFinding
		plan.Findings = append(plan.Findings, c.finding(cand.id, cand.OpenFinding, now, cand.severity, cand.description, cand.remediation,
			cand.keys, shtypes.RecordStateActive))
		plan.Active++
	}
	for _, id := range slices.Sorted(maps.Keys(prev.Open)) {
		p := prev.Open[id]
		if _, open := next.Open[id]; open || !done[p.Account] {
			continue
		}
		plan.Findings = append(plan.Findings, c.finding(id, p, now, shtypes.SeverityLabelInformational,
			fmt.Sprintf("Resolved: the rotator found on %s that IAM user %s in account %s is no longer in this condition (or no longer exists).",
				now.Format(time.DateOnly), p.User, p.Account),
			"None: the condition has ended.", nil, shtypes.RecordStateArchived))
		plan.Archived++
	}
	// Failing users of accounts the run did not complete still fail.
	for user, since := range prev.Failing {
		if acct, _, _ := strings.Cut(user, "/"); !done[acct] {
			next.Failing[user] = since
		}
	}
	// Bound the failing users remembered: the most recent failures are dropped first (they
	// start counting again).
	if len(next.Failing) > maxFindings {
		users := slices.SortedFunc(maps.Keys(next.Failing), func(x, y string) int {
			return cmpOr(next.Failing[x].Compare(next.Failing[y]), strings.Compare(x, y))
		})
		for _, u := range users[maxFindings:] {
			delete(next.Failing, u)
		}
	}
	plan.Next = next
	return plan
}

// heldTexts are the title, description and remediation of the finding of user u of account
// a, held by an operator: h is the hold as the report bucket records it (known), else u's
// Hold says it. The hold's last day is the one it holds through: its Until, or, released
// early and its owner not yet known to have read the release's email, at most the day its
// placing asked for (policy.Hold.Holds).
func heldTexts(a workflow.Account, u workflow.UserResult, h hold.Hold, known bool, now time.Time) (title, description, remediation string) {
	release := fmt.Sprintf(`release the hold early (an execution with {"release":[{"account":"%s","user":"%s"}]})`, a.AccountID, u.UserName)
	const runbook = `Runbook: "An application broke at deactivation" in docs/operations.md.`
	if !known {
		title = fmt.Sprintf("IAM user %s in %s: rotation on hold by an operator", u.UserName, a.AccountID)
		description = fmt.Sprintf("An operator's hold keeps the rotator from deactivating or deleting the keys of IAM user %s in account %s (%s), "+
			"but for unused keys (rule 2): %s. %s", u.UserName, a.AccountID, a.Name, cut(u.Hold), cut(u.Reason))
		remediation = "Move the application that uses the old key to the user's newer key (better, to a role) before the hold's last day " +
			"(the description names it): the next day the rotator deactivates the old key. Once it has moved, " + release + ". " + runbook
		return title, description, remediation
	}
	today := now.UTC().Format(time.DateOnly)
	last, note := h.Until, ""
	if h.ReleasedAt != nil {
		note = fmt.Sprintf(" Released early by execution %s on %s: the hold's last day became that day.", h.ReleasedBy, h.ReleasedAt.UTC().Format(time.DateOnly))
	}
	if today > h.Until && h.Asked != "" {
		last = h.Asked
		note += fmt.Sprintf(" It holds, at most through %s, until the owner has read the release's email.", h.Asked)
	}
	if h.AccessKeyID != "" {
		note += fmt.Sprintf(" The hold names key %s.", h.AccessKeyID)
	}
	next := last
	if d, err := time.Parse(time.DateOnly, last); err == nil {
		next = d.AddDate(0, 0, 1).Format(time.DateOnly)
	}
	title = fmt.Sprintf("IAM user %s in %s: rotation on hold until %s, placed by execution %s (%s)", u.UserName, a.AccountID, last, h.PlacedBy, h.Reason)
	description = fmt.Sprintf("An operator's hold keeps the rotator from deactivating or deleting the keys of IAM user %s in account %s (%s), "+
		"but for unused keys (rule 2), and from making it a new key. Reason: %s. Placed by execution %s on %s (CloudTrail's StartExecution "+
		"event for it names who started it); its last day is %s, and from %s the rules apply again: the old key is deactivated as they "+
		"plan it, its owner told.%s", u.UserName, a.AccountID, a.Name, cut(h.Reason), h.PlacedBy, h.PlacedAt.UTC().Format(time.DateOnly), last, next, note)
	remediation = fmt.Sprintf("Move the application that uses the old key to the user's newer key (better, to a role) by %s, the hold's "+
		"last day: from %s the rotator deactivates the old key as the rules plan it. Once it has moved, %s. %s", last, next, release, runbook)
	return title, description, remediation
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// FindingID is the finding of one user's account and name: the same in every run.
func FindingID(account, user string) string {
	return findingIDPrefix + "/" + account + "/" + user
}

// The documented lengths of the texts of a finding, in characters.
const (
	maxTitle       = 256
	maxDescription = 1024
	maxRemediation = 512
)

// bound cuts s to at most n characters.
func bound(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cut bounds a text of the report that a finding repeats (an error can be long).
func cut(s string) string {
	const most = 900
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

// finding builds one finding in ASFF: every required attribute, and Severity and Types also
// under FindingProviderFields, where a provider updates them.
func (c FindingsConfig) finding(id string, f OpenFinding, now time.Time, sev shtypes.SeverityLabel, description, remediation string,
	keys []string, state shtypes.RecordState) shtypes.AwsSecurityFinding {
	const stamp = "2006-01-02T15:04:05.000Z07:00"
	resources := []shtypes.Resource{{
		Type:      aws.String("AwsIamUser"),
		Id:        aws.String(fmt.Sprintf("arn:%s:iam::%s:user/%s", c.Partition, f.Account, f.User)),
		Partition: shtypes.Partition(c.Partition),
		Region:    aws.String(c.Region),
	}}
	for _, k := range keys {
		resources = append(resources, shtypes.Resource{Type: aws.String("AwsIamAccessKey"), Id: aws.String(k),
			Partition: shtypes.Partition(c.Partition), Region: aws.String(c.Region)})
	}
	return shtypes.AwsSecurityFinding{
		SchemaVersion: aws.String(findingsSchema),
		Id:            aws.String(id),
		ProductArn:    aws.String(c.ProductARN()),
		GeneratorId:   aws.String(findingIDPrefix + "/" + f.Kind),
		AwsAccountId:  aws.String(c.AccountID),
		Types:         []string{findingType},
		CreatedAt:     aws.String(f.CreatedAt.UTC().Format(stamp)),
		UpdatedAt:     aws.String(now.UTC().Format(stamp)),
		Severity:      &shtypes.Severity{Label: sev},
		FindingProviderFields: &shtypes.FindingProviderFields{
			Severity: &shtypes.FindingProviderSeverity{Label: sev},
			Types:    []string{findingType},
		},
		Title:       aws.String(bound(f.Title, maxTitle)),
		Description: aws.String(bound(description, maxDescription)),
		Remediation: &shtypes.Remediation{Recommendation: &shtypes.Recommendation{Text: aws.String(bound(remediation, maxRemediation))}},
		Resources:   resources[:min(len(resources), 32)],
		RecordState: state,
		ProductFields: map[string]string{
			"iam-access-key-rotator/Account": f.Account,
			"iam-access-key-rotator/User":    f.User,
			"iam-access-key-rotator/Kind":    f.Kind,
		},
	}
}

// importFindings imports the plan's findings in batches of findingsBatch. A finding Security
// Hub refuses (FailedFindings) or a batch that fails is logged; an archive that did not reach
// Security Hub stays open in the state, for the next run to archive. It returns the findings
// that failed.
func (r *Handler) importFindings(ctx context.Context, plan *FindingsPlan) int {
	failed := 0
	fail := func(f shtypes.AwsSecurityFinding, code, message string) {
		failed++
		r.Log.ErrorContext(ctx, "Security Hub finding not imported", "id", aws.ToString(f.Id), "recordState", string(f.RecordState),
			"errorCode", code, "error", message)
		if f.RecordState == shtypes.RecordStateArchived {
			acct, user := f.ProductFields["iam-access-key-rotator/Account"], f.ProductFields["iam-access-key-rotator/User"]
			plan.Next.Open[aws.ToString(f.Id)] = OpenFinding{Account: acct, User: user, Kind: f.ProductFields["iam-access-key-rotator/Kind"],
				Title: aws.ToString(f.Title), CreatedAt: parseStamp(aws.ToString(f.CreatedAt))}
		}
	}
	for batch := range slices.Chunk(plan.Findings, findingsBatch) {
		out, err := r.SecurityHub.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
		if err != nil {
			for _, f := range batch {
				fail(f, "", err.Error())
			}
			continue
		}
		byID := map[string]shtypes.AwsSecurityFinding{}
		for _, f := range batch {
			byID[aws.ToString(f.Id)] = f
		}
		for _, ff := range out.FailedFindings {
			f, ok := byID[aws.ToString(ff.Id)]
			if !ok {
				f = shtypes.AwsSecurityFinding{Id: ff.Id}
			}
			fail(f, aws.ToString(ff.ErrorCode), aws.ToString(ff.ErrorMessage))
		}
	}
	return failed
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// findings imports the run's findings and keeps the state, when the deployment asks for them
// (r.SecurityHub set); a dry run imports none. Nothing here fails the run: a problem is
// logged and returned, for the report's log line.
func (r *Handler) findings(ctx context.Context, doc Document) (FindingsPlan, error) {
	if r.SecurityHub == nil || doc.Run.DryRun {
		return FindingsPlan{}, nil
	}
	var prev FindingsState
	err := r.getJSON(ctx, FindingsKey, &prev)
	var missing *s3types.NoSuchKey
	switch {
	case errors.As(err, &missing):
	case err != nil:
		// Without the previous state no finding could be archived, and every finding's
		// CreatedAt would restart: import nothing this run.
		return FindingsPlan{}, err
	}
	plan := PlanFindings(doc, prev, r.Findings)
	failed := r.importFindings(ctx, &plan)
	body, err := json.Marshal(plan.Next)
	if err != nil {
		return plan, fmt.Errorf("encode the findings state: %w", err)
	}
	if err := r.put(ctx, FindingsKey, "application/json", body); err != nil {
		return plan, err
	}
	if plan.Dropped > 0 {
		r.Log.WarnContext(ctx, "Security Hub findings beyond the bound not imported", "dropped", plan.Dropped, "bound", maxFindings)
	}
	if failed > 0 {
		return plan, fmt.Errorf("%d of %d Security Hub findings not imported (see the log)", failed, len(plan.Findings))
	}
	return plan, nil
}
