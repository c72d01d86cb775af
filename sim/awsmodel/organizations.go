package awsmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
)

const serviceOrganizations = "Organizations"

// Organizations' documented limits (the Organizations user guide, "Quotas and service limits
// for AWS Organizations", and the API reference's MaxResults).
const (
	// OrgRoot is the organization's root, the parent of the top OUs and accounts.
	OrgRoot = "r-a1b2"
	// orgMaxResults is the most entries one List call returns (MaxResults 1 to 20).
	orgMaxResults = 20
	// maxOrgAccounts is the most accounts an organization may have (raised by request).
	maxOrgAccounts = 10000
	// maxOrgTags is the most tags on one account.
	maxOrgTags = 50
)

// OrgThrottle models Organizations' request rate in the management account, and the SDK's
// retries of a throttled call (awsclient.Load's retryer), on a time line of its own: the
// Organizations calls of one step are made one after the other, each attempt taking Latency;
// a token bucket of Burst tokens refilled at Rate per second admits an attempt or answers
// TooManyRequestsException; the SDK waits its exponential backoff with jitter (a random
// fraction of 2^attempt seconds, at most 20 s) and tries again, up to awsclient.MaxAttempts
// attempts, each retry taking 5 tokens from its retry quota of 500 (a call that succeeded
// gives them back, one that succeeded at once adds 1). The adaptive mode's client-side rate
// limiter, which spaces attempts out once throttled instead of backing off, is not modelled:
// without it, more attempts are throttled and each waits a backoff longer on average than the
// limiter's spacing, so the time this model gives is an upper bound of the SDK's.
type OrgThrottle struct {
	Rate    float64
	Burst   float64
	Latency time.Duration
}

// SDK retry constants, as aws-sdk-go-v2's retry package has them.
const (
	sdkMaxBackoff       = 20 * time.Second
	sdkRetryQuota       = 500
	sdkThrottleCost     = 5
	sdkNoRetryIncrement = 1
)

// OrgStats is what the Organizations calls cost on the throttle's time line.
type OrgStats struct {
	// Calls are the calls the rotator made, Attempts the requests the SDK sent for them,
	// Throttled the attempts answered TooManyRequestsException, Failed the calls that failed
	// past the SDK's retries.
	Calls, Attempts, Throttled, Failed int
	// Elapsed is the time the calls took, one after the other, with the SDK's backoffs.
	Elapsed time.Duration
	// ByOperation counts the calls by operation.
	ByOperation map[string]int
}

type orgState struct {
	mu       sync.Mutex // Preview reads tags from several goroutines
	accounts []orgtypes.Account
	parent   map[string]string   // account or OU ID → its parent's
	ous      map[string][]string // parent → its OUs, in creation order
	tags     map[string][]orgtypes.Tag
	// the throttle's time line
	tokens, quota float64
	stats         OrgStats
}

func (o *orgState) init() {
	if o.parent == nil {
		o.parent, o.ous, o.tags = map[string]string{}, map[string][]string{OrgRoot: nil}, map[string][]orgtypes.Tag{}
		o.stats.ByOperation = map[string]int{}
		o.quota = sdkRetryQuota
		o.tokens = math.Inf(1) // filled to Burst on the first attempt
	}
}

// AddOU creates an OU below parent (OrgRoot or an OU).
func (w *World) AddOU(id, parent string) error {
	o := &w.org
	o.init()
	if _, ok := o.ous[parent]; !ok {
		return fmt.Errorf("no parent %s", parent)
	}
	o.ous[parent] = append(o.ous[parent], id)
	o.ous[id] = nil
	o.parent[id] = parent
	return nil
}

