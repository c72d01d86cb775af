// Package org lists the organization's accounts to process in one run (the ListAccounts
// step): it validates the execution input, drops excluded accounts and those whose State is
// not ACTIVE, and writes the list to S3 for the Distributed Map's ItemReader. A run that
// would select no account at all is an error, so that the operators hear of it.
package org

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is the one S3 call ListAccounts makes.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Lister is the ListAccounts step.
type Lister struct {
	Org      organizations.ListAccountsAPIClient
	S3       S3API
	Bucket   string
	Excluded []string
	Log      *slog.Logger
	// Clock gives the run's time when the request has no start time (tests set it).
	Clock func() time.Time
	// SendRate gives the run's SES send rate (sendrate.Rate: the configured one, or SES's).
	SendRate func(context.Context) (int, error)
}

// Handle validates the input before anything else (an *workflow.InvalidInput on any problem),
// then lists, filters and stores the accounts.
func (l *Lister) Handle(ctx context.Context, req workflow.ListAccountsRequest) (workflow.AccountList, error) {
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
	if run.SendRate, err = l.SendRate(ctx); err != nil {
		return workflow.AccountList{}, err
	}

	listing, err := l.activeAccounts(ctx)
	if err != nil {
		return workflow.AccountList{}, err
	}
	active := listing.active
	accounts, err := l.selectAccounts(active, in.Accounts)
	if err != nil {
		return workflow.AccountList{}, err
	}
	if len(accounts) == 0 {
		return workflow.AccountList{}, listing.nothingSelected()
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
		"dryRun", run.DryRun, "cleanup", run.Cleanup, "now", run.Now, "sendRate", run.SendRate)
	return workflow.AccountList{Run: run, AccountCount: len(accounts), Bucket: l.Bucket, Key: key,
		ResultsPrefix: workflow.AccountResultsPrefix(run.RunID)}, nil
}

// listing is what ListAccounts returned: the ACTIVE accounts, sorted by ID, and how many
// accounts were left out in each other State.
type listing struct {
	listed   int
	active   []workflow.Account
	inactive map[orgtypes.AccountState]int
}

// activeAccounts pages through the organization's accounts and keeps those whose State is
// ACTIVE. Organizations retired Account.Status on 2026-09-09 and no longer returns it: an
// account without State (an answer in the retired shape) is not known to be active and is
// skipped like SUSPENDED, PENDING_CLOSURE, CLOSED and PENDING_ACTIVATION.
func (l *Lister) activeAccounts(ctx context.Context) (listing, error) {
	res := listing{inactive: map[orgtypes.AccountState]int{}}
	pages := organizations.NewListAccountsPaginator(l.Org, &organizations.ListAccountsInput{})
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
		return fmt.Errorf("no account to rotate: %d listed, %d ACTIVE, all %d excluded (EXCLUDE_ACCOUNTS)",
			l.listed, len(l.active), len(l.active))
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

// selectAccounts drops the excluded accounts, or, when accounts were requested, keeps just
// those: a requested account that is excluded or not an active member is an input error.
func (l *Lister) selectAccounts(active []workflow.Account, requested []string) ([]workflow.Account, error) {
	if len(requested) == 0 {
		return slices.DeleteFunc(active, func(a workflow.Account) bool { return slices.Contains(l.Excluded, a.AccountID) }), nil
	}
	var out []workflow.Account
	for i, id := range requested {
		field := fmt.Sprintf("accounts[%d]", i)
		if slices.Contains(l.Excluded, id) {
			return nil, &workflow.InvalidInput{Field: field, Problem: fmt.Sprintf("account %s is excluded from rotation (EXCLUDE_ACCOUNTS)", id)}
		}
		at := slices.IndexFunc(active, func(a workflow.Account) bool { return a.AccountID == id })
		if at < 0 {
			return nil, &workflow.InvalidInput{Field: field, Problem: fmt.Sprintf("account %s is not an active account of the organization", id)}
		}
		out = append(out, active[at])
	}
	return out, nil
}
