// Package runner runs the rotation workflow end to end on the local AWS stand-in (package
// sandbox): statemachine/rotation.asl.json, filled in, is interpreted by
// aws-local-stepfunctions (Node, run.mjs beside this file), and every Task state comes back
// here: Lambda Tasks run the real Go bootstrap binaries through a local Lambda Runtime API
// (lambda.go), SNS publish Tasks publish to the stand-in's SNS, S3 putObject Tasks (the
// AWS SDK integration) write to its S3, and the Distributed Map's
// ItemReader reads the stand-in's S3 (the one transformation, see LocalDefinition).
//
// Run creates what the CDK app would (report bucket, failure topic),
// starts one execution, and collects its status, event log, emails, report and the
// Lambdas' logs, written to an output directory by Write.
package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Settings are the rotator's configuration for a run, as the CDK app reads it from context
// (config.Table's settings). As the stack does, the runner gives each function the
// variables it reads (config.Functions) as config.Settings.Environ writes them, after
// setting those the stack derives from its resources (the bucket, topic, keys, roles and
// partition) from the stand-in's; a zero field leaves the Lambdas' default. MapConcurrency
// and NotifyConcurrency fill the Maps' MaxConcurrency (0: 4 and 2). The rest (the schedule,
// the organization, the StackSet) the runner does not read: the stand-in is the organization.
type Settings = config.Deployment

// SettingsFrom takes the settings a seeded stand-in serves (GET /keyrotator/settings); the
// rest keep the defaults.
func SettingsFrom(s *sandbox.Settings) Settings { return Settings{Settings: s.Rotator} }

// Options configure Run.
type Options struct {
	// Endpoint is the running stand-in, e.g. http://127.0.0.1:4566.
	Endpoint string
	// Input is the execution input; empty means {} (the daily schedule's).
	Input    json.RawMessage
	Settings Settings
	// Root is the repository (go.mod, lambdas/, node_modules); empty: found from the
	// working directory upwards.
	Root string
	// BinDir holds <function>/bootstrap for each Lambda; empty: <Root>/build/local. Build
	// the binaries first with Build.
	BinDir string
	// RetryInterval, when set, replaces every Retry's interval (retryIntervalOverrides), so
	// that retries do not make tests slow; zero keeps the definition's.
	RetryInterval time.Duration
	// MaxInstances bounds the warm processes per function (0: 4).
	MaxInstances int
	// Name is the execution's name ($$.Execution.Name, the run ID); empty: generated.
	Name string
	// Progress, when set, receives "accounts done/total" lines while the execution runs.
	Progress io.Writer
	// Definition, when set, replaces statemachine/rotation.asl.json: a template with the same
	// placeholders (tests of the runner's own semantics use it).
	Definition []byte
}

// Execution is one finished run.
type Execution struct {
	Name      string          `json:"name"`
	ARN       string          `json:"executionArn"`
	Status    string          `json:"status"` // SUCCEEDED or FAILED
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	StartDate time.Time       `json:"startDate"`
	StopDate  time.Time       `json:"stopDate"`
	// Events is the interpreter's event log of the execution itself, in order.
	Events []json.RawMessage `json:"events"`
	// MapRuns and Children are its Distributed Maps' runs and child executions (theirs too).
	MapRuns  []MapRun `json:"mapRuns,omitempty"`
	Children []Child  `json:"children,omitempty"`
	// Stats are the largest payload and the most history events of one execution.
	Stats Stats `json:"stats"`
	// Lambdas are each function's invocations and their billed duration, in workflow order.
	Lambdas []Invocations `json:"lambdas"`

	// Resources are what the run used on the stand-in.
	Resources Resources `json:"-"`
	// Emails are the messages SES accepted during the run, in order.
	Emails []Email `json:"-"`
	// Report is reports/<name>/report.json (nil when CleanupReport did not write it);
	// ReportJSON and ReportCSV are the objects as stored.
	Report     *report.Document `json:"-"`
	ReportJSON []byte           `json:"-"`
	ReportCSV  []byte           `json:"-"`
	// Logs holds each Lambda's log lines, by function name.
	Logs map[string][]byte `json:"-"`
	// Calls are the AWS calls the state machine and the Lambdas made, in each one's order;
	// Resources.Bindings fill in the synthesized policies they ran under (permissions.Audit
	// checks them).
	Calls []permissions.FunctionCall `json:"-"`
}

