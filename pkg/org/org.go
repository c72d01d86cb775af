// Package org lists the organization's accounts to process in one run (the ListAccounts
// step): it validates the execution input, drops the accounts whose State is not ACTIVE and
// the excluded ones (by ID, by OU with every OU below it), and writes the list to S3 for the
// Distributed Map's ItemReader. A run that would select no account at all is an error, so
// that the operators hear of it. The exclusion by account tag is each account's own:
// ScanAndRotate reads it with TagReader before anything else in that account, so that this
// step's calls grow with the organization by one page per 20 accounts only.
package org

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is what ListAccounts does in the report bucket: it writes the run's account list,
// and a cleanup run looks for the canary's record (workflow.CanaryKey).
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// OrganizationsAPI is the part of Organizations ListAccounts reads (the management role's
// grants, infra/stacks/management.go), and Preview (ListTagsForResource).
type OrganizationsAPI interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
	organizations.ListTagsForResourceAPIClient
}

// Handler is the ListAccounts step.
type Handler struct {
	Org    OrganizationsAPI
	S3     S3API
	Bucket string
	// Excluded (EXCLUDE_ACCOUNTS) are account IDs, ExcludedOUs (EXCLUDE_OUS) OU IDs whose
	// accounts, in them or in any OU below, are excluded. An account tagged ExcludeTagKey =
	// ExcludeTagValue (EXCLUDE_ACCOUNT_TAG; the value in any case) is excluded too, unless
	// ExcludeTagKey is empty: by Preview here, by its own ScanAndRotate in a run (TagReader).
	Excluded                       []string
	ExcludedOUs                    []string
	ExcludeTagKey, ExcludeTagValue string
	Log                            *slog.Logger
	// Clock gives the run's time when the request has no start time (tests set it).
	Clock func() time.Time
	// SendRate gives the run's SES send rate (sendrate.Rate: the configured one, or SES's).
	SendRate func(context.Context) (int, error)
	// Bounces checks SES's suppression settings (suppression.Check on the configuration set
	// the run's mail goes through): "" when bounces are suppressed, else the problem. nil: not
	// checked, and the run confirms no delivery by email.
	Bounces func(context.Context) (string, error)
	// Holds records the holds an execution's input places or releases (pkg/hold); nil: the
	// deployment keeps none, and such input is refused. NoticePeriod bounds a hold's last day
	// (2 × NoticePeriod days ahead at most); 0: the policy's default.
	Holds        *hold.Store
	NoticePeriod int
}

// Handle validates the input before anything else (an *workflow.InvalidInput on any problem),
// then lists, filters and stores the accounts.
func (l *Handler) Handle(ctx context.Context, req workflow.ListAccountsRequest) (workflow.AccountList, error) {
	in, err := workflow.ParseExecutionInput(req.Input)
	if err != nil {
		return workflow.AccountList{}, err
	}
	if req.RunID == "" {
		return workflow.AccountList{}, &workflow.InvalidInput{Field: "runId", Problem: "is required (the state machine passes $$.Execution.Name)"}
	}
	run := workflow.Run{RunID: req.RunID, Now: req.StartTime, DryRun: in.DryRun, Cleanup: in.Cleanup, Accounts: in.Accounts}
	if run.Now.IsZero() {
		run.Now = l.Clock()
	}
	if in.AsOf != nil {
		run.Now = *in.AsOf
	}
	run.Now = run.Now.UTC()
	if len(in.Holds)+len(in.Releases) > 0 {
		if l.Holds == nil {
			return workflow.AccountList{}, &workflow.InvalidInput{Field: "hold", Problem: "this deployment keeps no holds (no report bucket)"}
		}
		if err := in.CheckHolds(run.Now, cmp.Or(l.NoticePeriod, policy.Config{}.WithDefaults().NoticePeriod)); err != nil {
			return workflow.AccountList{}, err
		}
	}
	if run.Cleanup && !run.DryRun {
		if err := l.canaryPassed(ctx); err != nil {
			return workflow.AccountList{}, err
		}
	}
	if run.SendRate, err = l.SendRate(ctx); err != nil {
		return workflow.AccountList{}, err
	}
	if err := l.checkBounces(ctx, &run); err != nil {
		return workflow.AccountList{}, err
	}

	listing, err := l.activeAccounts(ctx)
	if err != nil {
		return workflow.AccountList{}, err
	}
	active := listing.active
	if listing.excluded, err = l.excludedByIDAndOU(ctx); err != nil {
		return workflow.AccountList{}, err
	}
	accounts, err := selectAccounts(listing, in.Accounts)
	if err != nil {
		return workflow.AccountList{}, err
	}
	if len(accounts) == 0 {
		return workflow.AccountList{}, listing.nothingSelected()
	}
	if err := l.placeHolds(ctx, run, in, accounts); err != nil {
		return workflow.AccountList{}, err
	}
	body, err := json.Marshal(accounts)
	if err != nil {
		return workflow.AccountList{}, fmt.Errorf("encode account list: %w", err)
	}
	key := workflow.AccountsKey(run.RunID)
	if _, err := l.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &l.Bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: aws.String("application/json")}); err != nil {
		return workflow.AccountList{}, fmt.Errorf("write account list to s3://%s/%s: %w", l.Bucket, key, err)
	}
	l.Log.InfoContext(ctx, "listed accounts", "runId", run.RunID, "active", len(active), "selected", len(accounts),
		"excluded", listing.excludedBy(), "dryRun", run.DryRun, "cleanup", run.Cleanup, "now", run.Now, "sendRate", run.SendRate)
	return workflow.AccountList{Run: run, AccountCount: len(accounts), Bucket: l.Bucket, Key: key,
		ResultsPrefix: workflow.AccountResultsPrefix(run.RunID)}, nil
}

