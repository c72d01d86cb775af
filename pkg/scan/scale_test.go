package scan_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// The scale comparison: the rotator's scan (the credential report, then a fresh read of the
// users who may be due) against the seed's per-user scan (ListUsers, then per user
// ListAccessKeys, GetAccessKeyLastUsed per key, ListUserTags), on sim/awsmodel, counting
// every IAM call with its Observe hook.

const scaleAccount = "111122223333"

// scaleNow is the policy's today in the scale organization.
var scaleNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// dueEvery: one user in dueEvery has a key due for rotation (2%).
const dueEvery = 50

// scaleOrg is one account of n users, each with an owner's email and an Active key in use,
// a third of them with a second, younger key; every dueEvery-th user's first key is past
// rotate-at (80 days with the default policy) unless quiet, the others' are 5 to 64 days
// old. The world's clock is *clock.
func scaleOrg(tb testing.TB, n int, quiet bool, clock *time.Time) *awsmodel.World {
	tb.Helper()
	w := awsmodel.New(func() time.Time { return *clock }, 1)
	day := 24 * time.Hour
	for i := range n {
		name := fmt.Sprintf("user-%05d", i)
		must(tb, w.CreateUser(scaleAccount, name, map[string]string{"EmailID": name + "@example.com", "Team": "platform"}))
		age := time.Duration(5+i%60) * day
		if i%dueEvery == 0 && !quiet {
			age = 85 * day
		}
		ages := []time.Duration{age}
		if i%3 == 1 {
			ages = append(ages, 2*day)
		}
		for _, a := range ages {
			id, _, err := w.AddKey(scaleAccount, name, scaleNow.Add(-a), types.StatusTypeActive)
			must(tb, err)
			must(tb, w.UseKey(scaleAccount, id, scaleNow.Add(-time.Hour), "s3", "us-east-1"))
		}
	}
	return w
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// credentialReportScan is what the rotator reads before it decides: the report's
// candidates, each read fresh (scan.Scanner, as rotate.Rotator uses it).
func credentialReportScan(ctx context.Context, c scan.IAMAPI, cfg policy.Config, now time.Time) ([]policy.User, error) {
	// The model generates a report at once; the poll only has to come back.
	s := &scan.Scanner{IAM: c, PollInterval: time.Nanosecond}
	found, err := s.Candidates(ctx, cfg, now)
	if err != nil {
		return nil, err
	}
	if found.Source != scan.FromCredentialReport {
		return nil, fmt.Errorf("scanned from %s, not the credential report", found.Source)
	}
	users := make([]policy.User, 0, len(found.Candidates))
	for _, name := range found.Candidates {
		u, err := s.User(ctx, name)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}

// perUserIAM is what the seed's scan calls.
type perUserIAM interface {
	iam.ListUsersAPIClient
	iam.ListAccessKeysAPIClient
	iam.ListUserTagsAPIClient
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

var _ perUserIAM = (*awsmodel.IAM)(nil)

// perUserScan is the seed's call pattern, a separate implementation on the same SDK: list
// every user, then read each one's keys, each key's last use and the user's tags.
func perUserScan(ctx context.Context, c perUserIAM, _ policy.Config, _ time.Time) ([]policy.User, error) {
	var users []policy.User
	pages := iam.NewListUsersPaginator(c, &iam.ListUsersInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, iu := range page.Users {
			u := policy.User{UserName: aws.ToString(iu.UserName), Tags: map[string]string{}}
			keys := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: iu.UserName})
			for keys.HasMorePages() {
				kp, err := keys.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list access keys of %s: %w", u.UserName, err)
				}
				for _, m := range kp.AccessKeyMetadata {
					used, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: m.AccessKeyId})
					if err != nil {
						return nil, fmt.Errorf("last use of %s: %w", aws.ToString(m.AccessKeyId), err)
					}
					k := policy.Key{AccessKeyID: aws.ToString(m.AccessKeyId), Status: policy.KeyStatus(m.Status), CreateDate: aws.ToTime(m.CreateDate)}
					if used.AccessKeyLastUsed != nil {
						k.LastUsedDate = used.AccessKeyLastUsed.LastUsedDate
					}
					u.Keys = append(u.Keys, k)
				}
			}
			tags := iam.NewListUserTagsPaginator(c, &iam.ListUserTagsInput{UserName: iu.UserName})
			for tags.HasMorePages() {
				tp, err := tags.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list tags of %s: %w", u.UserName, err)
				}
				for _, t := range tp.Tags {
					u.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			users = append(users, u)
		}
	}
	return users, nil
}

// scaleScans are the two scans compared, the rotator's first.
var scaleScans = []struct {
	name string
	scan func(context.Context, *awsmodel.IAM, policy.Config, time.Time) ([]policy.User, error)
}{
	{"credential-report", func(ctx context.Context, c *awsmodel.IAM, cfg policy.Config, now time.Time) ([]policy.User, error) {
		return credentialReportScan(ctx, c, cfg, now)
	}},
	{"per-user", func(ctx context.Context, c *awsmodel.IAM, cfg policy.Config, now time.Time) ([]policy.User, error) {
		return perUserScan(ctx, c, cfg, now)
	}},
}

