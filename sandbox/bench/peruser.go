package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// PerUserScan reads every account the way the seed's rotator did, with nothing of the
// rotator's code: the member role assumed, then ListUsers, and for every user
// ListAccessKeys, GetAccessKeyLastUsed for each key and ListUserTags, each paginated. It
// returns the IAM and STS calls made in each account (by account name), counted by the
// same SDK middleware as the rotator's iamCalls, and how long the scan took with
// concurrency accounts at a time. Every 100th account done is told to progress.
func PerUserScan(ctx context.Context, base aws.Config, accounts []sandbox.AccountSettings, role string, concurrency int, progress io.Writer) (map[string]int, time.Duration, error) {
	start := time.Now()
	var done atomic.Int64
	calls := make([]int, len(accounts))
	errs := make([]error, len(accounts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				calls[i], errs[i] = scanAccount(ctx, base, accounts[i], role)
				if n := done.Add(1); n%100 == 0 {
					fmt.Fprintf(progress, "per-user scan: %d/%d accounts\n", n, len(accounts))
				}
			}
		}()
	}
	for i := range accounts {
		next <- i
	}
	close(next)
	wg.Wait()
	byName := map[string]int{}
	for i, a := range accounts {
		if errs[i] != nil {
			return nil, 0, errs[i]
		}
		byName[a.Name] = calls[i]
	}
	return byName, time.Since(start), nil
}

func scanAccount(ctx context.Context, base aws.Config, a sandbox.AccountSettings, role string) (int, error) {
	counted := &awsclient.Calls{}
	client := iam.NewFromConfig(awsclient.AssumeRole(counted.Counted(base), awsclient.RoleARN(sandbox.Partition, a.ID, role), "per-user-scan"))
	users := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("per-user scan of %s (%s): list users: %w", a.Name, a.ID, err)
		}
		for _, u := range page.Users {
			keys := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: u.UserName})
			for keys.HasMorePages() {
				page, err := keys.NextPage(ctx)
				if err != nil {
					return 0, fmt.Errorf("per-user scan of %s (%s): list access keys of %s: %w", a.Name, a.ID, aws.ToString(u.UserName), err)
				}
				for _, k := range page.AccessKeyMetadata {
					if _, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId}); err != nil {
						return 0, fmt.Errorf("per-user scan of %s (%s): last use of %s: %w", a.Name, a.ID, aws.ToString(k.AccessKeyId), err)
					}
				}
			}
			tags := iam.NewListUserTagsPaginator(client, &iam.ListUserTagsInput{UserName: u.UserName})
			for tags.HasMorePages() {
				if _, err := tags.NextPage(ctx); err != nil {
					return 0, fmt.Errorf("per-user scan of %s (%s): tags of %s: %w", a.Name, a.ID, aws.ToString(u.UserName), err)
				}
			}
		}
	}
	return counted.Total(), nil
}