// placeHolds records the holds the input places and releases, once every account they name
// is one the run processes (its ScanAndRotate makes the key active again): an excluded or
// closed account is refused, before anything is written.
func (l *Handler) placeHolds(ctx context.Context, run workflow.Run, in workflow.ExecutionInput, accounts []workflow.Account) error {
	if len(in.Holds)+len(in.Releases) == 0 {
		return nil
	}
	selected := func(id string) bool {
		return slices.ContainsFunc(accounts, func(a workflow.Account) bool { return a.AccountID == id })
	}
	for i, h := range in.Holds {
		if !selected(h.Account) {
			return &workflow.InvalidInput{Field: fmt.Sprintf("hold[%d].account", i), Problem: fmt.Sprintf("%s is not processed by this run (excluded, or not an ACTIVE account of the organization)", h.Account)}
		}
	}
	for i, r := range in.Releases {
		if !selected(r.Account) {
			return &workflow.InvalidInput{Field: fmt.Sprintf("release[%d].account", i), Problem: fmt.Sprintf("%s is not processed by this run (excluded, or not an ACTIVE account of the organization)", r.Account)}
		}
	}
	if _, err := l.Holds.Update(ctx, func(b *hold.Book) { b.Apply(run, in.Holds, in.Releases) }); err != nil {
		return err
	}
	for _, h := range in.Holds {
		l.Log.InfoContext(ctx, "hold placed", "runId", run.RunID, "account", h.Account, "user", h.User, "until", h.Until, "reason", h.Reason,
			"reactivate", h.Reactivate, "accessKeyId", h.AccessKeyID)
	}
	for _, r := range in.Releases {
		l.Log.InfoContext(ctx, "hold released", "runId", run.RunID, "account", r.Account, "user", r.User)
	}
	return nil
}

// canaryPassed returns an *workflow.InvalidInput unless a canary run went right (its record,
// workflow.CanaryKey, is in the bucket): the one-time cleanup, which deactivates and deletes
// keys across the organization without notice, waits for one real run of a few accounts.
// ListObjectsV2 rather than GetObject: without s3:ListBucket S3 answers a missing key with
// AccessDenied, which would read as "no canary" whatever the reason.
func (l *Handler) canaryPassed(ctx context.Context) error {
	out, err := l.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &l.Bucket, Prefix: aws.String(workflow.CanaryKey), MaxKeys: aws.Int32(1)})
	if err != nil {
		return fmt.Errorf("look for the canary's record s3://%s/%s: %w", l.Bucket, workflow.CanaryKey, err)
	}
	if len(out.Contents) == 0 {
		return &workflow.InvalidInput{Field: "cleanup", Problem: `waits for a canary: first run a few known accounts, {"accounts":["111122223333"]}, ` +
			"and see it succeed with every owner notified (docs/operations.md, First day on AWS); no run has yet"}
	}
	return nil
}

// checkBounces records in the run whether it may rely on SES's suppression list to learn
// of bounces, once for every account. Settings that cannot be read are no reason to stop the
// run: it goes on without confirming deliveries by email, and the report says why; only a
// retryable error (throttling) is returned, for the state machine to retry.
func (l *Handler) checkBounces(ctx context.Context, run *workflow.Run) error {
	if l.Bounces == nil {
		run.BounceProblem = suppression.NotChecked
		return nil
	}
	problem, err := l.Bounces(ctx)
	switch {
	case err != nil && workflow.IsRetryable(err):
		return err
	case err != nil:
		problem = fmt.Sprintf("SES's suppression settings could not be read (%v): no new key sent by email is confirmed as delivered "+
			"in this run, since a bounce might not reach the account-level suppression list; grant the ListAccounts role "+
			"ses:GetAccount and ses:GetConfigurationSet on the rotator's configuration set (the stack does)", err)
	}
	run.BouncesSuppressed, run.BounceProblem = problem == "", problem
	if problem != "" {
		l.Log.WarnContext(ctx, "bounces are not suppressed: no delivery by email is confirmed in this run", "runId", run.RunID, "problem", problem)
	}
	return nil
}