// Succeeded reports whether the execution ended in success.
func (e *Execution) Succeeded() bool { return e.Status == "SUCCEEDED" }

// Run runs one execution of the workflow against the stand-in and returns it, also when the
// execution failed (Status FAILED); the error is for a run that could not be carried out.
func Run(ctx context.Context, opts Options) (*Execution, error) {
	root, err := repoRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	binDir := opts.BinDir
	if binDir == "" {
		binDir = filepath.Join(root, "build", "local")
	}
	node, script, err := nodeScript(root)
	if err != nil {
		return nil, err
	}
	s := opts.Settings
	if s.MapConcurrency == 0 {
		s.MapConcurrency = 4
	}
	if s.NotifyConcurrency == 0 {
		s.NotifyConcurrency = 2
	}
	maxInstances := opts.MaxInstances
	if maxInstances == 0 {
		maxInstances = 4
	}
	input := opts.Input
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}")
	}
	if !json.Valid(input) {
		return nil, fmt.Errorf("execution input is not JSON: %s", input)
	}
	name := opts.Name
	if name == "" {
		name = newExecutionName()
	}

	awsCfg, accountID, res, err := standIn(ctx, opts.Endpoint, s)
	if err != nil {
		return nil, err
	}
	callLogs, err := os.MkdirTemp("", "keyrotator-calls-")
	if err != nil {
		return nil, fmt.Errorf("directory of the Lambdas' call logs: %w", err)
	}
	defer os.RemoveAll(callLogs)

	values := map[string]string{
		statemachine.FailureTopicArn:    res.TopicARN,
		statemachine.ReportBucketName:   res.Bucket,
		statemachine.AccountConcurrency: strconv.Itoa(s.MapConcurrency),
		statemachine.NotifyConcurrency:  strconv.Itoa(s.NotifyConcurrency),
		statemachine.Partition:          sandbox.Partition,
		statemachine.AccountId:          accountID,
		statemachine.ExecutionConsoleURL: statemachine.ExecutionConsoleURLPrefix(statemachine.ConsoleHosts[sandbox.Partition],
			sandbox.Region),
	}
	env := lambdaEnv(opts.Endpoint, s, res)
	logs := map[string]*bytes.Buffer{}
	functions := map[string]*function{}
	for _, f := range statemachine.Functions {
		logs[f.Name] = &bytes.Buffer{}
		fn, err := localFunction(ctx, awsCfg, f, accountID, binDir, env, filepath.Join(callLogs, f.Name+".jsonl"), maxInstances, logs[f.Name])
		if err != nil {
			return nil, err
		}
		values[f.ArnPlaceholder] = fn.arn
		functions[fn.arn] = fn
	}
	defer func() {
		for _, f := range functions {
			f.stop()
		}
	}()
	template := statemachine.Template
	if opts.Definition != nil {
		template = opts.Definition
	}
	definition, err := statemachine.RenderTemplate(template, values)
	if err != nil {
		return nil, err
	}
	local, err := Localize(definition)
	if err != nil {
		return nil, err
	}

	mail, err := markMail(ctx, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	// Step Functions calls the services with the state machine's role: so does the runner.
	smLog := filepath.Join(callLogs, permissions.StateMachineRole+".jsonl")
	smCreds, smRoleARN, err := assumeRole(ctx, awsCfg, accountID, permissions.StateMachineRole, "states")
	if err != nil {
		return nil, err
	}
	smCfg := awsCfg.Copy()
	smCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(smCreds.AccessKeyId), aws.ToString(smCreds.SecretAccessKey), aws.ToString(smCreds.SessionToken))
	stateMachineARN := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", sandbox.Region, accountID, statemachine.Name)
	ctl, err := startControl(ctx, awsclient.RecordCalls(smCfg, smLog), functions, smLog, stateMachineARN)
	if err != nil {
		return nil, err
	}
	defer ctl.close()

	ex := &Execution{Name: name, Input: input, Resources: res, StartDate: time.Now().UTC(),
		ARN: fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", sandbox.Region, accountID, statemachine.Name, name)}
	if err := ex.interpret(ctx, node, script, local, ctl, smRoleARN, opts); err != nil {
		return nil, err
	}
	ex.StopDate = time.Now().UTC()
	for _, f := range statemachine.Functions {
		fn := functions[values[f.ArnPlaceholder]]
		fn.stop()
		ex.Lambdas = append(ex.Lambdas, fn.invocations())
	}
	ex.Logs = map[string][]byte{}
	for fn, b := range logs {
		ex.Logs[fn] = b.Bytes()
	}
	if ex.Calls, err = readCalls(callLogs); err != nil {
		return nil, err
	}

	if ex.Emails, err = emailsSince(ctx, opts.Endpoint, mail); err != nil {
		return nil, err
	}
	if err := ex.readReport(ctx, awsCfg); err != nil {
		return nil, err
	}
	return ex, nil
}

