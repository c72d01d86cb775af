package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/preflight"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

func TestPreflightFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "Usage: keyrotator preflight"},
		{"negative users", []string{"--users", "-1"}, 2, "--users must not be negative"},
		{"negative map concurrency", []string{"--map-concurrency", "-1"}, 2, "--map-concurrency must not be negative"},
		{"cdk.json's mapConcurrency 0", []string{"--cdk-json", "testdata/bad-map-concurrency.json"}, 2, `mapConcurrency: must be an integer from 1 to 10000, got "0"`},
		{"stand-in with a profile", []string{"--endpoint", "http://127.0.0.1:1", "--profile", "p"}, 2, "takes no --profile"},
		{"stray argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"cdk.json not JSON", []string{"--cdk-json", "testdata/not-json.txt"}, 2, "testdata/not-json.txt"},
		{"cdk.json given, missing", []string{"--cdk-json", "testdata/missing.json"}, 2, "testdata/missing.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"preflight"}, tt.args...), nil, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestPreflightOnTheStandIn runs the command against the stand-in over the wire: every check
// passes on the seeded organization, then each cause is brought about through the API (or the
// stand-in's SES sandbox switch) and exactly its check fails, with its fix, and exit status 1.
func TestPreflightOnTheStandIn(t *testing.T) {
	sb := sandboxtest.NewFile(t, "../../sandbox/scenarios/demo.json")
	ctx := context.Background()
	cfg := sb.Config()
	sender := sb.Seeded.Settings.Rotator.SenderEmail
	run := func(extra ...string) (int, map[string]preflight.Result) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := dispatch(append([]string{"preflight", "--endpoint", sb.URL, "--json"}, extra...), nil, &stdout, &stderr)
		var doc struct {
			Failed  bool               `json:"failed"`
			Results []preflight.Result `json:"results"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("exit %d, stdout not JSON (%v):\n%s\nstderr:\n%s", code, err, stdout.String(), stderr.String())
		}
		byName := map[string]preflight.Result{}
		for _, r := range doc.Results {
			byName[r.Check] = r
		}
		if doc.Failed != (code == 1) {
			t.Errorf("exit %d with failed=%v", code, doc.Failed)
		}
		return code, byName
	}
	// expect: exactly the checks named in failing fail, those in untold cannot tell, the
	// others pass; and the exit status says whether one failed.
	untold := map[string]bool{}
	expect := func(step string, code int, got map[string]preflight.Result, failing ...string) {
		t.Helper()
		wantCode := 0
		if len(failing) > 0 {
			wantCode = 1
		}
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d", step, code, wantCode)
		}
		for name, r := range got {
			want := preflight.Pass
			if untold[name] {
				want = preflight.CannotTell
			}
			if slices.Contains(failing, name) {
				want = preflight.Fail
			}
			if r.Verdict != want {
				t.Errorf("%s: %s is %s (%s), want %s", step, name, r.Verdict, r.Detail, want)
			}
			if r.Verdict != preflight.Pass && r.Fix == "" {
				t.Errorf("%s: %s says no fix", step, name)
			}
		}
	}

	// Before the deploy: no schedule, no state machine.
	untold["daily schedule"], untold["recent runs"], untold["hand-off key policy"] = true, true, true
	code, got := run("--users", "1000")
	if len(got) != 14 {
		t.Fatalf("%d checks, want 14: %v", len(got), got)
	}
	expect("seeded", code, got)
	if r := got["daily run: cost and duration"]; !strings.Contains(r.Detail, "1000 users: an ordinary day $") {
		t.Errorf("the estimate does not price the 1000 users given: %+v", r)
	}
	untold["SES daily quota"] = true
	code, got = run()
	expect("without --users", code, got)
	delete(untold, "SES daily quota")
	code, got = run("--users", "20000")
	expect("20000 users", code, got, "SES daily quota")
	if _, err := sesv2.NewFromConfig(cfg).PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("the account suppresses complaints only", code, got, "SES bounce suppression")
	if r := got["SES bounce suppression"]; !strings.Contains(r.Fix, "put-account-suppression-attributes") {
		t.Errorf("no fix named: %+v", r)
	}
	if _, err := sesv2.NewFromConfig(cfg).PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000", "--exclude-accounts", "99999999999")
	expect("an excluded account ID with a digit missing", code, got, "exclusions")
	code, got = run("--users", "1000", "--exclude-ous", "ou-abcd-12345678")
	// The member role check and the estimate read the same selection, which they cannot
	// tell without the OU.
	untold["member role StackSet"], untold["daily run: cost and duration"] = true, true
	expect("an excluded OU that does not exist", code, got, "exclusions")
	delete(untold, "member role StackSet")
	delete(untold, "daily run: cost and duration")
	if r := got["exclusions"]; !strings.Contains(r.Detail, "ou-abcd-12345678") {
		t.Errorf("the OU is not named: %+v", r)
	}

	// Deployed: the schedule's rule and the state machine, with one run under way.
	events, states := eventbridge.NewFromConfig(cfg), sfn.NewFromConfig(cfg)
	if _, err := events.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(statemachine.ScheduleRuleName),
		ScheduleExpression: aws.String("cron(0 13 * * ? *)")}); err != nil {
		t.Fatal(err)
	}
	sm, err := states.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(statemachine.Name),
		Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`),
		RoleArn:    aws.String("arn:aws:iam::" + sb.Seeded.Settings.ManagementAccountID + ":role/" + statemachine.Name + "-sm")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := states.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("daily-1")}); err != nil {
		t.Fatal(err)
	}
	// The hand-off key, with the policy the stack gives it (infra/stacks newKey, grantKeyUse).
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(who.Account)
	keyPolicy := func(extra ...string) string {
		statement := func(sid, principal, action string) string {
			return fmt.Sprintf(`{"Sid":%q,"Effect":"Allow","Principal":{"AWS":%q},"Action":%q,"Resource":"*"}`, sid, principal, action)
		}
		role := func(name string) string { return "arn:aws:iam::" + account + ":role/" + name }
		return `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{
			statement("KeyAdministrationByTheAccount", "arn:aws:iam::"+account+":root", "kms:PutKeyPolicy"),
			statement("EncryptHandoffByScanAndRotate", role(statemachine.ScanRoleName), "kms:GenerateDataKey"),
			statement("DecryptHandoffByNotifyUser", role(statemachine.NotifyRoleName), "kms:Decrypt")}, extra...), ",") + `]}`
	}
	keys := kms.NewFromConfig(cfg)
	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(keyPolicy())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(statemachine.HandoffKeyAlias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	untold = map[string]bool{}
	code, got = run("--users", "1000")
	expect("deployed", code, got)

	putKeyPolicy := func(policy string) {
		t.Helper()
		if _, err := keys.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
			t.Fatal(err)
		}
	}
	putKeyPolicy(keyPolicy(`{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}`))
	code, got = run("--users", "1000")
	expect("the account may use the hand-off key", code, got, "hand-off key policy")
	if r := got["hand-off key policy"]; !strings.Contains(r.Detail, `"Enable IAM User Permissions"`) || !strings.Contains(r.Fix, "cdk deploy") {
		t.Errorf("the statement is not named, or no fix given: %+v", r)
	}
	putKeyPolicy(keyPolicy())

	// The member role's StackSet, changed to trust another account too.
	stackSets := cloudformation.NewFromConfig(cfg)
	described, err := stackSets.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(statemachine.MemberStackSetName)})
	if err != nil {
		t.Fatal(err)
	}
	synthesized := aws.ToString(described.StackSet.TemplateBody)
	updateStackSet := func(template string) {
		t.Helper()
		if _, err := stackSets.UpdateStackSet(ctx, &cloudformation.UpdateStackSetInput{StackSetName: aws.String(statemachine.MemberStackSetName),
			TemplateBody: aws.String(template)}); err != nil {
			t.Fatal(err)
		}
	}
	var template map[string]any
	if err := json.Unmarshal([]byte(synthesized), &template); err != nil {
		t.Fatal(err)
	}
	trust := template["Resources"].(map[string]any)["MemberRole"].(map[string]any)["Properties"].(map[string]any)["AssumeRolePolicyDocument"].(map[string]any)
	trust["Statement"] = append(trust["Statement"].([]any), map[string]any{"Sid": "BreakGlass", "Effect": "Allow", "Action": "sts:AssumeRole",
		"Principal": map[string]any{"AWS": "arn:aws:iam::999999999999:root"}})
	changed, err := json.Marshal(template)
	if err != nil {
		t.Fatal(err)
	}
	updateStackSet(string(changed))
	code, got = run("--users", "1000")
	expect("the member role trusts another account", code, got, "member role trust")
	if r := got["member role trust"]; !strings.Contains(r.Detail, "arn:aws:iam::999999999999:root") {
		t.Errorf("the principal is not named: %+v", r)
	}
	updateStackSet(synthesized)

	if _, err := events.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String(statemachine.ScheduleRuleName)}); err != nil {
		t.Fatal(err)
	}
	aborted, err := states.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Name: aws.String("daily-2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := states.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aborted.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("schedule disabled, a run aborted", code, got, "daily schedule", "recent runs")
	if r := got["recent runs"]; !strings.Contains(r.Detail, "daily-2 ABORTED") {
		t.Errorf("the aborted run is not named: %+v", r)
	}
	if _, err := events.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String(statemachine.ScheduleRuleName)}); err != nil {
		t.Fatal(err)
	}

	if _, err := organizations.NewFromConfig(cfg).DisableAWSServiceAccess(ctx, &organizations.DisableAWSServiceAccessInput{
		ServicePrincipal: aws.String(preflight.StackSetsPrincipal)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("trusted access disabled", code, got, "recent runs", "StackSets trusted access")

	prod, _ := sb.AccountID("prod")
	post(t, sb.URL+"/keyrotator/stack-instance-failed", map[string]string{"accountId": prod, "statusReason": sandbox.RoleTakenReason(sb.Seeded.Settings.Rotator.MemberRoleName)})
	code, got = run("--users", "1000")
	expect("role name taken in prod", code, got, "recent runs", "StackSets trusted access", "member role StackSet")
	if r := got["member role StackSet"]; !strings.Contains(r.Detail, prod) || !strings.Contains(r.Fix, "delete or rename it") {
		t.Errorf("the failed instance is not named, or the taken role's fix not given: %+v", r)
	}

	if _, err := sesv2.NewFromConfig(cfg).DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("sender deleted", code, got, "recent runs", "StackSets trusted access", "member role StackSet", "SES sender verified")

	post(t, sb.URL+"/keyrotator/ses-sandbox", map[string]int{"maxSendRate": 1})
	code, got = run("--users", "1000")
	// In the sandbox SES sends 200 a day: 1,000 users' worst day does not fit either.
	expect("SES sandbox", code, got, "recent runs", "StackSets trusted access", "member role StackSet", "SES sender verified", "SES production access", "SES daily quota")
}

// post sends body as JSON to one of the stand-in's own endpoints.
func post(t *testing.T, url string, body any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
