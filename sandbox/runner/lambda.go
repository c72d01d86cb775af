package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// This file is a minimal Lambda Runtime API (2018-06-01): enough for aws-lambda-go's
// runtime client to fetch one event at a time and report its result or error. Each
// function keeps warm processes, like Lambda's execution environments: an idle one takes
// the next invocation, a new one starts while all are busy, up to maxInstances.

// FunctionError is a failed invocation as Lambda reports it: the error type the ASL's
// Retry and Catch match, and the message that becomes the Cause.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// function is one Lambda: its binary, environment and warm instances, and what its
// invocations would be billed.
type function struct {
	name         string
	memoryMB     int
	timeout      time.Duration
	arn          string
	binary       string
	env          []string
	maxInstances int
	log          *lockedWriter

	mu        sync.Mutex
	idle      []*instance
	all       []*instance
	instances int
	started   int
	slots     chan struct{}
	billed    Invocations
}

// Invocations are a function's invocations and their summed duration, as Lambda bills them
// (each rounded up to the millisecond), at the function's memory.
type Invocations struct {
	Function    string        `json:"function"`
	MemoryMB    int           `json:"memoryMB"`
	Invocations int           `json:"invocations"`
	Duration    time.Duration `json:"durationNs"`
	// Longest is the longest invocation, against the function's timeout.
	Longest time.Duration `json:"longestNs"`
}

// GBSeconds is the duration times the memory, Lambda's unit of compute.
func (i Invocations) GBSeconds() float64 {
	return i.Duration.Seconds() * float64(i.MemoryMB) / 1024
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan invocationResult
}

type invocationResult struct {
	output []byte
	err    *FunctionError
}

// instance is one running bootstrap process and the Runtime API it polls.
type instance struct {
	fn       *function
	number   int
	listener net.Listener
	server   *http.Server
	cmd      *exec.Cmd
	next     chan *invocation
	exited   chan struct{}
	initErr  atomic.Pointer[FunctionError]
	mu       sync.Mutex
	inflight map[string]*invocation
}

func newFunction(spec statemachine.Function, arn, binary string, env []string, maxInstances int, log io.Writer) *function {
	return &function{name: spec.Name, memoryMB: spec.MemoryMB, timeout: spec.Timeout, arn: arn, binary: binary, env: env,
		maxInstances: maxInstances, log: &lockedWriter{w: log}, slots: make(chan struct{}, maxInstances),
		billed: Invocations{Function: spec.Name, MemoryMB: spec.MemoryMB}}
}

// bill counts one invocation that ran for d.
func (f *function) bill(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.billed.Invocations++
	f.billed.Duration += (d + time.Millisecond - 1).Truncate(time.Millisecond)
	f.billed.Longest = max(f.billed.Longest, d)
}

// invocations returns what the function's invocations so far would be billed.
func (f *function) invocations() Invocations {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.billed
}

var requestCounter atomic.Int64

// invoke runs one event on a warm (or new) instance and returns the function's response.
func (f *function) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-f.slots }()
	inst, err := f.take()
	if err != nil {
		return nil, err
	}
	inv := &invocation{id: fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().Unix()&0xffffffff, requestCounter.Add(1)),
		payload: payload, deadline: time.Now().Add(f.timeout), done: make(chan invocationResult, 1)}
	select {
	case inst.next <- inv:
	case <-inst.exited:
		f.drop(inst)
		return nil, inst.exitError()
	case <-ctx.Done():
		f.put(inst)
		return nil, ctx.Err()
	}
	started := time.Now()
	defer func() { f.bill(time.Since(started)) }()
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case res := <-inv.done:
		f.put(inst)
		if res.err != nil {
			return nil, res.err
		}
		return res.output, nil
	case <-inst.exited:
		f.drop(inst)
		return nil, inst.exitError()
	case <-timer.C:
		inst.stop()
		f.drop(inst)
		return nil, &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("%s timed out after %s", f.name, f.timeout)}
	case <-ctx.Done():
		inst.stop()
		f.drop(inst)
		return nil, ctx.Err()
	}
}

// take returns an idle instance or starts one.
func (f *function) take() (*instance, error) {
	f.mu.Lock()
	for n := len(f.idle); n > 0; n = len(f.idle) {
		inst := f.idle[n-1]
		f.idle = f.idle[:n-1]
		select {
		case <-inst.exited: // died while idle: Lambda would start a new environment
			f.instances--
			continue
		default:
		}
		f.mu.Unlock()
		return inst, nil
	}
	f.instances++
	f.started++
	number := f.started
	f.mu.Unlock()
	inst, err := f.start(number)
	if err != nil {
		f.mu.Lock()
		f.instances--
		f.mu.Unlock()
	}
	return inst, err
}

