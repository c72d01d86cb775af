package scan

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// throttledKeys is an account whose ListAccessKeys of one user keeps failing (throttled
// past the SDK's retries).
type throttledKeys struct {
	*fakeIAM
	user string
}

func (t throttledKeys) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, opts ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if aws.ToString(in.UserName) == t.user {
		t.count("ListAccessKeys")
		return nil, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	}
	return t.fakeIAM.ListAccessKeys(ctx, in, opts...)
}

// One user whose keys the scan cannot list (the report may hide an Inactive key of theirs
// that is due) does not fail the account's run: it is a candidate, read in its own run, where
// a read that fails again fails that user alone. make faults on a696beb, seeds 37 and 85: an
// account's scans failed on most days for weeks, each on one user's ListAccessKeys (a user
// carrying a pending mark, whose reads the campaign throttles, or any 5xx), so no user of the
// account was read, warned or given up meanwhile.
func TestOneUnreadableUserDoesNotFailTheScan(t *testing.T) {
	f := account(0, map[string][]types.AccessKeyMetadata{
		"inactive": {meta("AKIAI1", types.StatusTypeActive, 20), meta("AKIAI2", types.StatusTypeInactive, 110)},
		"one-key":  {meta("AKIAO", types.StatusTypeActive, 20)},
	})
	f.report = awsReport(f, map[string]int{"inactive": 200, "one-key": 300}, map[string]int{"AKIAI1": 0, "AKIAO": 0})
	res, err := (&Scanner{IAM: throttledKeys{f, "one-key"}}).Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err != nil {
		t.Fatalf("the scan failed on one user's ListAccessKeys: %v", err)
	}
	if !slices.Contains(res.Candidates, "inactive") || !slices.Contains(res.Candidates, "one-key") {
		t.Errorf("candidates %q, want inactive (its key due) and one-key (unread: read in its own run)", res.Candidates)
	}
}
