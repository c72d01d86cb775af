// Package scan reads an account's IAM users and keys as the policy needs them, cheaply: the
// credential report (one CSV with every key's age and last use) picks the users that may need
// an action, and only those are read in full, fresh, before anything is decided.
//
// The report is taken as AWS gives it: up to 4 hours old (IAM regenerates it at most that
// often and answers COMPLETE with the cached one), without key IDs, with N/A,
// no_information and not_supported values, and with last_rotated N/A for an Inactive key,
// which then reads like an empty slot. It only picks candidates: a key the rotator or an
// owner changed since it was generated is seen in the fresh read. It also marks those whose
// row alone shows a write due (Result.WriteDue), which the rotator defers unread once
// maxUsers users have writes: the report never causes a write. A user old enough for a
// hidden Inactive key to be due costs one ListAccessKeys call to find out. When some user's
// key is due only if a RotationDays tag shortens that user's limit, every user's tags are
// read at once, 1,000 users per GetAccountAuthorizationDetails call.
package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// IAMAPI is the part of IAM the scanner reads.
type IAMAPI interface {
	GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	iam.ListUsersAPIClient
	iam.ListAccessKeysAPIClient
	iam.ListUserTagsAPIClient
	iam.GetAccountAuthorizationDetailsAPIClient
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// Source says where the candidate list came from.
type Source string

// The two sources: the credential report, or per-user listing when it cannot be had.
const (
	FromCredentialReport Source = "credential-report"
	FromListing          Source = "listing"
)

// Scanner reads one account through IAM.
type Scanner struct {
	IAM IAMAPI
	// ReportPolls bounds how often the report's generation is polled (default 10). The
	// first wait is PollInterval (default 250 ms), doubling up to 4 s: most reports are ready
	// within a second, a large account's within a minute.
	ReportPolls  int
	PollInterval time.Duration
	// Reserve is the time the invocation keeps for the users' writes and its results: when
	// the report cannot be had, the listing reads no more users once the context's deadline
	// is nearer than this (zero: it reads them all).
	Reserve time.Duration
}

// OutOfTime reports whether ctx's deadline (the Lambda's) is nearer than reserve.
func OutOfTime(ctx context.Context, reserve time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < reserve
}

// Result is what a scan found: the users that may need an action or notice today
// (policy.MayAct) or whose RotationDays tag read with the users' tags is ignored or raised
// (to be reported), out of how many, and where that came from.
type Result struct {
	Candidates []string
	Users      int
	Source     Source
	// KeysListed counts the users whose keys were listed because the report could hide an
	// Inactive key of theirs that may be due.
	KeysListed int
	// NotScanned are the users the listing found but had no time left to read (Reserve),
	// in IAM's order; Unlisted is set when it stopped before IAM's last page of users.
	NotScanned []string
	Unlisted   bool
	// WriteDue are the candidates whose keys, as the report (or the listing) shows them, have
	// a write due whatever their tags and history (policy.WriteDue): once maxUsers users have
	// writes, the rotator defers them without reading them (rule 8).
	WriteDue map[string]bool
	// TagPages counts the GetAccountAuthorizationDetails pages read for every user's tags,
	// because a RotationDays tag could make a key due (policy.Config.Shortest) that the
	// organization's limit does not: 0 when no user is in that band.
	TagPages int
	// Rows are every user scanned as the report (or the listing) showed them, candidates or
	// not: the evidence of their keys' use that pkg/advice reads for the users the run does
	// not read in full.
	Rows []ReportUser
}

// tagPageSize is the most users GetAccountAuthorizationDetails returns in one page (IAM's
// MaxItems limit): every user's tags at 1,000 users per call, where ListUserTags costs a
// call per user.
const tagPageSize = 1000

// Candidates reads the credential report, or lists every user when IAM cannot give the
// report, and keeps the users that may need an action or notice today.
func (s *Scanner) Candidates(ctx context.Context, cfg policy.Config, now time.Time) (Result, error) {
	users, err := s.credentialReport(ctx)
	res := Result{Source: FromCredentialReport, WriteDue: map[string]bool{}}
	var unavailable *reportUnavailable
	if errors.As(err, &unavailable) {
		users, err = s.listAll(ctx, &res)
		res.Source = FromListing
	}
	if err != nil {
		return res, err
	}
	res.Users = len(users) + len(res.NotScanned)
	res.Rows = users
	oldest := map[string]time.Time{} // each candidate's oldest key known, for the ranking
	// Users that only a RotationDays tag could make due need their tags, read for the whole
	// account at once: their keys as the report shows them are not due under the
	// organization's limit, and the worst case (a hidden slot included) is under the shortest
	// limit. A hidden slot due under the organization's limit is no reason to judge the keys
	// by it: that slot is most often empty (an old user with one key), and the keys listed
	// are then judged by the user's own limit.
	shortest := cfg.Shortest()
	tagged := func(u ReportUser) bool {
		return !policy.MayAct(u.Keys, cfg, now) && policy.MayAct(u.worstCase(), shortest, now)
	}
	var tags map[string]policy.Tags
	if slices.ContainsFunc(users, tagged) {
		if tags, res.TagPages, err = s.allTags(ctx); err != nil {
			return res, err
		}
	}
	for _, u := range users {
		for _, k := range u.Keys {
			if o, ok := oldest[u.UserName]; !ok || k.CreateDate.Before(o) {
				oldest[u.UserName] = k.CreateDate
			}
		}
		userCfg, problem := cfg, ""
		if tagged(u) {
			userTags, ok := tags[u.UserName]
			if !ok {
				continue // deleted since the report
			}
			userCfg, problem = cfg.ForUser(userTags)
		}
		switch {
		case policy.MayAct(u.Keys, userCfg, now) || problem != "":
			// A user whose RotationDays tag is ignored or raised is read and reported, so that
			// the owner hears of it (docs/policy.md).
			res.Candidates = append(res.Candidates, u.UserName)
			if policy.WriteDue(u.worstCase(), cfg, now) {
				res.WriteDue[u.UserName] = true
			}
		case len(u.Hidden) > 0 && policy.MayAct(u.worstCase(), userCfg, now):
			res.KeysListed++
			keys, err := s.listKeys(ctx, u.UserName)
			var gone *types.NoSuchEntityException
			switch {
			case errors.As(err, &gone):
				continue // deleted since the report
			case err != nil:
				// One user's keys that cannot be listed (throttled or 5xx past the SDK's
				// retries) fail not the account's run but, if its own read fails too, that
				// user alone: it may be due, so it is read like any candidate.
				res.Candidates = append(res.Candidates, u.UserName)
				continue
			}
			// Without their last use, keys count as idle since creation: never less due.
			if policy.MayAct(keys, userCfg, now) {
				res.Candidates = append(res.Candidates, u.UserName)
				for _, k := range keys {
					if o, ok := oldest[u.UserName]; !ok || k.CreateDate.Before(o) {
						oldest[u.UserName] = k.CreateDate
					}
				}
			}
		}
	}
	// Most urgent first (oldest key, then name): maxUsers (rule 8) gives the writes of a run
	// to the users met first.
	slices.SortStableFunc(res.Candidates, func(a, b string) int {
		return cmp.Or(oldest[a].Compare(oldest[b]), cmp.Compare(a, b))
	})
	return res, nil
}

// listKeys lists a user's keys with their status and creation date, without last use.
func (s *Scanner) listKeys(ctx context.Context, userName string) ([]policy.Key, error) {
	var keys []policy.Key
	pages := iam.NewListAccessKeysPaginator(s.IAM, &iam.ListAccessKeysInput{UserName: &userName})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list access keys of user %s: %w", userName, err)
		}
		for _, m := range page.AccessKeyMetadata {
			keys = append(keys, policy.Key{AccessKeyID: aws.ToString(m.AccessKeyId), Status: policy.KeyStatus(m.Status), CreateDate: aws.ToTime(m.CreateDate)})
		}
	}
	return keys, nil
}