func (f *function) put(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idle = append(f.idle, inst)
}

func (f *function) drop(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.instances--
}

// stop ends every instance the function started, busy or idle.
func (f *function) stop() {
	f.mu.Lock()
	all := f.all
	f.idle, f.all = nil, nil
	f.mu.Unlock()
	for _, inst := range all {
		inst.stop()
	}
}

// start runs a bootstrap process with its own Runtime API endpoint.
func (f *function) start(number int) (*instance, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start %s: runtime API listener: %w", f.name, err)
	}
	inst := &instance{fn: f, number: number, listener: l, next: make(chan *invocation), exited: make(chan struct{}),
		inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", inst.serveNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", inst.serveResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", inst.serveError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", inst.serveInitError)
	inst.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = inst.server.Serve(l) }()

	cmd := exec.Command(f.binary)
	cmd.Env = append(append([]string{}, f.env...), "AWS_LAMBDA_RUNTIME_API="+l.Addr().String())
	prefix := fmt.Sprintf("[%s#%d] ", f.name, number)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start %s: %w", f.name, err)
	}
	if err := cmd.Start(); err != nil {
		l.Close()
		return nil, fmt.Errorf("start %s (%s): %w", f.name, f.binary, err)
	}
	inst.cmd = cmd
	f.mu.Lock()
	f.all = append(f.all, inst)
	f.mu.Unlock()
	var copying sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		copying.Add(1)
		go func() {
			defer copying.Done()
			f.log.copyLines(prefix, r)
		}()
	}
	go func() {
		copying.Wait()
		_ = cmd.Wait()
		_ = inst.server.Close()
		close(inst.exited)
	}()
	return inst, nil
}

func (inst *instance) stop() {
	if inst.cmd.Process != nil {
		_ = inst.cmd.Process.Kill()
	}
	<-inst.exited
}

// exitError is the invocation error of a process that ended: its init error if it posted
// one, else Runtime.ExitError as Lambda reports it.
func (inst *instance) exitError() error {
	if e := inst.initErr.Load(); e != nil {
		return e
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("%s: the process exited (%v) before answering; see its log",
		inst.fn.name, inst.cmd.ProcessState)}
}

func (inst *instance) serveNext(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-inst.next:
	case <-r.Context().Done():
		return
	}
	inst.mu.Lock()
	inst.inflight[inv.id] = inv
	inst.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", inst.fn.arn)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	_, _ = w.Write(inv.payload)
}

// finish hands the result of the invocation named in the path to its caller.
func (inst *instance) finish(w http.ResponseWriter, r *http.Request, res func([]byte) invocationResult) {
	id := r.PathValue("id")
	inst.mu.Lock()
	inv := inst.inflight[id]
	delete(inst.inflight, id)
	inst.mu.Unlock()
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown request ID","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	switch {
	case err != nil:
		inv.done <- invocationResult{err: &FunctionError{Type: "Runtime.ResponseError", Message: err.Error()}}
	case len(body) > 6<<20:
		inv.done <- invocationResult{err: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "response over 6 MB"}}
	default:
		inv.done <- res(body)
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (inst *instance) serveResponse(w http.ResponseWriter, r *http.Request) {
	inst.finish(w, r, func(body []byte) invocationResult { return invocationResult{output: body} })
}

func (inst *instance) serveError(w http.ResponseWriter, r *http.Request) {
	inst.finish(w, r, func(body []byte) invocationResult {
		return invocationResult{err: decodeFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"))}
	})
}

func (inst *instance) serveInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	inst.initErr.Store(decodeFunctionError(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")))
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

// decodeFunctionError reads the runtime's error document; the header names the type when
// the body does not.
func decodeFunctionError(body []byte, headerType string) *FunctionError {
	var e FunctionError
	if err := json.Unmarshal(body, &e); err != nil || e.Type == "" {
		if e.Type = headerType; e.Type == "" {
			e.Type = "Unhandled"
		}
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
	}
	return &e
}

// lockedWriter lets every instance of a function append whole lines to one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) copyLines(prefix string, r io.Reader) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), 4<<20)
	for scanner.Scan() {
		lw.mu.Lock()
		fmt.Fprintf(lw.w, "%s%s\n", prefix, scanner.Bytes())
		lw.mu.Unlock()
	}
	if err := scanner.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		lw.mu.Lock()
		fmt.Fprintf(lw.w, "%slog: %v\n", prefix, err)
		lw.mu.Unlock()
	}
}
