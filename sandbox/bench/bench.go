package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

// Options configure Run.
type Options struct {
	Size Size
	// AccountConcurrency and NotifyConcurrency fill the Maps' MaxConcurrency; the per-user
	// scan reads AccountConcurrency accounts at a time too.
	AccountConcurrency, NotifyConcurrency int
	// MaxInstances bounds the warm processes per Lambda function (runner.Options).
	MaxInstances int
	// BinDir holds the Lambdas' bootstraps (runner.Options); Python runs the stand-in
	// (sandbox.Options); RunOut, when set, receives the execution's output (runner's Write).
	BinDir, Python, RunOut string
	// Command is how the benchmark was started, for BENCHMARKS.md.
	Command string
	// Progress receives a line per step and the runner's progress.
	Progress io.Writer
}

// Account is one account's figures.
type Account struct {
	Name   string
	Users  int
	Status workflow.AccountStatus
	Error  string
	// RotatorCalls is the account's iamCalls in the run's report; PerUserCalls the IAM and
	// STS calls the per-user scan made in it.
	RotatorCalls, PerUserCalls int
	Counts                     workflow.Counts
	// Deferrals are the distinct reasons its report gives for deferred users.
	Deferrals []string
}

// Result is one benchmark run.
type Result struct {
	Options Options
	Date    time.Time
	// Commit is the repository's commit the run was made at ("": not in a git work tree),
	// marked when tracked files differed from it.
	Commit    string
	Machine   string
	LoadStart string // /proc/loadavg before seeding
	LoadEnd   string // and after the per-user scan
	Total     time.Duration
	Seed      time.Duration
	// Run is the execution's wall time; PerUser the per-user scan's.
	Run, PerUser time.Duration
	Status       string // the execution's: SUCCEEDED or FAILED
	Failure      string
	Stats        runner.Stats
	Lambdas      []runner.Invocations
	// Requests are the requests the run's Lambdas sent, by service (SigV4 scope name).
	Requests map[string]int
	Emails   int
	Accounts []Account
	// RotatedUsers are the organization's users the rotator keeps rotating (RotatedUsers);
	// Handoff, the hand-off secrets as the execution left them.
	RotatedUsers int
	Handoff      []HandoffSecret

	// otherSizes are the rows of the table by size that the run keeps (KeepSizes).
	otherSizes []string
}