// reportUnavailable means IAM could not produce the report (as opposed to a report we
// could not read, which is an error): the scanner falls back to listing.
type reportUnavailable struct{ reason string }

func (e *reportUnavailable) Error() string { return "credential report unavailable: " + e.reason }

// credentialReport asks IAM for the report once and reads it, polling GetCredentialReport
// while IAM generates it (ReportInProgress): a poll costs one call, where asking again would
// cost two (GenerateCredentialReport, then GetCredentialReport).
func (s *Scanner) credentialReport(ctx context.Context) ([]ReportUser, error) {
	polls, interval := s.ReportPolls, s.PollInterval
	if polls <= 0 {
		polls = 10
	}
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	generating := false // IAM is making a report: poll GetCredentialReport, do not ask again
	for attempt := 1; ; attempt++ {
		justAsked := !generating
		if justAsked {
			state, err := s.generate(ctx)
			if err != nil {
				return nil, err
			}
			generating = state != types.ReportStateTypeComplete
		}
		if !justAsked || !generating { // a generation just started is waited for first
			out, err := s.IAM.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
			switch code := apiErrorCode(err); {
			case code == "ReportInProgress":
				generating = true // being regenerated: wait for it
			case (code == "ReportNotPresent" || code == "ReportExpired") && generating:
				generating = false // the generation asked for is gone: ask again
			case code == "ReportNotPresent" || code == "ReportExpired":
				return nil, &reportUnavailable{reason: err.Error()}
			case err != nil:
				return nil, fmt.Errorf("get credential report: %w", err)
			default:
				return ParseCredentialReport(out.Content)
			}
		}
		if attempt >= polls {
			return nil, &reportUnavailable{reason: fmt.Sprintf("still in progress after %d polls", attempt)}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the credential report: %w", ctx.Err())
		case <-time.After(interval):
		}
		interval = min(2*interval, 4*time.Second)
	}
}

