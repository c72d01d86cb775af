package runner

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// listAccounts builds the real ListAccounts Lambda for this machine.
func listAccounts(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "../../lambdas/list-accounts")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build list-accounts: %v\n%s", err, out)
	}
	return bin
}

const testARN = "arn:aws:lambda:us-east-1:111122223333:function:iam-access-key-rotator-list-accounts"

// TestRuntimeAPIServesTheRealBootstrap drives aws-lambda-go's runtime client in the real
// binary: its error type reaches the caller (what the ASL's Retry and Catch match), warm
// instances are reused, and concurrent invocations get at most maxInstances processes.
func TestRuntimeAPIServesTheRealBootstrap(t *testing.T) {
	var log bytes.Buffer
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y",
		"AWS_ENDPOINT_URL=http://127.0.0.1:1", "REPORT_BUCKET=reports", "AWS_LAMBDA_LOG_FORMAT=JSON"}
	f := newFunction(statemachine.Functions[0], testARN, listAccounts(t), env, 2, &log)
	defer f.stop()
	ctx := context.Background()
	invoke := func() error {
		_, err := f.invoke(ctx, []byte(`{"input": {"acounts": []}, "runId": "r1"}`))
		return err
	}
	var fe *FunctionError
	if err := invoke(); !errors.As(err, &fe) || fe.Type != "InvalidInput" || !strings.Contains(fe.Message, "acounts") {
		t.Fatalf("error %v, want InvalidInput naming acounts", err)
	}
	if err := invoke(); !errors.As(err, &fe) || fe.Type != "InvalidInput" {
		t.Fatalf("second invocation: %v", err)
	}
	if f.started != 1 {
		t.Errorf("%d processes for two invocations in a row, want one warm instance", f.started)
	}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = invoke()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.As(err, &fe) || fe.Type != "InvalidInput" {
			t.Errorf("concurrent invocation %d: %v", i, err)
		}
	}
	if f.started > 2 {
		t.Errorf("%d processes, maxInstances is 2", f.started)
	}
	// Each of the 7 invocations is billed, at least a millisecond, at the function's memory.
	if got := f.invocations(); got.Invocations != 7 || got.Duration < 7*time.Millisecond || got.MemoryMB != statemachine.Functions[0].MemoryMB {
		t.Errorf("billed %+v, want 7 invocations of at least 1 ms at %d MB", got, statemachine.Functions[0].MemoryMB)
	}
	f.stop()
	if !strings.Contains(log.String(), "[list-accounts#1] {") || !strings.Contains(log.String(), `"invocation failed"`) {
		t.Errorf("the function's log lacks its JSON lines:\n%s", log.String())
	}
}

// TestRuntimeAPIReportsAProcessThatExits: a bootstrap that refuses its configuration exits
// before asking for an event; the invocation fails with Runtime.ExitError and the log says why.
func TestRuntimeAPIReportsAProcessThatExits(t *testing.T) {
	var log bytes.Buffer
	f := newFunction(statemachine.Functions[0], testARN, listAccounts(t), []string{"AWS_REGION=us-east-1"}, 1, &log)
	defer f.stop()
	_, err := f.invoke(context.Background(), []byte(`{}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Runtime.ExitError" {
		t.Fatalf("error %v, want Runtime.ExitError", err)
	}
	if !strings.Contains(log.String(), "REPORT_BUCKET") {
		t.Errorf("the log does not name the missing variable:\n%s", log.String())
	}
}

// TestEachFunctionGetsOnlyItsOwnVariables: the runner gives a function the configuration
// variables config.Functions names for it, as the stack does, and the rest of the
// environment unchanged.
func TestEachFunctionGetsOnlyItsOwnVariables(t *testing.T) {
	env := []string{"PATH=/bin", "AWS_REGION=us-east-1", config.SenderEmail + "=rotator@example.com", config.ReportBucket + "=reports",
		config.ManagementRoleARN + "=arn:aws:iam::111111111111:role/management"}
	got := functionEnv(env, statemachine.ScanAndRotate)
	if want := []string{"PATH=/bin", "AWS_REGION=us-east-1", config.ReportBucket + "=reports"}; !slices.Equal(got, want) {
		t.Errorf("scan-and-rotate's environment %v, want %v", got, want)
	}
	if got := functionEnv(env, statemachine.ListAccounts); !slices.Contains(got, config.ManagementRoleARN+"=arn:aws:iam::111111111111:role/management") ||
		slices.Contains(got, config.SenderEmail+"=rotator@example.com") {
		t.Errorf("list-accounts' environment %v", got)
	}
}
