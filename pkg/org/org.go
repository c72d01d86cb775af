// Package org lists the organization's accounts to process in one run (the ListAccounts
// step): it validates the execution input, drops excluded and inactive accounts, and writes
// the list to S3 for the Distributed Map's ItemReader.
package org

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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

	active, err := l.activeAccounts(ctx)
	if err != nil {
		return workflow.AccountList{}, err
	}
	accounts, err := l.selectAccounts(active, in.Accounts)
	if err != nil {
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
		"dryRun", run.DryRun, "cleanup", run.Cleanup, "now", run.Now)
	return workflow.AccountList{Run: run, AccountCount: len(accounts), Bucket: l.Bucket, Key: key}, nil
}

// activeAccounts pages through the organization's ACTIVE accounts, sorted by ID.
func (l *Lister) activeAccounts(ctx context.Context) ([]workflow.Account, error) {
	var accounts []workflow.Account
	pages := organizations.NewListAccountsPaginator(l.Org, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the organization's accounts: %w", err)
		}
		for _, a := range page.Accounts {
			if a.Status == orgtypes.AccountStatusActive {
				accounts = append(accounts, workflow.Account{AccountID: aws.ToString(a.Id), Name: aws.ToString(a.Name)})
			}
		}
	}
	slices.SortFunc(accounts, func(a, b workflow.Account) int { return strings.Compare(a.AccountID, b.AccountID) })
	return accounts, nil
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