// AddOrgAccount adds an account of the given State (ACTIVE, SUSPENDED, ...) to the
// organization, in parent (OrgRoot or an OU), with these tags.
func (w *World) AddOrgAccount(id, name string, state orgtypes.AccountState, parent string, tags map[string]string) error {
	o := &w.org
	o.init()
	if _, ok := o.ous[parent]; !ok {
		return fmt.Errorf("no parent %s", parent)
	}
	if len(o.accounts) == maxOrgAccounts {
		return fmt.Errorf("an organization has at most %d accounts", maxOrgAccounts)
	}
	if len(tags) > maxOrgTags {
		return fmt.Errorf("an account has at most %d tags", maxOrgTags)
	}
	o.accounts = append(o.accounts, orgtypes.Account{Id: aws.String(id), Name: aws.String(name), State: state,
		Arn: aws.String("arn:aws:organizations::" + w.SecretsAccount + ":account/o-a1b2c3d4e5/" + id)})
	o.parent[id] = parent
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		o.tags[id] = append(o.tags[id], orgtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return nil
}

// OrgStats returns what the Organizations calls cost so far.
func (w *World) OrgStats() OrgStats {
	w.org.mu.Lock()
	defer w.org.mu.Unlock()
	s := w.org.stats
	s.ByOperation = maps.Clone(s.ByOperation)
	return s
}

// admit plays the SDK's attempts of one call against the throttle: false when the call was
// throttled past its retries.
func (w *World) admit() bool {
	o, t := &w.org, w.OrgThrottle
	if t == nil {
		return true
	}
	refilled := o.stats.Elapsed
	var taken float64
	for attempt := 1; ; attempt++ {
		o.stats.Elapsed += t.Latency
		o.stats.Attempts++
		o.tokens = min(t.Burst, o.tokens+(o.stats.Elapsed-refilled).Seconds()*t.Rate)
		refilled = o.stats.Elapsed
		if o.tokens >= 1 {
			o.tokens--
			if taken > 0 {
				o.quota += taken
			} else {
				o.quota = min(sdkRetryQuota, o.quota+sdkNoRetryIncrement)
			}
			return true
		}
		o.stats.Throttled++
		if attempt == awsclient.MaxAttempts || o.quota < sdkThrottleCost {
			return false
		}
		o.quota -= sdkThrottleCost
		taken += sdkThrottleCost
		backoff := sdkMaxBackoff
		if attempt < 5 { // 2^5 s > 20 s
			backoff = time.Duration(w.rand.Float64() * float64(time.Duration(1<<attempt)*time.Second))
		}
		o.stats.Elapsed += backoff
	}
}

// Organizations is the management account's Organizations client. Safe for concurrent use
// (its calls are serialised, as a throttle of one rate serialises them).
type Organizations struct{ w *World }

// Organizations returns the management account's Organizations client.
func (w *World) Organizations() *Organizations {
	w.org.init()
	return &Organizations{w: w}
}

var _ interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
	organizations.ListTagsForResourceAPIClient
} = (*Organizations)(nil)

func orgDo[O any](c *Organizations, op string, in any, effect func() (*O, error)) (*O, error) {
	w := c.w
	w.org.mu.Lock()
	defer w.org.mu.Unlock()
	w.org.stats.Calls++
	w.org.stats.ByOperation[op]++
	call := Call{Service: serviceOrganizations, Operation: op, Input: in}
	if !w.admit() {
		w.org.stats.Failed++
		err := w.faultError(call, Throttle)
		w.record(call, "", Throttle, err)
		if w.Observe != nil {
			w.Observe(call, nil, err)
		}
		return nil, err
	}
	return do(w, call, "", effect)
}