// Run seeds the organization on a new stand-in, runs one execution of the workflow on it,
// scans it per user, and returns the figures. The stand-in is stopped on return.
func Run(ctx context.Context, opts Options) (*Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Result{Options: opts, Date: time.Now().UTC(), Commit: commit(ctx), Machine: machine(), LoadStart: loadavg()}
	start := time.Now()
	sc := Organization(opts.Size)
	fmt.Fprintf(progress, "bench-scale: starting the stand-in; seeding %d mixed accounts, %d users needing a notice, %d quiet users…\n",
		opts.Size.Accounts, opts.Size.NoticeUsers, opts.Size.QuietUsers)
	srv, err := sandbox.Start(ctx, sandbox.Options{Python: opts.Python})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	seeded, err := sandbox.Seed(ctx, srv.URL, sc, sandbox.SeedOptions{Progress: everyNth(progress, "seeding account ", 100)})
	if err != nil {
		return nil, err
	}
	res.Seed = time.Since(start)
	fmt.Fprintf(progress, "bench-scale: seeded %d accounts and %d keys in %s\n", len(seeded.Settings.Accounts), len(seeded.Keys), res.Seed.Round(time.Second))

	counter, err := startCounter(srv.URL)
	if err != nil {
		return nil, fmt.Errorf("start the request counter: %w", err)
	}
	defer counter.close()
	settings := runner.SettingsFrom(&seeded.Settings)
	settings.MapConcurrency, settings.NotifyConcurrency = opts.AccountConcurrency, opts.NotifyConcurrency
	fmt.Fprintf(progress, "bench-scale: one execution of the workflow (as keyrotator run), account concurrency %d, notify concurrency %d…\n",
		opts.AccountConcurrency, opts.NotifyConcurrency)
	ex, err := runner.Run(ctx, runner.Options{Endpoint: counter.url, Input: json.RawMessage(`{}`), Settings: settings,
		BinDir: opts.BinDir, MaxInstances: opts.MaxInstances, Progress: everyNth(progress, "accounts ", 100)})
	if err != nil {
		return nil, err
	}
	res.Requests = counter.byService()
	res.Run = ex.StopDate.Sub(ex.StartDate)
	res.Status, res.Stats, res.Lambdas, res.Emails = ex.Status, ex.Stats, ex.Lambdas, len(ex.Emails)
	if !ex.Succeeded() {
		res.Failure = ex.Error + ": " + ex.Cause
	}
	if opts.RunOut != "" {
		if err := ex.Write(opts.RunOut); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(progress, "bench-scale: the execution %s in %s\n", strings.ToLower(ex.Status), res.Run.Round(time.Second))
	res.RotatedUsers = RotatedUsers(sc)
	if res.Handoff, err = handoffSecrets(ctx, sandbox.Config(srv.URL)); err != nil {
		return nil, err
	}

	var members []sandbox.AccountSettings
	for _, a := range seeded.Settings.Accounts {
		if !a.Management && !a.Excluded {
			members = append(members, a)
		}
	}
	fmt.Fprintf(progress, "bench-scale: the per-user scan of the same %d member accounts, %d at a time…\n", len(members), opts.AccountConcurrency)
	perUser, took, err := PerUserScan(ctx, sandbox.Config(srv.URL), members, sc.MemberRole, opts.AccountConcurrency, progress)
	if err != nil {
		return nil, err
	}
	res.PerUser = took
	fmt.Fprintf(progress, "bench-scale: per-user scan done in %s\n", took.Round(time.Second))

	users := map[string]int{}
	for _, a := range sc.Accounts {
		users[a.Name] = len(a.Users)
	}
	if ex.Report == nil {
		return nil, errors.New("the execution wrote no report: " + res.Failure)
	}
	for _, a := range ex.Report.Accounts {
		acct := Account{Name: a.Account.Name, Users: users[a.Account.Name], Status: a.Status, Error: a.Error,
			RotatorCalls: a.Counts.IAMCalls, PerUserCalls: perUser[a.Account.Name], Counts: a.Counts}
		for _, u := range a.Users {
			if u.Status == policy.StatusDeferred && !slices.Contains(acct.Deferrals, u.Reason) {
				acct.Deferrals = append(acct.Deferrals, u.Reason)
			}
		}
		res.Accounts = append(res.Accounts, acct)
	}
	slices.SortFunc(res.Accounts, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	res.Total = time.Since(start)
	res.LoadEnd = loadavg()
	return res, nil
}

// everyNth passes on a line that starts with prefix only every nth time (and every other
// line), so that a thousand accounts make a readable progress log.
func everyNth(w io.Writer, prefix string, n int) io.Writer {
	return &sampler{w: w, prefix: prefix, n: n}
}

type sampler struct {
	w      io.Writer
	prefix string
	n, i   int
}

func (s *sampler) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), s.prefix) {
			s.i++
			if s.i%s.n != 0 {
				continue
			}
		}
		if _, err := io.WriteString(s.w, line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// machine describes the CPU the benchmark ran on.
func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s/%s, %s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// commit is the working directory's git commit, abbreviated, with "+changes" when tracked
// files differ from it; "" outside a git work tree (or without git).
func commit(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=7", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if changed, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(changed)) > 0 {
		c += "+changes"
	}
	return c
}

// loadavg is the 1, 5 and 15-minute load averages, or "" where /proc has none.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// handoffSecrets lists the hand-off secrets on the stand-in, those scheduled for deletion
// included. DeletedDate is the end of the recovery window, as AWS documents it: the deletion
// was scheduled the window's days before.
func handoffSecrets(ctx context.Context, cfg aws.Config) ([]HandoffSecret, error) {
	pages := secretsmanager.NewListSecretsPaginator(secretsmanager.NewFromConfig(cfg), &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true),
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{config.DefaultHandoffSecretPrefix}}}})
	var out []HandoffSecret
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the hand-off secrets: %w", err)
		}
		for _, e := range page.SecretList {
			s := HandoffSecret{Created: aws.ToTime(e.CreatedDate)}
			if e.DeletedDate != nil {
				s.Scheduled = aws.Time(e.DeletedDate.AddDate(0, 0, -handoff.RecoveryWindowDays))
			}
			out = append(out, s)
		}
	}
	return out, nil
}