// interpret runs run.mjs with the job and collects the event log and the result.
func (e *Execution) interpret(ctx context.Context, node, script string, local *Local, ctl *control, roleARN string, opts Options) error {
	job := map[string]any{
		"definition": local.Definition,
		"maps":       local.Maps,
		"input":      e.Input,
		"controlUrl": ctl.url,
		"context": map[string]any{"Execution": map[string]any{"Id": e.ARN, "Name": e.Name, "RoleArn": roleARN},
			"StateMachine": map[string]any{"Name": statemachine.Name}},
	}
	if opts.RetryInterval > 0 {
		overrides := map[string]int64{}
		for _, name := range retryingStates(local) {
			overrides[name] = opts.RetryInterval.Milliseconds()
		}
		job["retryIntervalOverrides"] = overrides
	}
	body, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode the interpreter's job: %w", err)
	}
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run %s: %w", script, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s %s: %w", node, script, err)
	}
	var result *struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
		Error  string          `json:"error"`
		Cause  string          `json:"cause"`
	}
	progress := &progress{w: opts.Progress}
	scanner := bufio.NewScanner(stdout)
	scanner.Buffer(make([]byte, 1<<20), 256<<20)
	for scanner.Scan() {
		var line struct {
			Event  json.RawMessage `json:"event"`
			MapRun *MapRun         `json:"mapRun"`
			Child  *Child          `json:"child"`
			Result json.RawMessage `json:"result"`
			Stats  *Stats          `json:"stats"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			return fmt.Errorf("interpreter output %q: %w", truncate(scanner.Text(), 200), err)
		}
		switch {
		case line.Event != nil:
			e.Events = append(e.Events, line.Event)
		case line.MapRun != nil:
			e.MapRuns = append(e.MapRuns, *line.MapRun)
			progress.mapRun(*line.MapRun)
		case line.Child != nil:
			if err := ctl.startedChild(); err != nil {
				return err
			}
			e.Children = append(e.Children, *line.Child)
			progress.child(*line.Child)
		case line.Result != nil:
			if err := json.Unmarshal(line.Result, &result); err != nil {
				return fmt.Errorf("interpreter result: %w", err)
			}
			if line.Stats != nil {
				e.Stats = *line.Stats
			}
		}
	}
	scanErr := scanner.Err()
	if err := cmd.Wait(); err != nil || scanErr != nil {
		return fmt.Errorf("interpreter %s: %v %v\n%s", script, err, scanErr, stderr.String())
	}
	if result == nil {
		return fmt.Errorf("interpreter %s: no result\n%s", script, stderr.String())
	}
	e.Status, e.Output, e.Error, e.Cause = result.Status, result.Output, result.Error, result.Cause
	return nil
}

// MapRun is one run of a Distributed Map: its state, how deep its execution is (0: the
// execution itself, 1: one of its children) and how many items (child executions) it has.
type MapRun struct {
	Map   string `json:"map"`
	Depth int    `json:"depth"`
	Items int    `json:"items"`
}

// Child is how one child execution of a Distributed Map ended.
type Child struct {
	ID     string `json:"id"`
	Map    string `json:"map"`
	Depth  int    `json:"depth"`
	Index  int    `json:"index"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
	// Events are its history events, as the service counts them; LargestPayload is the
	// largest input, output, task parameters or task result in it, in bytes.
	Events         int `json:"events"`
	LargestPayload int `json:"largestPayload"`
}

// Stats are the run's figures against Step Functions' limits, over the execution and all
// its child executions.
type Stats struct {
	Executions int `json:"executions"`
	// MostEvents is the most history events of one execution, in MostEventsIn.
	MostEvents   int    `json:"mostEvents"`
	MostEventsIn string `json:"mostEventsIn"`
	// LargestPayload is the largest payload in bytes, at LargestPayloadAt.
	LargestPayload   int    `json:"largestPayload"`
	LargestPayloadAt string `json:"largestPayloadAt"`
	// Transitions are the state transitions of all of them: each state entered and each
	// retry, what Step Functions Standard bills.
	Transitions int `json:"transitions"`
}

// progress prints "accounts done/total" as the top Distributed Map's children end.
type progress struct {
	w     io.Writer
	total int
	done  int
}

func (p *progress) mapRun(m MapRun) {
	if m.Depth == 0 {
		p.total = m.Items
	}
}

func (p *progress) child(c Child) {
	if p.w == nil || c.Depth != 1 {
		return
	}
	p.done++
	fmt.Fprintf(p.w, "accounts %d/%d done\n", p.done, p.total)
}

// retryingStates names every state (inner ones too, and those of the Distributed Maps'
// child executions) with a Retry field.
func retryingStates(local *Local) []string {
	var names []string
	var walk func(machine map[string]any)
	walk = func(machine map[string]any) {
		states, _ := machine["States"].(map[string]any)
		for name, s := range states {
			state, _ := s.(map[string]any)
			if _, ok := state["Retry"]; ok {
				names = append(names, name)
			}
			for _, key := range []string{"ItemProcessor", "Iterator"} {
				if inner, ok := state[key].(map[string]any); ok {
					walk(inner)
				}
			}
			branches, _ := state["Branches"].([]any)
			for _, b := range branches {
				if inner, ok := b.(map[string]any); ok {
					walk(inner)
				}
			}
		}
	}
	for _, definition := range append([]json.RawMessage{local.Definition}, slices.Collect(maps.Values(local.Maps))...) {
		var def map[string]any
		if json.Unmarshal(definition, &def) == nil {
			walk(def)
		}
		if processor, ok := def["ItemProcessor"].(map[string]any); ok {
			walk(processor)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// standIn checks that the stand-in answers and creates (once) the rotator's resources on it.
func standIn(ctx context.Context, endpoint string, s Settings) (aws.Config, string, Resources, error) {
	cfg := sandbox.Config(endpoint)
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return cfg, "", Resources{}, fmt.Errorf("reach the stand-in at %s: %w", endpoint, err)
	}
	accountID := aws.ToString(who.Account)
	res, err := ensureResources(ctx, cfg, accountID, s)
	return cfg, accountID, res, err
}

// localFunction is one Lambda served by its bootstrap in binDir, with the credentials of
// its role (as Lambda gives a function its execution role's; valid for an hour), recording
// its AWS calls in callLog unless it is empty.
func localFunction(ctx context.Context, cfg aws.Config, spec statemachine.Function, accountID, binDir string, env []string, callLog string, maxInstances int, log io.Writer) (*function, error) {
	name := spec.Name
	arn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", sandbox.Region, accountID, spec.DeployedName())
	binary := filepath.Join(binDir, name, "bootstrap")
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("the %s Lambda: %w (build the binaries first: runner.Build, or make build-local)", spec.Name, err)
	}
	creds, _, err := assumeRole(ctx, cfg, accountID, name, "keyrotator-"+name)
	if err != nil {
		return nil, err
	}
	fenv := append(functionEnv(env, spec.Name), "AWS_LAMBDA_FUNCTION_NAME="+spec.DeployedName(),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(spec.MemoryMB),
		"AWS_ACCESS_KEY_ID="+aws.ToString(creds.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY="+aws.ToString(creds.SecretAccessKey),
		"AWS_SESSION_TOKEN="+aws.ToString(creds.SessionToken))
	if callLog != "" {
		fenv = append(fenv, calllog.Env+"="+callLog)
	}
	return newFunction(spec, arn, binary, fenv, maxInstances, log), nil
}

// functionEnv keeps, of the configuration variables in env, those the function reads
// (config.Functions), as the stack gives each function only its own.
func functionEnv(env []string, function string) []string {
	reads := config.Functions[function].Reads
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(config.Variables, name) && !slices.Contains(reads, name)
	})
}

// assumeRole gives the credentials of the role of policies.json named name (a function's,
// or the state machine's) in accountID, valid for an hour, and the role's ARN.
func assumeRole(ctx context.Context, cfg aws.Config, accountID, name, session string) (*ststypes.Credentials, string, error) {
	file, err := permissions.Load()
	if err != nil {
		return nil, "", err
	}
	role, err := file.Role(name)
	if err != nil {
		return nil, "", err
	}
	arn := awsclient.RoleARN(sandbox.Partition, accountID, role.RoleName)
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(arn), RoleSessionName: aws.String(session), DurationSeconds: aws.Int32(3600),
	})
	if err != nil {
		return nil, "", fmt.Errorf("the %s role: %w", name, err)
	}
	return out.Credentials, arn, nil
}