// listing is what ListAccounts returned: the ACTIVE accounts, sorted by ID, and how many
// accounts were left out in each other State; and why each excluded account is excluded.
type listing struct {
	listed   int
	active   []workflow.Account
	inactive map[orgtypes.AccountState]int
	excluded map[string]exclusion
}

// exclusion is why an account is excluded: the setting and the reason a person can read.
type exclusion struct{ setting, why string }

// The settings that exclude accounts, in the order they are checked.
const (
	byID  = "EXCLUDE_ACCOUNTS"
	byOU  = "EXCLUDE_OUS"
	byTag = "EXCLUDE_ACCOUNT_TAG"
)

// excludedBy counts the excluded ACTIVE accounts by setting.
func (l listing) excludedBy() map[string]int {
	n := map[string]int{}
	for _, a := range l.active {
		if e, ok := l.excluded[a.AccountID]; ok {
			n[e.setting]++
		}
	}
	return n
}

// activeAccounts pages through the organization's accounts and keeps those whose State is
// ACTIVE. Organizations retired Account.Status on 2026-09-09 and no longer returns it: an
// account without State (an answer in the retired shape) is not known to be active and is
// skipped like SUSPENDED, PENDING_CLOSURE, CLOSED and PENDING_ACTIVATION.
func (l *Handler) activeAccounts(ctx context.Context) (listing, error) {
	res := listing{inactive: map[orgtypes.AccountState]int{}}
	pages := organizations.NewListAccountsPaginator(l.Org, &organizations.ListAccountsInput{MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return listing{}, fmt.Errorf("list the organization's accounts: %w", err)
		}
		for _, a := range page.Accounts {
			res.listed++
			if a.State != orgtypes.AccountStateActive {
				res.inactive[a.State]++
				continue
			}
			res.active = append(res.active, workflow.Account{AccountID: aws.ToString(a.Id), Name: aws.ToString(a.Name)})
		}
	}
	slices.SortFunc(res.active, func(a, b workflow.Account) int { return strings.Compare(a.AccountID, b.AccountID) })
	return res, nil
}

// nothingSelected is the error of a run that would rotate no account: every account of an
// organization (its management account included) is never legitimately filtered out, so
// an empty selection means a changed API answer or a configuration mistake.
func (l listing) nothingSelected() error {
	if len(l.active) > 0 {
		var by []string
		counts := l.excludedBy()
		for _, setting := range []string{byID, byOU, byTag} {
			if counts[setting] > 0 {
				by = append(by, fmt.Sprintf("%d by %s", counts[setting], setting))
			}
		}
		return fmt.Errorf("no account to rotate: %d listed, %d ACTIVE, all excluded: %s",
			l.listed, len(l.active), strings.Join(by, ", "))
	}
	var skipped []string
	for _, state := range slices.Sorted(maps.Keys(l.inactive)) {
		name := string(state)
		if state == "" {
			name = "with no State"
		}
		skipped = append(skipped, fmt.Sprintf("%d %s", l.inactive[state], name))
	}
	msg := fmt.Sprintf("no account to rotate: %d listed, 0 ACTIVE", l.listed)
	if len(skipped) > 0 {
		msg += " (not ACTIVE: " + strings.Join(skipped, ", ") + ")"
	}
	return errors.New(msg)
}

// selectAccounts drops the accounts excluded by ID and OU, or, when accounts were requested,
// keeps just those: a requested account that is excluded or not an active member is an
// input error. The exclusion tag is not read here: each account's ScanAndRotate reads its
// own (TagReader) before anything is assumed in it, so that this step's calls do not grow
// with the organization (docs/scale.md).
func selectAccounts(ls listing, requested []string) ([]workflow.Account, error) {
	if len(requested) == 0 {
		return slices.DeleteFunc(slices.Clone(ls.active), func(a workflow.Account) bool { _, ok := ls.excluded[a.AccountID]; return ok }), nil
	}
	var out []workflow.Account
	for i, id := range requested {
		if e, ok := ls.excluded[id]; ok {
			return nil, &workflow.InvalidInput{Field: fmt.Sprintf("accounts[%d]", i), Problem: fmt.Sprintf("account %s is excluded from rotation: %s (%s)", id, e.why, e.setting)}
		}
		at := slices.IndexFunc(ls.active, func(a workflow.Account) bool { return a.AccountID == id })
		if at < 0 {
			return nil, &workflow.InvalidInput{Field: fmt.Sprintf("accounts[%d]", i), Problem: fmt.Sprintf("account %s is not an active account of the organization", id)}
		}
		out = append(out, ls.active[at])
	}
	return out, nil
}