// generate asks IAM for a report and returns its state. LimitExceeded (reports requested
// too often) is COMPLETE: the last report, if any, is what there is. ReportInProgress is
// INPROGRESS. ServiceFailure makes the report unavailable (the scanner lists instead);
// throttling and other errors are returned as they are, for the workflow to retry later:
// listing every user would cost far more of the same throttled API.
func (s *Scanner) generate(ctx context.Context) (types.ReportStateType, error) {
	gen, err := s.IAM.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	switch apiErrorCode(err) {
	case "":
	case "LimitExceeded":
		return types.ReportStateTypeComplete, nil
	case "ReportInProgress":
		return types.ReportStateTypeInprogress, nil
	case "ServiceFailure":
		return "", &reportUnavailable{reason: err.Error()}
	}
	if err != nil {
		return "", fmt.Errorf("generate credential report: %w", err)
	}
	return gen.State, nil
}

// listAll reads every user's keys one call at a time: the fallback when there is no report.
// It pages through the users and stops within the time budget: the users of the page it
// was on that it did not read go to res.NotScanned, and res.Unlisted says whether more
// pages were left.
func (s *Scanner) listAll(ctx context.Context, res *Result) ([]ReportUser, error) {
	var users []ReportUser
	pages := iam.NewListUsersPaginator(s.IAM, &iam.ListUsersInput{})
	for first := true; pages.HasMorePages(); first = false {
		if !first && OutOfTime(ctx, s.Reserve) {
			res.Unlisted = true
			break
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, u := range page.Users {
			name := aws.ToString(u.UserName)
			if len(res.NotScanned) > 0 || OutOfTime(ctx, s.Reserve) {
				res.NotScanned = append(res.NotScanned, name)
				continue
			}
			keys, err := s.keys(ctx, name)
			if err != nil {
				return nil, err
			}
			users = append(users, ReportUser{UserName: name, Keys: keys})
		}
	}
	return users, nil
}

// User reads one user fresh: every key with its last use, and every tag.
func (s *Scanner) User(ctx context.Context, userName string) (policy.User, error) {
	keys, err := s.keys(ctx, userName)
	if err != nil {
		return policy.User{}, err
	}
	tags, err := s.tags(ctx, userName)
	if err != nil {
		return policy.User{}, err
	}
	return policy.User{UserName: userName, Tags: tags, Keys: keys}, nil
}

// allTags reads every user's tags, by user name, and how many pages that took.
func (s *Scanner) allTags(ctx context.Context) (map[string]policy.Tags, int, error) {
	all := map[string]policy.Tags{}
	pages := iam.NewGetAccountAuthorizationDetailsPaginator(s.IAM, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []types.EntityType{types.EntityTypeUser}, MaxItems: aws.Int32(tagPageSize)})
	n := 0
	for ; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, n, fmt.Errorf("read the users' tags (GetAccountAuthorizationDetails): %w", err)
		}
		for _, u := range page.UserDetailList {
			tags := policy.Tags{}
			for _, t := range u.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			all[aws.ToString(u.UserName)] = tags
		}
	}
	return all, n, nil
}

// tags reads every tag of a user (policy.Tags: read as IAM compares their keys).
func (s *Scanner) tags(ctx context.Context, userName string) (policy.Tags, error) {
	tags := policy.Tags{}
	pages := iam.NewListUserTagsPaginator(s.IAM, &iam.ListUserTagsInput{UserName: &userName})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tags of user %s: %w", userName, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
}

// keys lists a user's keys with their last use: when, with which service, in which region.
func (s *Scanner) keys(ctx context.Context, userName string) ([]policy.Key, error) {
	keys, err := s.listKeys(ctx, userName)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		used, err := s.IAM.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.AccessKeyID)})
		var gone *types.NoSuchEntityException
		switch {
		case errors.As(err, &gone):
			// The key changed while it was read (deleted, or not yet visible everywhere):
			// the user is read again on the next run. Not wrapped: the user still exists.
			return nil, fmt.Errorf("key %s of user %s changed while it was read: %v", k.AccessKeyID, userName, err)
		case err != nil:
			return nil, fmt.Errorf("get last use of key %s of user %s: %w", k.AccessKeyID, userName, err)
		}
		// Never used: no date, and "N/A" for the service and region.
		if u := used.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil {
			keys[i].LastUsedDate = u.LastUsedDate
			keys[i].LastUsedService, keys[i].LastUsedRegion = known(aws.ToString(u.ServiceName)), known(aws.ToString(u.Region))
		}
	}
	return keys, nil
}

// known is an IAM value, or "" for N/A.
func known(v string) string {
	if v == "N/A" {
		return ""
	}
	return v
}

func apiErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
