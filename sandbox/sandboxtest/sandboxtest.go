// Package sandboxtest gives Go tests a running, seeded local AWS stand-in (moto, see
// package sandbox) and ways to read what it holds: IAM users and keys per account, the
// emails SES sent, the messages SNS published, S3 objects.
//
// Each call to New or Start runs its own stand-in on a free port of 127.0.0.1, so test
// packages that run at once do not share one; a package usually starts one, from
// TestMain (Start/Stop) or per test (New, stopped by t.Cleanup). Without the project's
// .venv the start fails — it never skips — with a message saying to run
// `make sandbox-tools`.
package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
)

// Sandbox is a running stand-in and what was seeded into it.
type Sandbox struct {
	// URL is the stand-in's endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// Seeded is what the scenario created: the name → ID map, the settings, every key
	// with its secret. Nil when started without a scenario.
	Seeded *sandbox.Seeded

	server *sandbox.Server
	// reportHoursAgo is the scenario's credentialReportHoursAgo (nil: reports are live).
	reportHoursAgo *int
}

// StartTimeout bounds the wait for the stand-in to listen.
var StartTimeout = 30 * time.Second

// Start runs a stand-in and seeds sc into it (nil: leave it empty). Call Stop when done;
// it suits TestMain. The error says how to install the stand-in when it is missing.
func Start(ctx context.Context, sc *sandbox.Scenario) (*Sandbox, error) {
	srv, err := sandbox.Start(ctx, sandbox.Options{StartTimeout: StartTimeout})
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{URL: srv.URL, server: srv}
	if sc == nil {
		return sb, nil
	}
	sb.reportHoursAgo = sc.CredentialReportHoursAgo
	sb.Seeded, err = sandbox.Seed(ctx, srv.URL, sc, sandbox.SeedOptions{GitHub: srv.GitHub, GitHubURL: srv.GitHubURL})
	if err != nil {
		stopErr := srv.Stop()
		return nil, fmt.Errorf("seed the stand-in at %s: %w (stop: %v)\nlauncher stderr:\n%s", srv.URL, err, stopErr, srv.Stderr())
	}
	return sb, nil
}

// StartFile is Start with the scenario read from a JSON file.
func StartFile(ctx context.Context, path string) (*Sandbox, error) {
	sc, err := sandbox.LoadScenario(path)
	if err != nil {
		return nil, err
	}
	return Start(ctx, sc)
}

// New starts a stand-in seeded with sc (nil: empty) for the test t and stops it when t
// ends; a failure to start fails t.
func New(t testing.TB, sc *sandbox.Scenario) *Sandbox {
	t.Helper()
	sb, err := Start(context.Background(), sc)
	if err != nil {
		t.Fatalf("local AWS stand-in: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Stop(); err != nil {
			t.Errorf("local AWS stand-in: %v", err)
		}
	})
	return sb
}

// NewFile is New with the scenario read from a JSON file.
func NewFile(t testing.TB, path string) *Sandbox {
	t.Helper()
	sc, err := sandbox.LoadScenario(path)
	if err != nil {
		t.Fatalf("local AWS stand-in: %v", err)
	}
	return New(t, sc)
}

// Main runs a test package's tests against one stand-in seeded from the scenario file at
// path, made available through get; use it as the body of TestMain:
//
//	var sb *sandboxtest.Sandbox
//	func TestMain(m *testing.M) { sandboxtest.Main(m, "testdata/scenario.json", &sb) }
func Main(m *testing.M, path string, sb **Sandbox) {
	started, err := StartFile(context.Background(), path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "local AWS stand-in: %v\n", err)
		os.Exit(1)
	}
	*sb = started
	code := m.Run()
	if err := started.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "local AWS stand-in: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop ends the stand-in; safe to call twice.
func (sb *Sandbox) Stop() error { return sb.server.Stop() }

// Stderr returns the tail of the launcher's stderr, for diagnosing a failed test.
func (sb *Sandbox) Stderr() string { return sb.server.Stderr() }

// Config is a configuration acting in the management (moto's default) account: static
// dummy credentials, us-east-1, BaseEndpoint the stand-in.
func (sb *Sandbox) Config() aws.Config { return sandbox.Config(sb.URL) }

// AccountID returns the ID of the seeded account named name.
func (sb *Sandbox) AccountID(name string) (string, error) {
	if sb.Seeded == nil {
		return "", fmt.Errorf("account %s: the stand-in was started without a scenario", name)
	}
	id, ok := sb.Seeded.AccountID(name)
	if !ok {
		return "", fmt.Errorf("account %s: not in the scenario", name)
	}
	return id, nil
}

// AccountConfig is a configuration acting in the account named name as its administrator:
// the stand-in's operator in the management account, OrganizationAccountAccessRole (STS
// AssumeRole) in a member account. Never through the rotator's roles, so that what a test
// reads or changes is not taken for the rotator's use of them.
func (sb *Sandbox) AccountConfig(name string) (aws.Config, error) {
	id, err := sb.AccountID(name)
	if err != nil {
		return aws.Config{}, err
	}
	if id == sb.Seeded.Settings.ManagementAccountID {
		return sb.Config(), nil
	}
	return sandbox.AccountConfig(sb.Config(), id, sandbox.OrganizationAccessRole), nil
}

// Settings reads the rotator settings the stand-in serves.
func (sb *Sandbox) Settings(ctx context.Context) (*sandbox.Settings, error) {
	return sandbox.GetSettings(ctx, sb.URL)
}

// IAM returns an IAM client acting in the account named account (AccountConfig).
func (sb *Sandbox) IAM(account string) (*iam.Client, error) {
	cfg, err := sb.AccountConfig(account)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// S3 returns an S3 client of the management account, path-style as the stand-in needs.
func (sb *Sandbox) S3() *s3.Client {
	return s3.NewFromConfig(sb.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

// GitHub is the local GitHub beside the stand-in (sandbox/ghlocal).
func (sb *Sandbox) GitHub() *ghlocal.Server {
	if sb.server == nil {
		return nil
	}
	return sb.server.GitHub
}