// readCalls reads the call logs the Lambdas (<function>.jsonl) and the state machine
// (state-machine.jsonl) wrote in dir.
func readCalls(dir string) ([]permissions.FunctionCall, error) {
	var calls []permissions.FunctionCall
	for _, name := range stackRoles() {
		data, err := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the call log of %s: %w", name, err)
		}
		for line := range bytes.Lines(data) {
			c := permissions.FunctionCall{Function: name}
			if err := json.Unmarshal(line, &c.Call); err != nil {
				return nil, fmt.Errorf("the call log of %s: %w", name, err)
			}
			calls = append(calls, c)
		}
	}
	return calls, nil
}

// InvokeOptions configure Invoke.
type InvokeOptions struct {
	Endpoint string
	Settings Settings
	// Root and BinDir as in Options.
	Root, BinDir string
	// Function is the Lambda's folder name under lambdas/, e.g. scan-and-rotate.
	Function string
	Payload  json.RawMessage
}

// Invoke runs one event through one Lambda's real bootstrap against the stand-in, with the
// environment a workflow run gives it, and returns its response and its log lines. A
// failed invocation is a *FunctionError (its errorType and errorMessage).
func Invoke(ctx context.Context, opts InvokeOptions) (output json.RawMessage, log []byte, err error) {
	i := slices.IndexFunc(statemachine.Functions, func(f statemachine.Function) bool { return f.Name == opts.Function })
	if i < 0 {
		var names []string
		for _, f := range statemachine.Functions {
			names = append(names, f.Name)
		}
		return nil, nil, fmt.Errorf("no Lambda %q: the functions are %s", opts.Function, strings.Join(names, ", "))
	}
	if !json.Valid(opts.Payload) {
		return nil, nil, fmt.Errorf("the event is not JSON: %s", opts.Payload)
	}
	root, err := repoRoot(opts.Root)
	if err != nil {
		return nil, nil, err
	}
	binDir := opts.BinDir
	if binDir == "" {
		binDir = filepath.Join(root, "build", "local")
	}
	cfg, accountID, res, err := standIn(ctx, opts.Endpoint, opts.Settings)
	if err != nil {
		return nil, nil, err
	}
	var logs bytes.Buffer
	fn, err := localFunction(ctx, cfg, statemachine.Functions[i], accountID, binDir, lambdaEnv(opts.Endpoint, opts.Settings, res), "", 1, &logs)
	if err != nil {
		return nil, nil, err
	}
	out, err := fn.invoke(ctx, opts.Payload)
	fn.stop()
	return out, logs.Bytes(), err
}