// due names the users whose plan has something to do.
func due(tb testing.TB, users []policy.User, cfg policy.Config, now time.Time) []string {
	tb.Helper()
	plan, err := policy.PlanUsers(users, cfg, now)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, p := range plan.Users {
		if p.Status != policy.StatusOK {
			names = append(names, p.UserName)
		}
	}
	slices.Sort(names)
	return names
}

// scaleRun is one scan of the scale organization: the users due and the IAM calls made.
type scaleRun struct {
	due   []string
	calls int
}

// scanOnce runs a scan as the next daily run: the world's clock moves past the report's
// 4-hour cache, so the credential report is generated again, as it is every day.
func scanOnce(tb testing.TB, w *awsmodel.World, clock *time.Time, scanFn func(context.Context, *awsmodel.IAM, policy.Config, time.Time) ([]policy.User, error)) scaleRun {
	cfg := policy.Config{}.WithDefaults()
	*clock = clock.Add(w.ReportInterval)
	calls := 0
	w.Observe = func(c awsmodel.Call, _ any, _ error) { calls++ }
	defer func() { w.Observe = nil }()
	users, err := scanFn(context.Background(), w.IAM(scaleAccount), cfg, scaleNow)
	if err != nil {
		tb.Fatal(err)
	}
	return scaleRun{due: due(tb, users, cfg, scaleNow), calls: calls}
}

// TestScaleScansAgree: on 500 users, 2% due, both scans find the same users due, and each
// makes the calls its pattern says: the rotator 3 for the report (generate, a poll that
// finds it in progress, get) plus, per due user, ListAccessKeys, GetAccessKeyLastUsed per key
// and ListUserTags, and one GetAccountAuthorizationDetails page (1,000 users) for every
// user's tags (some users' keys are old enough for a RotationDays tag to make them due); the
// seed one ListUsers per 100 users plus the same three reads for every user.
func TestScaleScansAgree(t *testing.T) {
	const n = 500
	clock := scaleNow
	w := scaleOrg(t, n, false, &clock)
	report, perUser := scanOnce(t, w, &clock, scaleScans[0].scan), scanOnce(t, w, &clock, scaleScans[1].scan)
	if len(report.due) != n/dueEvery || !slices.Equal(report.due, perUser.due) {
		t.Fatalf("the scans disagree on who is due:\ncredential report %v\nper user %v", report.due, perUser.due)
	}
	t.Logf("%d users, %d due: %d IAM calls with the credential report, %d per user", n, len(report.due), report.calls, perUser.calls)
	keys := func(i int) int { return 1 + btoi(i%3 == 1) }
	wantReport, wantPerUser := 3+1, n/100
	for i := range n {
		wantPerUser += 2 + keys(i)
		if i%dueEvery == 0 {
			wantReport += 2 + keys(i)
		}
	}
	if report.calls != wantReport || perUser.calls != wantPerUser {
		t.Errorf("IAM calls: credential report %d, per user %d; want %d and %d", report.calls, perUser.calls, wantReport, wantPerUser)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkScale compares the two scans at 1,000 and 10,000 users, 2% of them due, and in
// a quiet account (nobody due), and prints their IAM calls and time per scan side by side
// (make bench). The time is the client's and the in-memory model's CPU: on AWS each call is
// a round trip under a per-account rate limit, so the calls are the figure that matters.
func BenchmarkScale(b *testing.B) {
	type figures struct {
		due         int
		calls, nsOp float64
	}
	type org struct {
		users int
		quiet bool
	}
	orgs := []org{{1000, false}, {10000, false}, {1000, true}, {10000, true}}
	results := map[string]figures{}
	for _, o := range orgs {
		for _, s := range scaleScans {
			b.Run(fmt.Sprintf("users=%d/quiet=%v/scan=%s", o.users, o.quiet, s.name), func(b *testing.B) {
				clock := scaleNow
				w := scaleOrg(b, o.users, o.quiet, &clock)
				var runs []scaleRun
				for b.Loop() {
					runs = append(runs, scanOnce(b, w, &clock, s.scan))
				}
				calls := 0
				for _, r := range runs {
					calls += r.calls
				}
				f := figures{due: len(runs[0].due), calls: float64(calls) / float64(b.N),
					nsOp: float64(b.Elapsed().Nanoseconds()) / float64(b.N)}
				b.ReportMetric(f.calls, "iam-calls/op")
				results[fmt.Sprint(o, s.name)] = f
			})
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nusers\tdue\tIAM calls: credential report\tper user\tratio\ttime/scan: credential report\tper user\tratio\t\n")
	for _, o := range orgs {
		r, okR := results[fmt.Sprint(o, "credential-report")]
		p, okP := results[fmt.Sprint(o, "per-user")]
		if !okR || !okP {
			continue // filtered out by -bench
		}
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.0f×\t%v\t%v\t%.1f×\t\n", o.users, r.due, r.calls, p.calls, p.calls/r.calls,
			time.Duration(r.nsOp).Round(time.Microsecond), time.Duration(p.nsOp).Round(time.Microsecond), p.nsOp/r.nsOp)
	}
	_ = tw.Flush()
	fmt.Println("(one account on sim/awsmodel, in memory: the time is the client's and the model's CPU, not IAM's latency)")
}
