// Package workflow owns the contract between the state machine and the Lambdas: the
// execution input, the typed payload of every step, and the error names the ASL's Retry and
// Catch match. statemachine/rotation.asl.json and these types describe the same payloads.
package workflow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// ExecutionInput is what the schedule ({}) or an operator starts an execution with.
type ExecutionInput struct {
	// Accounts, when set, limits the run to these 12-digit account IDs.
	Accounts []string `json:"accounts,omitempty"`
	DryRun   bool     `json:"dryRun,omitempty"`
	// Cleanup selects the one-time initial cleanup mode (policy rule 7). A cleanup run that
	// writes needs "confirmCleanup": CleanupConfirmation in the same input; a dry run does not.
	Cleanup bool `json:"cleanup,omitempty"`
	// AsOf replaces "now" (dry runs only): what would happen on that day.
	AsOf *time.Time `json:"asOf,omitempty"`
	// Holds and Releases are the operator's holds placed and ended by this execution (only
	// those who may start executions can): see pkg/hold.
	Holds    []HoldRequest    `json:"hold,omitempty"`
	Releases []ReleaseRequest `json:"release,omitempty"`
}

// HoldRequest places an operator's hold on one user's keys: through Until (YYYY-MM-DD, at
// most 2 × noticePeriod days after the run's day) no rule but rule 2 deactivates or deletes
// them; with Reactivate, the run makes the key AccessKeyID (else the key the rotator
// deactivated most recently) active again if it is Inactive.
type HoldRequest struct {
	Account     string `json:"account"`
	User        string `json:"user"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	Until       string `json:"until"`
	Reason      string `json:"reason"`
	Reactivate  bool   `json:"reactivate,omitempty"`
}

// ReleaseRequest ends a user's hold before its day.
type ReleaseRequest struct {
	Account string `json:"account"`
	User    string `json:"user"`
}

// CleanupConfirmation is the value of "confirmCleanup" that a cleanup run which writes
// needs. Cleanup mode (policy rule 7) deletes Inactive keys at the delete-at age and
// deactivates the old keys of users without a usable email, with no notice to anyone and
// without the waits of the daily rules (a replaced key's T_r+2N); it is meant for the first
// run only. The phrase makes that a decision: a copied {"cleanup": true}, or a schedule left
// in cleanup mode, fails with InvalidInput before anything is read or written. Preview a
// cleanup with {"cleanup": true, "dryRun": true}, which needs no confirmation.
const CleanupConfirmation = "delete old inactive keys without notice"

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// ValidAccountID reports whether id is a 12-digit AWS account ID.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }

// iamNamePattern is the character set and length IAM allows in user and role names.
var iamNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// ValidIAMName reports whether name is a valid IAM user or role name.
func ValidIAMName(name string) bool { return iamNamePattern.MatchString(name) }

// ParseExecutionInput validates an execution input document before anything is read or
// written; every problem is an *InvalidInput naming the field.
func ParseExecutionInput(raw json.RawMessage) (ExecutionInput, error) {
	var doc struct {
		Accounts *[]string `json:"accounts"`
		DryRun   *bool     `json:"dryRun"`
		Cleanup  *bool     `json:"cleanup"`
		Confirm  *string   `json:"confirmCleanup"`
		AsOf     *string   `json:"asOf"`
		Holds    *[]struct {
			Account     *string `json:"account"`
			User        *string `json:"user"`
			AccessKeyID *string `json:"accessKeyId"`
			Until       *string `json:"until"`
			Reason      *string `json:"reason"`
			Reactivate  *bool   `json:"reactivate"`
		} `json:"hold"`
		Releases *[]struct {
			Account *string `json:"account"`
			User    *string `json:"user"`
		} `json:"release"`
	}
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	if err := input.Decode(raw, &doc); err != nil {
		return ExecutionInput{}, invalid(err)
	}
	var in ExecutionInput
	if doc.Accounts != nil {
		if len(*doc.Accounts) == 0 {
			return in, &InvalidInput{Field: "accounts", Problem: "must list at least one account ID; omit it to process every account"}
		}
		seen := map[string]bool{}
		for i, id := range *doc.Accounts {
			switch {
			case !ValidAccountID(id):
				return in, &InvalidInput{Field: fmt.Sprintf("accounts[%d]", i), Problem: fmt.Sprintf("%q is not a 12-digit account ID", id)}
			case seen[id]:
				return in, &InvalidInput{Field: fmt.Sprintf("accounts[%d]", i), Problem: fmt.Sprintf("%s is listed twice", id)}
			}
			seen[id] = true
		}
		in.Accounts = *doc.Accounts
	}
	in.DryRun = doc.DryRun != nil && *doc.DryRun
	in.Cleanup = doc.Cleanup != nil && *doc.Cleanup
	switch {
	case doc.Confirm != nil && !in.Cleanup:
		return in, &InvalidInput{Field: "confirmCleanup", Problem: "is only allowed with \"cleanup\": true"}
	case doc.Confirm != nil && *doc.Confirm != CleanupConfirmation:
		return in, &InvalidInput{Field: "confirmCleanup", Problem: fmt.Sprintf("must be %q to run the initial cleanup", CleanupConfirmation)}
	case in.Cleanup && !in.DryRun && doc.Confirm == nil:
		return in, &InvalidInput{Field: "cleanup", Problem: fmt.Sprintf("the initial cleanup deletes and deactivates keys without notice "+
			"and is meant for the first run only: add \"confirmCleanup\": %q to run it, or \"dryRun\": true to preview it", CleanupConfirmation)}
	}
	if doc.AsOf != nil {
		if !in.DryRun {
			return in, &InvalidInput{Field: "asOf", Problem: "is only allowed with \"dryRun\": true"}
		}
		t, err := input.Time("asOf", *doc.AsOf)
		if err != nil {
			return in, invalid(err)
		}
		in.AsOf = &t
	}
	if doc.Holds == nil && doc.Releases == nil {
		return in, nil
	}
	if in.DryRun || in.Cleanup {
		field := "hold"
		if doc.Holds == nil {
			field = "release"
		}
		return in, &InvalidInput{Field: field, Problem: "is not allowed with \"dryRun\" or \"cleanup\": a hold is placed or released by a run that writes"}
	}
	seen := map[string]string{}
	user := func(field string, account, name *string) (string, string, error) {
		switch {
		case account == nil:
			return "", "", &InvalidInput{Field: field + ".account", Problem: "is required: the 12-digit account ID of the user"}
		case !ValidAccountID(*account):
			return "", "", &InvalidInput{Field: field + ".account", Problem: fmt.Sprintf("%q is not a 12-digit account ID", *account)}
		case name == nil:
			return "", "", &InvalidInput{Field: field + ".user", Problem: "is required: the IAM user's name"}
		case !ValidIAMName(*name):
			return "", "", &InvalidInput{Field: field + ".user", Problem: fmt.Sprintf("%q is not an IAM user name (1 to 64 of letters, digits and +=,.@_-)", *name)}
		case seen[*account+"/"+*name] != "":
			return "", "", &InvalidInput{Field: field, Problem: fmt.Sprintf("user %s in %s is already named by %s", *name, *account, seen[*account+"/"+*name])}
		}
		seen[*account+"/"+*name] = field
		return *account, *name, nil
	}
	if doc.Holds != nil {
		if len(*doc.Holds) == 0 {
			return in, &InvalidInput{Field: "hold", Problem: "must list at least one hold; omit it to place none"}
		}
		for i, h := range *doc.Holds {
			f := fmt.Sprintf("hold[%d]", i)
			account, name, err := user(f, h.Account, h.User)
			if err != nil {
				return in, err
			}
			req := HoldRequest{Account: account, User: name, Reactivate: h.Reactivate != nil && *h.Reactivate}
			switch {
			case h.Until == nil:
				return in, &InvalidInput{Field: f + ".until", Problem: "is required: the last day of the hold, YYYY-MM-DD"}
			case !isDay(*h.Until):
				return in, &InvalidInput{Field: f + ".until", Problem: fmt.Sprintf("%q is not a day such as 2026-12-20", *h.Until)}
			case h.Reason == nil || strings.TrimSpace(*h.Reason) == "":
				return in, &InvalidInput{Field: f + ".reason", Problem: "is required: why the keys are held (an incident or ticket), for the owner and the report"}
			case len(*h.Reason) > 256:
				return in, &InvalidInput{Field: f + ".reason", Problem: "is longer than 256 characters"}
			case h.AccessKeyID != nil && !accessKeyIDPattern.MatchString(*h.AccessKeyID):
				return in, &InvalidInput{Field: f + ".accessKeyId", Problem: fmt.Sprintf("%q is not an access key ID", *h.AccessKeyID)}
			}
			req.Until, req.Reason = *h.Until, strings.TrimSpace(*h.Reason)
			if h.AccessKeyID != nil {
				req.AccessKeyID = *h.AccessKeyID
			}
			in.Holds = append(in.Holds, req)
		}
	}
	if doc.Releases != nil {
		if len(*doc.Releases) == 0 {
			return in, &InvalidInput{Field: "release", Problem: "must list at least one user; omit it to release none"}
		}
		for i, r := range *doc.Releases {
			account, name, err := user(fmt.Sprintf("release[%d]", i), r.Account, r.User)
			if err != nil {
				return in, err
			}
			in.Releases = append(in.Releases, ReleaseRequest{Account: account, User: name})
		}
	}
	return in, nil
}

var accessKeyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

func isDay(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Format(time.DateOnly) == s
}

// CheckHolds checks the input's holds against the run's day (now) and the notice period:
// a hold's last day is today or later, and at most 2 × noticePeriod days ahead, so that no
// hold keeps a key past its limit for longer than the notice periods its owner is given; and
// a run over explicit accounts holds and releases only in them.
func (in ExecutionInput) CheckHolds(now time.Time, noticePeriod int) error {
	today := now.UTC().Truncate(24 * time.Hour)
	latest := today.AddDate(0, 0, 2*noticePeriod)
	for i, h := range in.Holds {
		f := fmt.Sprintf("hold[%d]", i)
		until, _ := time.Parse(time.DateOnly, h.Until)
		switch {
		case until.Before(today):
			return &InvalidInput{Field: f + ".until", Problem: fmt.Sprintf("%s is in the past (the run's day is %s)", h.Until, today.Format(time.DateOnly))}
		case until.After(latest):
			return &InvalidInput{Field: f + ".until", Problem: fmt.Sprintf("%s is more than 2 × noticePeriod (%d days) after the run's day %s: hold until %s at most, and place a new hold then if needed",
				h.Until, 2*noticePeriod, today.Format(time.DateOnly), latest.Format(time.DateOnly))}
		case len(in.Accounts) > 0 && !slices.Contains(in.Accounts, h.Account):
			return &InvalidInput{Field: f + ".account", Problem: fmt.Sprintf("%s is not among the run's accounts: add it to \"accounts\"", h.Account)}
		}
	}
	for i, r := range in.Releases {
		if len(in.Accounts) > 0 && !slices.Contains(in.Accounts, r.Account) {
			return &InvalidInput{Field: fmt.Sprintf("release[%d].account", i), Problem: fmt.Sprintf("%s is not among the run's accounts: add it to \"accounts\"", r.Account)}
		}
	}
	return nil
}

// Run is the settings of one execution, passed to every step.
type Run struct {
	// RunID is the execution's name: it names the run's S3 objects and STS sessions.
	RunID string `json:"runId"`
	// Now is the policy's "today" for every account: the execution's start, or asOf.
	Now     time.Time `json:"now"`
	DryRun  bool      `json:"dryRun"`
	Cleanup bool      `json:"cleanup"`
	// Accounts repeats the explicitly requested accounts (empty: all).
	Accounts []string `json:"accounts,omitempty"`
	// SendRate is the run's SES send rate, in messages per second, that every email of the
	// run, in every account, shares (pkg/sendrate): SES_MAX_SEND_RATE, or SES's quota.
	SendRate int `json:"sendRate"`
	// BouncesSuppressed is set when ListAccounts found that SES adds the addresses the run's
	// mail bounces from to the account-level suppression list (pkg/suppression): only then
	// may the run take an address's absence from that list for a delivery. False (unchecked,
	// or BOUNCE not suppressed) confirms no new key sent by email; BounceProblem says why.
	BouncesSuppressed bool   `json:"bouncesSuppressed"`
	BounceProblem     string `json:"bounceProblem,omitempty"`
}

// Account is one member account to process.
type Account struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
}

// ListAccountsRequest is ListAccounts' payload: the raw execution input and the execution's
// identity from the context object ($$.Execution).
type ListAccountsRequest struct {
	Input     json.RawMessage `json:"input"`
	RunID     string          `json:"runId"`
	StartTime time.Time       `json:"startTime"`
}

// AccountList is ListAccounts' result. The accounts themselves are in S3 (Bucket, Key), a
// JSON array of Account that the Distributed Map's ItemReader reads: 10,000 accounts do not
// fit in a 256 KB payload.
type AccountList struct {
	Run          Run    `json:"run"`
	AccountCount int    `json:"accountCount"`
	Bucket       string `json:"bucket"`
	Key          string `json:"key"`
	// ResultsPrefix is where the account Map's ResultWriter writes (AccountResultsPrefix).
	ResultsPrefix string `json:"resultsPrefix"`
}

// AccountRequest is ScanAndRotate's payload: one item of the Map with the run's settings.
type AccountRequest struct {
	Run     Run     `json:"run"`
	Account Account `json:"account"`
}

// AccountStatus says how an account's run ended.
type AccountStatus string

// The account statuses.
const (
	AccountDone   AccountStatus = "done"
	AccountFailed AccountStatus = "failed"
	// AccountExcluded: the account carries the exclusion tag (EXCLUDE_ACCOUNT_TAG), which
	// its ScanAndRotate reads before anything else there; nothing was assumed, read or
	// written in it (AccountResult.Reason says why).
	AccountExcluded AccountStatus = "excluded"
)

// Counts tallies what happened (or, in a dry run, would happen) in an account.
type Counts struct {
	Users           int `json:"users"`
	KeysCreated     int `json:"keysCreated"`
	KeysDeactivated int `json:"keysDeactivated"`
	KeysDeleted     int `json:"keysDeleted"`
	Notices         int `json:"notices"`
	Exempt          int `json:"exempt"`
	Deferred        int `json:"deferred"`
	NoUsableEmail   int `json:"noUsableEmail"`
	Failures        int `json:"failures"`
	// NotifyFailures are the owners whose notification failed past the state machine's
	// retries. ScanAndRotate cannot know them; CleanupReport counts them from the records
	// the state machine writes (NotifyFailureKey).
	NotifyFailures int `json:"notifyFailures"`
	// IAMCalls are the IAM and STS calls ScanAndRotate made in the account: the AssumeRole
	// of the member role, the scan, and the reads and writes of the users acted on, counted
	// by the SDK as they were made (awsclient.Calls; a call's SDK retries are part of it).
	// Only the invocation that returned counts (a retried invocation's calls are not in it);
	// NotifyUser's calls (an AssumeRole and the history tag per notification) are not either.
	IAMCalls int `json:"iamCalls"`
	// UsersWithKeys counts the account's IAM users with an active access key, by what the
	// evidence shows the keys are used for (advice.Classify; every use of advice.Uses is
	// there, 0 included): a user read in full by the run is judged by its fresh read and its
	// KeyDelivery tag, any other by its credential report row (its tags unread). Users the
	// run did not scan at all (the listing's time budget) are not counted.
	UsersWithKeys map[advice.Use]int `json:"usersWithKeys,omitempty"`
	// KeyAges counts the account's active access keys by age, as the run read them (the
	// users' fresh reads, any other's credential report row): KeyAges[i] the keys of
	// KeyAgeBucketDays*i to KeyAgeBucketDays*(i+1)-1 days, the last bucket every older key,
	// so that the counts are of a fixed size whatever the keys. The support email's chart.
	KeyAges []int `json:"keyAges,omitempty"`
	// KeyAgeLimit is the run's limitDays (policy.Config.LimitDays), which KeyAges' chart marks.
	KeyAgeLimit int `json:"keyAgeLimit,omitempty"`
}

// KeyAgeBucketDays and KeyAgeBuckets shape Counts.KeyAges: 37 buckets of 10 days, the last
// every key 360 days old or older.
const (
	KeyAgeBucketDays = 10
	KeyAgeBuckets    = 37
)

// KeyAgeBucket is the bucket of Counts.KeyAges of a key ageDays old.
func KeyAgeBucket(ageDays int) int { return min(max(ageDays, 0)/KeyAgeBucketDays, KeyAgeBuckets-1) }

// UserResult is what happened to one user: the plan's actions with the outcome of each.
type UserResult struct {
	UserName     string            `json:"userName"`
	Status       policy.UserStatus `json:"status"`
	Reason       string            `json:"reason,omitempty"`
	EmailProblem string            `json:"emailProblem,omitempty"`
	// RotationDaysProblem says why the user's RotationDays tag was ignored or raised to the
	// shortest limit (policy.UserPlan); the owner is not told.
	RotationDaysProblem string          `json:"rotationDaysProblem,omitempty"`
	Actions             []ActionResult  `json:"actions,omitempty"`
	Notices             []policy.Notice `json:"notices,omitempty"`
	// Keys are the user's keys as read for the decision, with the evidence of their use.
	Keys []policy.KeyUsage `json:"keys,omitempty"`
	// Error is set when an action failed; the actions after it were not attempted.
	Error string `json:"error,omitempty"`
	// Advice says what could replace the user's long-lived keys (pkg/advice), nil when the
	// evidence shows no use.
	Advice *advice.Advice `json:"advice,omitempty"`
	// Hold describes the operator's hold on the user's keys (pkg/hold), when one holds.
	Hold string `json:"hold,omitempty"`
	// Held: an operator's hold held the user's keys in this run (policy.UserPlan.Held). Hold
	// may name a hold that no longer holds: released early, once its owner read the release.
	Held bool `json:"held,omitempty"`
	// OldestKeyAgeDays is the age of the user's oldest key (policy.UserPlan), set for a
	// planned or exempt user: the Security Hub finding of an exempt user past the limit.
	OldestKeyAgeDays int `json:"oldestKeyAgeDays,omitempty"`
}

// ActionResult is a planned action and whether it was carried out.
type ActionResult struct {
	policy.Action
	// Done is false in a dry run, and for actions not attempted after a failure.
	Done bool `json:"done"`
	// NewAccessKeyID is the key a CreateKey made.
	NewAccessKeyID string `json:"newAccessKeyId,omitempty"`
}

// AccountResult is the full outcome of one account, written to S3 for CleanupReport.
type AccountResult struct {
	Run     Run           `json:"run"`
	Account Account       `json:"account"`
	Status  AccountStatus `json:"status"`
	Error   string        `json:"error,omitempty"`
	// Reason says why an excluded account (AccountExcluded) was left alone.
	Reason string       `json:"reason,omitempty"`
	Counts Counts       `json:"counts"`
	Users  []UserResult `json:"users"`
	// NotifyFailures, added by CleanupReport, are the account's notifications that failed
	// past their retries, by user name.
	NotifyFailures []NotifyFailure `json:"notifyFailures,omitempty"`
}

// NotifyFailure is one owner's notification that failed past its retries: the error and
// cause that the state machine caught from NotifyUser.
type NotifyFailure struct {
	UserName string `json:"userName"`
	Error    string `json:"error"`
	Cause    string `json:"cause"`
}

// NotifyFailureRecord is the object the state machine's RecordNotificationFailure state
// writes at NotifyFailureKey: the caught error ($.failure), as States.JsonToString renders it.
type NotifyFailureRecord struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// AccountOutcome is ScanAndRotate's result in the payload, of a fixed size whatever the
// account's users: the counts, where the full result is, and where the notifications the
// NotifyOwners Map sends next are (NotificationsKey, a JSON array of Notification that its
// ItemReader reads; written only when NotificationCount > 0). Nothing in it grows with the
// account: 550 notifications in the payload measured 275 KB, over Step Functions' 256 KiB.
type AccountOutcome struct {
	Account           Account       `json:"account"`
	Status            AccountStatus `json:"status"`
	Counts            Counts        `json:"counts"`
	ResultKey         string        `json:"resultKey"`
	NotificationsKey  string        `json:"notificationsKey"`
	NotificationCount int           `json:"notificationCount"`
}

// Notification is everything NotifyUser needs to tell one owner about one account's run.
// A new key's secret is never in it: NewKey references the hand-off secret by ARN.
type Notification struct {
	RunID    string          `json:"runId"`
	Account  Account         `json:"account"`
	UserName string          `json:"userName"`
	Email    string          `json:"email"`
	Notices  []policy.Notice `json:"notices"`
	NewKey   *NewKey         `json:"newKey,omitempty"`
	// Unconfirmed is set when the run that made the notification could not see bounces
	// (Run.BouncesSuppressed false): the notices it sends are recorded as unconfirmed, and no
	// run counts them as a warning delivered (pkg/history).
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// SendRate is the run's (Run.SendRate); 0, in a notification of an earlier version, is
	// sent at 1 per second, SES's lowest quota.
	SendRate int `json:"sendRate"`
	// Use is what the user's keys are used for (advice.Classify; the use of UserResult.Advice):
	// its advice goes into every email of the notification but the password's. Empty: none.
	Use advice.Use `json:"use,omitempty"`
}

// NewKey points at a created key and the hand-off secret that holds its secret part.
type NewKey struct {
	AccessKeyID string `json:"accessKeyId"`
	SecretARN   string `json:"secretArn"`
	// ReplacesAccessKeyID is the key it replaces, deactivated on DeactivateOn (YYYY-MM-DD).
	ReplacesAccessKeyID string `json:"replacesAccessKeyId"`
	DeactivateOn        string `json:"deactivateOn"`
	// Replaced is the last use of the key it replaces, when that key still exists.
	Replaced *policy.Usage `json:"replaced,omitempty"`
	// DeliverTo, when set, is the secret in the member account that receives the key
	// (pkg/appsecret) instead of the owner's mailbox; the owner gets a notice without it.
	DeliverTo string `json:"deliverTo,omitempty"`
	// FailureNotice, for a key that goes to a secret, is the owner's DeliveryFailed notice
	// about the key it replaces, sent when the secret refuses the write (NotifyUser puts the
	// refusal before its Message); nil once the owner was told.
	FailureNotice *policy.Notice `json:"failureNotice,omitempty"`
}

// ReportRequest is CleanupReport's payload: the run and where ListAccounts put the list,
// and the execution, which the run's alerts name and link to.
type ReportRequest struct {
	Listing   AccountList `json:"listing"`
	Execution Execution   `json:"execution"`
}

// Execution is the state machine's execution as its alerts name it ($$.Execution.Id): its
// ARN, the account it runs in, and its page in the console.
type Execution struct {
	ARN        string `json:"arn"`
	Account    string `json:"account"`
	ConsoleURL string `json:"consoleUrl"`
}

// Report is CleanupReport's result: a summary small enough for the payload.
type Report struct {
	RunID          string `json:"runId"`
	Totals         Counts `json:"totals"`
	Accounts       int    `json:"accounts"`
	FailedAccounts int    `json:"failedAccounts"`
	JSONKey        string `json:"jsonKey"`
	CSVKey         string `json:"csvKey"`
	SupportEmailed bool   `json:"supportEmailed"`
}

// Where a run keeps its objects in the report bucket.

// AccountsKey is the run's account list, written by ListAccounts.
func AccountsKey(runID string) string { return "runs/" + runID + "/accounts.json" }

// ResultKey is one account's AccountResult, written by ScanAndRotate.
func ResultKey(runID, accountID string) string {
	return "runs/" + runID + "/results/" + accountID + ".json"
}

// NotificationsKey is one account's notifications, a JSON array of Notification written by
// ScanAndRotate and read by the NotifyOwners Map's ItemReader.
func NotificationsKey(runID, accountID string) string {
	return "runs/" + runID + "/notifications/" + accountID + ".json"
}

// AccountResultsPrefix is where the account Map's ResultWriter writes the child executions'
// results (manifest.json and SUCCEEDED_n.json, FAILED_n.json, PENDING_n.json under a Map Run
// ID), so that the Map's output stays one small object whatever the number of accounts.
func AccountResultsPrefix(runID string) string { return "runs/" + runID + "/map-results" }

// NotifyFailuresPrefix holds the run's notification failures, one object per owner.
func NotifyFailuresPrefix(runID string) string { return "runs/" + runID + "/notify-failures/" }

// NotifyFailureKey is where the state machine records that the notification of userName in
// accountID failed past its retries (a NotifyFailureRecord). The ASL builds the same key with
// States.Format; a test holds the two together.
func NotifyFailureKey(runID, accountID, userName string) string {
	return NotifyFailuresPrefix(runID) + accountID + "/" + userName + ".json"
}

// HoldsKey is the operators' holds (pkg/hold): ListAccounts writes the holds an execution's
// input places or releases, ScanAndRotate reads those of its account, CleanupReport lists
// the active ones.
const HoldsKey = "holds.json"

// LeasesPrefix holds one lease object per member account (pkg/lease).
const LeasesPrefix = "leases/"

// LeaseKey is an account's lease.
func LeaseKey(accountID string) string { return LeasesPrefix + accountID + ".json" }

// SendSlotsPrefix holds the SES send slots that every sender reserves before it sends
// (pkg/sendrate), one empty object per slot, expired by a lifecycle rule.
const SendSlotsPrefix = "send-slots/"

// CanaryKey records the last canary run: a run that wrote, over explicitly requested
// accounts (a few, known ones), each done and every owner notified. CleanupReport writes it;
// a cleanup run that writes waits for it (ListAccounts), so the one-time cleanup of the whole
// organization never comes before one real run went right.
const CanaryKey = "canary.json"

// FindingsKey is the report-bucket object in which CleanupReport keeps the open Security Hub
// findings between runs (pkg/report findings.go), with the setting securityHubFindings.
const FindingsKey = "findings.json"

// Canary is CanaryKey's content.
type Canary struct {
	RunID    string    `json:"runId"`
	Now      time.Time `json:"now"`
	Accounts []string  `json:"accounts"`
}

// ReportKey is the run's consolidated report, as "json" or "csv".
func ReportKey(runID, format string) string { return "reports/" + runID + "/report." + format }