// lambdaEnv is every function's environment but its credentials: what Lambda sets, the
// stand-in's endpoint, and the rotator's configuration (config.Settings.Environ, as the CDK
// app writes it), of which each function gets only its own (functionEnv).
func lambdaEnv(endpoint string, s Settings, res Resources) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_REGION=" + sandbox.Region, "AWS_DEFAULT_REGION=" + sandbox.Region,
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"TZ=UTC",
	}
	vars := s.Settings
	vars.ReportBucket, vars.FailureTopicARN, vars.Partition = res.Bucket, res.TopicARN, sandbox.Partition
	vars.ManagementRoleARN, vars.TagReaderRoleARN = res.ManagementRoleARN, res.TagReaderRoleARN
	vars.HandoffKMSKeyID, vars.SESConfigurationSet, vars.TagKeySecretARN = res.HandoffKeyARN, res.ConfigurationSet, res.TagKeySecretARN
	environ := vars.Environ()
	for _, name := range slices.Sorted(maps.Keys(environ)) {
		env = append(env, name+"="+environ[name])
	}
	return env
}

// newExecutionName is like the console's: a UUID (version 4).
func newExecutionName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// repoRoot returns root, or the nearest directory from the working directory up that holds
// go.mod and sandbox/runner/run.mjs.
func repoRoot(root string) (string, error) {
	if root != "" {
		return root, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "sandbox", "runner", "run.mjs")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository: no go.mod with sandbox/runner/run.mjs in the working directory or its parents; run from the checkout")
		}
		dir = parent
	}
}

