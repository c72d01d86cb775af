package lambdas_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// quietAccount is an organization with one member account of n users whose keys are all
// young and in use: nothing is due.
func quietAccount(n int) *sandbox.Scenario {
	used := 0
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "quiet"}}}
	for i := range n {
		sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: fmt.Sprintf("user-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("user-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 10 + i%60, LastUsedDaysAgo: &used}}})
	}
	return sc
}

// callCounter counts the IAM operations a client makes.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) client(cfg aws.Config) rotate.IAMAPI {
	return iam.NewFromConfig(cfg, func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					c.mu.Lock()
					c.calls[middleware.GetOperationName(ctx)]++
					c.mu.Unlock()
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	})
}

// TestQuietAccountCostIsFlat: scanning an account where nothing is due costs the same
// handful of IAM calls with 50 users as with 500 (the credential report path), and touches
// nothing. The counts are logged for the record.
func TestQuietAccountCostIsFlat(t *testing.T) {
	counts := map[int]map[string]int{}
	for _, n := range []int{50, 500} {
		start := time.Now()
		sb := sandboxtest.New(t, quietAccount(n))
		seeded := time.Since(start)
		r := rigFor(t, sb)
		counter := &callCounter{calls: map[string]int{}}
		r.scan.NewIAM = counter.client
		res := r.run(`{"accounts":["` + r.accountID("quiet") + `"]}`)
		if o := res.outcomes[0]; o.Status != workflow.AccountDone || o.Counts.Users != n || o.NotificationCount != 0 ||
			o.Counts.KeysCreated+o.Counts.KeysDeactivated+o.Counts.KeysDeleted != 0 {
			t.Fatalf("%d quiet users: outcome %+v", n, o)
		}
		counts[n] = counter.calls
		t.Logf("%d users: IAM calls %v (stand-in started and seeded in %v)", n, counter.calls, seeded.Round(time.Millisecond))
	}
	if !maps.Equal(counts[50], counts[500]) {
		t.Errorf("IAM calls grow with the user count: 50 users %v, 500 users %v", counts[50], counts[500])
	}
	total := 0
	for _, c := range counts[500] {
		total += c
	}
	if total > 6 {
		t.Errorf("%d IAM calls for an account where nothing is due, want a handful: %v", total, counts[500])
	}
}