// orgPage cuts ids to one page of at most maxResults (1 to 20; unset: 20) after token.
func orgPage[T any](items []T, token *string, maxResults *int32) ([]T, *string, error) {
	limit := int(cmp.Or(aws.ToInt32(maxResults), orgMaxResults))
	if limit < 1 || limit > orgMaxResults {
		return nil, nil, fail(400, &orgtypes.InvalidInputException{Message: aws.String("MaxResults must be between 1 and 20"), Reason: orgtypes.InvalidInputExceptionReasonMaxValueExceeded})
	}
	start := 0
	if token != nil {
		i, err := strconv.Atoi(strings.TrimPrefix(*token, "t"))
		if err != nil || i < 0 || i > len(items) {
			return nil, nil, fail(400, &orgtypes.InvalidInputException{Message: aws.String("invalid NextToken"), Reason: orgtypes.InvalidInputExceptionReasonInvalidPaginationToken})
		}
		start = i
	}
	end := min(start+limit, len(items))
	var next *string
	if end < len(items) {
		next = aws.String("t" + strconv.Itoa(end))
	}
	return items[start:end], next, nil
}

func (c *Organizations) parentOf(id *string) error {
	if _, ok := c.w.org.ous[aws.ToString(id)]; !ok {
		return fail(400, &orgtypes.ParentNotFoundException{Message: aws.String("We can't find a root or OU with the ParentId that you specified.")})
	}
	return nil
}

// ListAccounts lists the organization's accounts, 20 at most a page.
func (c *Organizations) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	return orgDo(c, "ListAccounts", in, func() (*organizations.ListAccountsOutput, error) {
		accounts, next, err := orgPage(c.w.org.accounts, in.NextToken, in.MaxResults)
		if err != nil {
			return nil, err
		}
		return &organizations.ListAccountsOutput{Accounts: slices.Clone(accounts), NextToken: next}, nil
	})
}

// ListAccountsForParent lists the accounts directly in a root or OU.
func (c *Organizations) ListAccountsForParent(_ context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	return orgDo(c, "ListAccountsForParent", in, func() (*organizations.ListAccountsForParentOutput, error) {
		if err := c.parentOf(in.ParentId); err != nil {
			return nil, err
		}
		var direct []orgtypes.Account
		for _, a := range c.w.org.accounts {
			if c.w.org.parent[aws.ToString(a.Id)] == aws.ToString(in.ParentId) {
				direct = append(direct, a)
			}
		}
		accounts, next, err := orgPage(direct, in.NextToken, in.MaxResults)
		if err != nil {
			return nil, err
		}
		return &organizations.ListAccountsForParentOutput{Accounts: accounts, NextToken: next}, nil
	})
}

// ListOrganizationalUnitsForParent lists the OUs directly below a root or OU.
func (c *Organizations) ListOrganizationalUnitsForParent(_ context.Context, in *organizations.ListOrganizationalUnitsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	return orgDo(c, "ListOrganizationalUnitsForParent", in, func() (*organizations.ListOrganizationalUnitsForParentOutput, error) {
		if err := c.parentOf(in.ParentId); err != nil {
			return nil, err
		}
		var ous []orgtypes.OrganizationalUnit
		for _, id := range c.w.org.ous[aws.ToString(in.ParentId)] {
			ous = append(ous, orgtypes.OrganizationalUnit{Id: aws.String(id)})
		}
		page, next, err := orgPage(ous, in.NextToken, in.MaxResults)
		if err != nil {
			return nil, err
		}
		return &organizations.ListOrganizationalUnitsForParentOutput{OrganizationalUnits: page, NextToken: next}, nil
	})
}

// ListTagsForResource lists an account's tags (one page: an account has at most 50).
func (c *Organizations) ListTagsForResource(_ context.Context, in *organizations.ListTagsForResourceInput, _ ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error) {
	return orgDo(c, "ListTagsForResource", in, func() (*organizations.ListTagsForResourceOutput, error) {
		id := aws.ToString(in.ResourceId)
		if _, ok := c.w.org.parent[id]; !ok && id != OrgRoot {
			return nil, fail(400, &orgtypes.TargetNotFoundException{Message: aws.String("We can't find a target with the TargetId that you specified.")})
		}
		return &organizations.ListTagsForResourceOutput{Tags: slices.Clone(c.w.org.tags[id])}, nil
	})
}
