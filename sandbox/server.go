package sandbox

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
)

//go:embed moto_server.py
var launcherScript []byte

// Region is the region every client of the stand-in uses.
const Region = "us-east-1"

// Partition is the AWS partition of Region: what the stack's AWS::Partition would be.
const Partition = "aws"

// PythonEnv names the environment variable that overrides the Python interpreter (one
// with moto[server] installed); by default .venv/bin/python3 of the repository is used.
const PythonEnv = "KEYROTATOR_SANDBOX_PYTHON"

// InstallHint says how to get what the stand-in needs.
const InstallHint = "run `make sandbox-tools` at the repository root (creates .venv with sandbox/requirements.txt)"

// ErrNoPython is returned by Start when no Python with moto can be found.
var ErrNoPython = errors.New("no Python virtualenv for the moto stand-in")

// Options configure Start.
type Options struct {
	// Port on 127.0.0.1; 0 lets the system choose a free one.
	Port int
	// Python is the interpreter to run the launcher with; empty: $KEYROTATOR_SANDBOX_PYTHON,
	// else .venv/bin/python3 in the working directory or the nearest parent holding go.mod.
	Python string
	// StartTimeout bounds the wait for the stand-in to answer; 0 means 30 s.
	StartTimeout time.Duration
	// Log, when set, receives the launcher's stderr as it comes.
	Log io.Writer
}

// Server is a running stand-in.
type Server struct {
	// URL is the stand-in's base endpoint, e.g. http://127.0.0.1:4566.
	URL string
	// GitHub is the local GitHub beside it (sandbox/ghlocal), at GitHubURL: the GitHub
	// Actions secrets that machine users' keys may be delivered to.
	GitHub    *ghlocal.Server
	GitHubURL string
	github    *http.Server

	cmd     *exec.Cmd
	dir     string
	stderr  *tailBuffer
	exited  chan struct{}
	waitErr error
	once    sync.Once
	stopErr error
}

// Start runs the launcher, waits (at most opts.StartTimeout) until the stand-in answers
// and returns it. On failure the error carries the tail of the launcher's stderr.
func Start(ctx context.Context, opts Options) (*Server, error) {
	python, err := findPython(opts.Python)
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	dir, err := os.MkdirTemp("", "keyrotator-sandbox-")
	if err != nil {
		return nil, fmt.Errorf("start stand-in: %w", err)
	}
	script := filepath.Join(dir, "moto_server.py")
	if err := os.WriteFile(script, launcherScript, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start stand-in: write launcher: %w", err)
	}

	cmd := exec.Command(python, script, "--port", fmt.Sprint(opts.Port))
	cmd.Env = launcherEnv()
	cmd.SysProcAttr = sysProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start stand-in: %w", err)
	}
	s := &Server{cmd: cmd, dir: dir, stderr: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	if opts.Log != nil {
		cmd.Stderr = io.MultiWriter(s.stderr, opts.Log)
	} else {
		cmd.Stderr = s.stderr
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start stand-in with %s: %w (%s)", python, err, InstallHint)
	}

	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case urls <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case s.URL = <-urls:
	case <-s.exited:
		s.cleanup()
		return nil, fmt.Errorf("stand-in launcher exited before listening (%v); %s\nlauncher stderr:\n%s",
			s.waitErr, InstallHint, s.stderr.String())
	case <-timer.C:
		_ = s.Stop()
		return nil, fmt.Errorf("stand-in not listening after %s\nlauncher stderr:\n%s", timeout, s.stderr.String())
	case <-ctx.Done():
		_ = s.Stop()
		return nil, fmt.Errorf("start stand-in: %w", ctx.Err())
	}
	if err := s.health(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("stand-in at %s: %w\nlauncher stderr:\n%s", s.URL, err, s.stderr.String())
	}
	if err := s.startGitHub(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// startGitHub runs the local GitHub on a free port of 127.0.0.1, in this process.
func (s *Server) startGitHub() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the local GitHub: %w", err)
	}
	s.GitHub = ghlocal.New()
	s.GitHubURL = "http://" + l.Addr().String()
	s.github = &http.Server{Handler: s.GitHub, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.github.Serve(l) }()
	return nil
}

func (s *Server) health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/keyrotator/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s", resp.Status)
	}
	return nil
}

// Stop ends the stand-in with SIGTERM (SIGKILL after 10 s) and removes its temporary
// files. It is safe to call more than once.
func (s *Server) Stop() error {
	s.once.Do(func() {
		defer s.cleanup()
		if s.github != nil {
			_ = s.github.Close()
		}
		select {
		case <-s.exited:
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = fmt.Errorf("stop stand-in: %w", err)
		}
		select {
		case <-s.exited:
			var exit *exec.ExitError
			if s.waitErr != nil && !errors.As(s.waitErr, &exit) {
				s.stopErr = fmt.Errorf("stop stand-in: %w", s.waitErr)
			} else if exit != nil {
				s.stopErr = fmt.Errorf("stop stand-in: launcher %v\nlauncher stderr:\n%s", exit, s.stderr.String())
			}
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("stop stand-in: no exit 10 s after SIGTERM, killed")
		}
	})
	return s.stopErr
}

// Stderr returns the last 16 KiB the launcher wrote to stderr.
func (s *Server) Stderr() string { return s.stderr.String() }

func (s *Server) cleanup() { os.RemoveAll(s.dir) }

// Config returns a configuration for the stand-in's default (management) account:
// static dummy credentials, region us-east-1, BaseEndpoint the stand-in. S3 clients must
// also set UsePathStyle: bucket host names cannot resolve to 127.0.0.1.
func (s *Server) Config() aws.Config { return Config(s.URL) }

// Config returns the configuration of a client of the stand-in at url, acting in its
// default (management) account.
func Config(url string) aws.Config {
	return aws.Config{
		Region: Region,
		// Keys unknown to moto act in its default account, 123456789012.
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAKEYROTATORSANDBOX", "sandbox-dummy-secret", ""),
		BaseEndpoint: aws.String(url),
	}
}

// launcherEnv is the environment minus MOTO_ACCOUNT_ID, which would pin every request
// to one account and defeat AssumeRole into member accounts.
func launcherEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOTO_ACCOUNT_ID=") {
			env = append(env, kv)
		}
	}
	return append(env, "PYTHONUNBUFFERED=1")
}

// findPython returns the interpreter to run: explicit, from the environment, or the
// repository's .venv found from the working directory upwards.
func findPython(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv(PythonEnv); p != "" {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %v; %s", ErrNoPython, err, InstallHint)
	}
	for dir := wd; ; {
		candidate := filepath.Join(dir, ".venv", "bin", "python3")
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("%w: %s does not exist; %s", ErrNoPython, candidate, InstallHint)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no .venv/bin/python3 in %s or its parents; %s", ErrNoPython, wd, InstallHint)
		}
		dir = parent
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