// excludedByIDAndOU gives the accounts excluded by ID and, walking down from each excluded
// OU, those in it or in any OU below it. The walk costs, per OU of the excluded subtrees,
// one ListAccountsForParent and one ListOrganizationalUnitsForParent call per 20 entries
// (Organizations' page size), whatever the organization's size; a ListParents call per
// account would cost one call for every account of the organization.
func (l *Handler) excludedByIDAndOU(ctx context.Context) (map[string]exclusion, error) {
	out := map[string]exclusion{}
	for _, id := range l.Excluded {
		out[id] = exclusion{byID, "it is listed"}
	}
	for _, top := range l.ExcludedOUs {
		for queue := []string{top}; len(queue) > 0; queue = queue[1:] {
			ou := queue[0]
			why := "it is in OU " + top
			if ou != top {
				why = fmt.Sprintf("it is in OU %s, below %s", ou, top)
			}
			accounts := organizations.NewListAccountsForParentPaginator(l.Org, &organizations.ListAccountsForParentInput{ParentId: &ou, MaxResults: aws.Int32(pageSize)})
			for accounts.HasMorePages() {
				page, err := accounts.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list the accounts of OU %s (%s): %w", ou, byOU, err)
				}
				for _, a := range page.Accounts {
					if _, listed := out[aws.ToString(a.Id)]; !listed {
						out[aws.ToString(a.Id)] = exclusion{byOU, why}
					}
				}
			}
			children := organizations.NewListOrganizationalUnitsForParentPaginator(l.Org, &organizations.ListOrganizationalUnitsForParentInput{ParentId: &ou, MaxResults: aws.Int32(pageSize)})
			for children.HasMorePages() {
				page, err := children.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list the OUs below OU %s (%s): %w", ou, byOU, err)
				}
				for _, child := range page.OrganizationalUnits {
					queue = append(queue, aws.ToString(child.Id))
				}
			}
		}
	}
	return out, nil
}

// pageSize is the most entries an Organizations List call returns (MaxResults).
const pageSize = 20

// tagReads bounds the concurrent ListTagsForResource calls of a Preview (keyrotator
// preflight, with the operator's credentials): one per account that would run, within
// Organizations' throttling (the SDK's adaptive retry slows down on TooManyRequestsException).
const tagReads = 8

// excludedByTag reads the tags of these accounts and gives those carrying the exclusion tag
// (Preview only: a run reads each account's tag in that account's ScanAndRotate).
func (l *Handler) excludedByTag(ctx context.Context, accounts []workflow.Account) (map[string]exclusion, error) {
	out := map[string]exclusion{}
	r := TagReader{Org: l.Org, Key: l.ExcludeTagKey, Value: l.ExcludeTagValue}
	if r.Key == "" {
		return out, nil
	}
	why := make([]string, len(accounts))
	errs := make([]error, len(accounts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(tagReads, len(accounts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				why[i], errs[i] = r.Excluded(ctx, accounts[i].AccountID)
			}
		}()
	}
	for i := range accounts {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, a := range accounts {
		if why[i] != "" {
			out[a.AccountID] = exclusion{byTag, why[i]}
		}
	}
	return out, nil
}

// TagReader reads one account's exclusion tag (EXCLUDE_ACCOUNT_TAG) in Organizations.
// ScanAndRotate reads it, through the management account's tag-reader role, before it
// assumes anything in the account; Preview reads every account's.
type TagReader struct {
	Org organizations.ListTagsForResourceAPIClient
	// Key and Value are the exclusion tag (the value in any case); an empty Key excludes
	// no account and reads nothing.
	Key, Value string
}

// Excluded says why the account is excluded by its tag, or "" when it is not. Organizations
// has no call that returns several accounts' tags: it costs one ListTagsForResource call per
// 20 tags. An error means the tag is not known: the caller must leave the account alone.
func (r TagReader) Excluded(ctx context.Context, accountID string) (string, error) {
	if r.Key == "" {
		return "", nil
	}
	pages := organizations.NewListTagsForResourcePaginator(r.Org, &organizations.ListTagsForResourceInput{ResourceId: &accountID})
	found := false
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list the tags of account %s (%s): %w", accountID, byTag, err)
		}
		found = found || slices.ContainsFunc(page.Tags, func(t orgtypes.Tag) bool {
			return aws.ToString(t.Key) == r.Key && strings.EqualFold(strings.TrimSpace(aws.ToString(t.Value)), r.Value)
		})
	}
	if !found {
		return "", nil
	}
	return fmt.Sprintf("it is tagged %s=%s", r.Key, r.Value), nil
}