// NodeInstallHint says how to get Node 22 and aws-local-stepfunctions.
const NodeInstallHint = "run `make runner-tools` (= npm ci at the root: Node 22 and aws-local-stepfunctions from package-lock.json)"

// nodeScript returns the Node 22 binary that npm installed at the root, and run.mjs.
func nodeScript(root string) (node, script string, err error) {
	node = filepath.Join(root, "node_modules", ".bin", "node")
	script = filepath.Join(root, "sandbox", "runner", "run.mjs")
	if _, err := os.Stat(node); err != nil {
		return "", "", fmt.Errorf("no Node 22 at %s: %s", node, NodeInstallHint)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "aws-local-stepfunctions", "package.json")); err != nil {
		return "", "", fmt.Errorf("aws-local-stepfunctions is not installed in node_modules: %s", NodeInstallHint)
	}
	return node, script, nil
}

// Validate checks definition with aws-local-stepfunctions' own validator (asl-validator,
// with ARN and JSONPath checks) through run.mjs --validate.
func Validate(ctx context.Context, root string, definition []byte) error {
	root, err := repoRoot(root)
	if err != nil {
		return err
	}
	node, script, err := nodeScript(root)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, node, script, "--validate")
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin = bytes.NewReader(definition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("validate the definition: %v: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Build compiles each Lambda for this machine, as <binDir>/<function>/bootstrap (binDir
// empty: <root>/build/local), with the tag that drops aws-lambda-go's RPC mode, as the
// provided.al2023 runtime needs.
func Build(ctx context.Context, root, binDir string) error {
	root, err := repoRoot(root)
	if err != nil {
		return err
	}
	if binDir == "" {
		binDir = filepath.Join(root, "build", "local")
	}
	var wg sync.WaitGroup
	errs := make([]error, len(statemachine.Functions))
	for i, f := range statemachine.Functions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o",
				filepath.Join(binDir, f.Name, "bootstrap"), "./lambdas/"+f.Name)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build lambdas/%s: %v\n%s", f.Name, err, out)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
