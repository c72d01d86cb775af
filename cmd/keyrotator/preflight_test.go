package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
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

// TestPreflightOnTheStandIn runs the command against the stand-in over the wire, on two
// organizations, each in a stand-in of its own: the demo organization, where every check passes
// once seeded, then each cause is brought about through the API (or the stand-in's own
// endpoints) and exactly its check fails, with its fix, and exit status 1, and then each is
// fixed as the fix says and its check passes again; and an organization of consolidated billing
// only, which the demo cannot be. Every check is seen failing once and passing once (the test
// fails on a check that was not, every check of pkg/preflight's sources included, so that a
// new check comes with its two steps):
//
//	check                              fails when                                  passes again when
//	SES production access              SES sandbox                                 PutAccountDetails ProductionAccessEnabled
//	SES sending enabled                PutAccountSendingAttributes false           ... true
//	SES sender verified                the sender's identity deleted               CreateEmailIdentity
//	SES daily quota                    20,000 users; the sandbox's 200 a day       1,000 users; production access
//	SES bounce suppression             the account suppresses complaints only      BOUNCE and COMPLAINT
//	Organizations all features         consolidated billing                        EnableAllFeatures, AcceptHandshake
//	StackSets trusted access           consolidated billing; DisableAWSServiceAccess  EnableAWSServiceAccess
//	StackSets delegated administrator  --stackset-admin-account not registered     RegisterDelegatedAdministrator
//	exclusions                         an excluded account or OU that is none      the seeded exclusions
//	daily run: cost and duration       a day's work or more at mapConcurrency 1    --map-concurrency 2
//	member role StackSet               the role's name taken in prod               the role deleted, UpdateStackInstances
//	daily schedule                     DisableRule                                 EnableRule
//	member role trust                  the StackSet's role trusts another account  the synthesized template again
//	hand-off key policy                the account may use the key                 the stack's key policy again
//	recent runs                        a run aborted                               deployed, one run under way
func TestPreflightOnTheStandIn(t *testing.T) {
	seen := map[string]map[preflight.Verdict]bool{}
	ran := 0
	t.Run("demo organization", func(t *testing.T) { ran++; preflightOnTheDemo(t, seen) })
	t.Run("consolidated billing", func(t *testing.T) { ran++; preflightOnConsolidatedBilling(t, seen) })
	if ran < 2 || t.Failed() {
		return // a subtest left out (-run) or failed: what it would have seen is not known
	}
	// Every check pkg/preflight has (each names itself: const name = "..."), also one that
	// only some flags run.
	files, err := filepath.Glob("../../pkg/preflight/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("pkg/preflight's sources: %v", err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`const name = "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
			if seen[m[1]] == nil && !strings.HasSuffix(file, "_test.go") {
				seen[m[1]] = map[preflight.Verdict]bool{}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(seen)) {
		if !seen[name][preflight.Fail] || !seen[name][preflight.Pass] {
			t.Errorf("the check %q was seen %v: show it failing for its cause and passing once fixed", name, seen[name])
		}
	}
}

// preflightOn returns run, which runs preflight --json against the stand-in at url with the
// extra flags, records each verdict in seen and gives the exit status and the results by
// check; expect, which asserts that exactly the checks named in failing fail, those in untold
// cannot tell and the others pass, and that the exit status says whether one failed; and
// untold.
func preflightOn(t *testing.T, url string, seen map[string]map[preflight.Verdict]bool) (
	run func(extra ...string) (int, map[string]preflight.Result),
	expect func(step string, code int, got map[string]preflight.Result, failing ...string),
	untold map[string]bool) {
	untold = map[string]bool{}
	run = func(extra ...string) (int, map[string]preflight.Result) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := dispatch(append([]string{"preflight", "--endpoint", url, "--json"}, extra...), nil, &stdout, &stderr)
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
			if seen[r.Check] == nil {
				seen[r.Check] = map[preflight.Verdict]bool{}
			}
			seen[r.Check][r.Verdict] = true
		}
		if doc.Failed != (code == 1) {
			t.Errorf("exit %d with failed=%v", code, doc.Failed)
		}
		return code, byName
	}
	expect = func(step string, code int, got map[string]preflight.Result, failing ...string) {
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
	return run, expect, untold
}

func preflightOnTheDemo(t *testing.T, seen map[string]map[preflight.Verdict]bool) {
	sb := sandboxtest.NewFile(t, "../../sandbox/scenarios/demo.json")
	ctx := context.Background()
	cfg := sb.Config()
	sender := sb.Seeded.Settings.Rotator.SenderEmail
	run, expect, untold := preflightOn(t, sb.URL, seen)

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
	ses := sesv2.NewFromConfig(cfg)
	if _, err := ses.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("the account suppresses complaints only", code, got, "SES bounce suppression")
	if r := got["SES bounce suppression"]; !strings.Contains(r.Fix, "put-account-suppression-attributes") {
		t.Errorf("no fix named: %+v", r)
	}
	if _, err := ses.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	// The account pauses its own sending (the SDK sends no SendingEnabled for false).
	if _, err := ses.PutAccountSendingAttributes(ctx, &sesv2.PutAccountSendingAttributesInput{SendingEnabled: false}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("sending paused", code, got, "SES sending enabled")
	if r := got["SES sending enabled"]; !strings.Contains(r.Fix, "put-account-sending-attributes --sending-enabled") {
		t.Errorf("no fix named: %+v", r)
	}
	if _, err := ses.PutAccountSendingAttributes(ctx, &sesv2.PutAccountSendingAttributesInput{SendingEnabled: true}); err != nil {
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
	clear(untold)
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

	// The StackSet administered from a delegated administrator (staging), not registered as
	// one; then registered.
	staging, _ := sb.AccountID("staging")
	orgs := organizations.NewFromConfig(cfg)
	code, got = run("--users", "1000", "--stackset-admin-account", staging)
	expect("staging administers the StackSet, not a delegated administrator", code, got, "recent runs", "StackSets delegated administrator")
	if r := got["StackSets delegated administrator"]; !strings.Contains(r.Fix, "register-delegated-administrator --account-id "+staging) {
		t.Errorf("no fix named: %+v", r)
	}
	if _, err := orgs.RegisterDelegatedAdministrator(ctx, &organizations.RegisterDelegatedAdministratorInput{
		AccountId: aws.String(staging), ServicePrincipal: aws.String(preflight.StackSetsPrincipal)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000", "--stackset-admin-account", staging)
	expect("staging a delegated administrator", code, got, "recent runs")

	if _, err := orgs.DisableAWSServiceAccess(ctx, &organizations.DisableAWSServiceAccessInput{
		ServicePrincipal: aws.String(preflight.StackSetsPrincipal)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("trusted access disabled", code, got, "recent runs", "StackSets trusted access")
	// A delegated administrator does not stand in for trusted access: without it StackSets
	// deploys for no one ("trusted access ... must be activated before delegated
	// administrators can deploy", CloudFormation user guide).
	code, got = run("--users", "1000", "--stackset-admin-account", staging)
	expect("trusted access disabled, staging a delegated administrator", code, got, "recent runs", "StackSets trusted access")

	prod, _ := sb.AccountID("prod")
	memberRole := sb.Seeded.Settings.Rotator.MemberRoleName
	roots, err := orgs.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	post(t, sb.URL+"/keyrotator/stack-instance-failed", map[string]string{"accountId": prod, "statusReason": sandbox.RoleTakenReason(memberRole)})
	code, got = run("--users", "1000")
	expect("role name taken in prod", code, got, "recent runs", "StackSets trusted access", "member role StackSet")
	// The taken role goes first, then the retry, which for a service-managed StackSet names
	// the OUs and the regions (UpdateStackInstances: CloudFormation API reference).
	if r := got["member role StackSet"]; !strings.Contains(r.Detail, prod) || !strings.Contains(r.Fix, "delete or rename it") ||
		!strings.Contains(r.Fix, "--deployment-targets OrganizationalUnitIds="+aws.ToString(roots.Roots[0].Id)+" --regions "+sandbox.Region) ||
		strings.Index(r.Fix, "delete or rename it") > strings.Index(r.Fix, "update-stack-instances") {
		t.Errorf("the failed instance is not named, or the taken role's fix and then the retry not given: %+v", r)
	}

	if _, err := ses.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("sender deleted", code, got, "recent runs", "StackSets trusted access", "member role StackSet", "SES sender verified")

	post(t, sb.URL+"/keyrotator/ses-sandbox", map[string]int{"maxSendRate": 1})
	code, got = run("--users", "1000")
	// In the sandbox SES sends 200 a day: 1,000 users' worst day does not fit either.
	expect("SES sandbox", code, got, "recent runs", "StackSets trusted access", "member role StackSet", "SES sender verified", "SES production access", "SES daily quota")

	// Each fixed as its fix says.
	if _, err := orgs.EnableAWSServiceAccess(ctx, &organizations.EnableAWSServiceAccessInput{
		ServicePrincipal: aws.String(preflight.StackSetsPrincipal)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("trusted access enabled again", code, got, "recent runs", "member role StackSet", "SES sender verified", "SES production access", "SES daily quota")

	// The failed instance retried while the role that took its name is still in prod: it
	// fails again; once that role is deleted, it succeeds.
	retry := func() {
		t.Helper()
		if _, err := stackSets.UpdateStackInstances(ctx, &cloudformation.UpdateStackInstancesInput{StackSetName: aws.String(statemachine.MemberStackSetName),
			Regions: []string{sandbox.Region}, DeploymentTargets: &cfntypes.DeploymentTargets{OrganizationalUnitIds: []string{aws.ToString(roots.Roots[0].Id)}}}); err != nil {
			t.Fatal(err)
		}
	}
	retry()
	code, got = run("--users", "1000")
	expect("the instance retried, the role still there", code, got, "recent runs", "member role StackSet", "SES sender verified", "SES production access", "SES daily quota")
	deleteRole(ctx, t, sb, "prod", memberRole)
	retry()
	code, got = run("--users", "1000")
	expect("the role deleted, the instance retried", code, got, "recent runs", "SES sender verified", "SES production access", "SES daily quota")

	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("sender verified again", code, got, "recent runs", "SES production access", "SES daily quota")

	if _, err := ses.PutAccountDetails(ctx, &sesv2.PutAccountDetailsInput{MailType: sestypes.MailTypeTransactional,
		WebsiteURL: aws.String("https://example.com"), ProductionAccessEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "1000")
	expect("production access granted", code, got, "recent runs")
}

// deleteRole deletes the role name in the account named account, its policies first, as IAM
// requires.
func deleteRole(ctx context.Context, t *testing.T, sb *sandboxtest.Sandbox, account, name string) {
	t.Helper()
	client, err := sb.IAM(account)
	if err != nil {
		t.Fatal(err)
	}
	inline, err := client.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range inline.PolicyNames {
		if _, err := client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p)}); err != nil {
			t.Fatal(err)
		}
	}
	attached, err := client.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range attached.AttachedPolicies {
		if _, err := client.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: p.PolicyArn}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// preflightOnConsolidatedBilling: an organization of consolidated billing only, which
// cannot give StackSets trusted access until it has all features, and no StackSet yet; then
// so many accounts that a run at mapConcurrency 1 takes a day.
func preflightOnConsolidatedBilling(t *testing.T, seen map[string]map[preflight.Verdict]bool) {
	sb := sandboxtest.New(t, &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"},
		MemberRole: "provisioning-admin", SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		ConsolidatedBilling: true, Accounts: []sandbox.Account{{Name: "workloads"}}})
	ctx := context.Background()
	orgs := organizations.NewFromConfig(sb.Config())
	run, expect, untold := preflightOn(t, sb.URL, seen)
	// Not deployed: no StackSet (it needs all features and trusted access), no stack.
	for _, name := range []string{"member role StackSet", "member role trust", "daily schedule", "recent runs", "hand-off key policy"} {
		untold[name] = true
	}
	code, got := run("--users", "10")
	expect("consolidated billing", code, got, "Organizations all features", "StackSets trusted access")
	// The change ends only when the management account accepts the APPROVE_ALL_FEATURES
	// handshake (EnableAllFeatures, AcceptHandshake: Organizations API reference).
	if r := got["Organizations all features"]; !strings.Contains(r.Detail, "CONSOLIDATED_BILLING") || !strings.Contains(r.Fix, "enable-all-features") ||
		!strings.Contains(r.Fix, "accept-handshake") {
		t.Errorf("the feature set is not named, or the fix not given to its end: %+v", r)
	}
	enableTrustedAccess := func() error {
		_, err := orgs.EnableAWSServiceAccess(ctx, &organizations.EnableAWSServiceAccessInput{ServicePrincipal: aws.String(preflight.StackSetsPrincipal)})
		return err
	}
	var notAllFeatures *orgtypes.ConstraintViolationException
	if err := enableTrustedAccess(); !errors.As(err, &notAllFeatures) {
		t.Fatalf("trusted access given without all features: %v", err)
	}

	// All features: requested, then, approval of the created accounts being inferred, the
	// management account accepts the final confirmation.
	if _, err := orgs.EnableAllFeatures(ctx, &organizations.EnableAllFeaturesInput{}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "10")
	expect("all features requested, not accepted", code, got, "Organizations all features", "StackSets trusted access")
	handshakes, err := orgs.ListHandshakesForAccount(ctx, &organizations.ListHandshakesForAccountInput{
		Filter: &orgtypes.HandshakeFilter{ActionType: orgtypes.ActionTypeApproveAllFeatures}})
	if err != nil {
		t.Fatal(err)
	}
	if len(handshakes.Handshakes) != 1 {
		t.Fatalf("handshakes %+v, want the one to approve all features", handshakes.Handshakes)
	}
	if _, err := orgs.AcceptHandshake(ctx, &organizations.AcceptHandshakeInput{HandshakeId: handshakes.Handshakes[0].Id}); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "10")
	expect("all features", code, got, "StackSets trusted access")
	if err := enableTrustedAccess(); err != nil {
		t.Fatal(err)
	}
	code, got = run("--users", "10")
	expect("trusted access", code, got)

	// As many accounts as a run at mapConcurrency 1 takes a day for, at the time per account
	// bench-scale measured (the estimate's own figure): the estimate counts the organization's
	// own accounts. Without the exclusion tag (none), as preflight reads every account's tag
	// with a call of its own, which the stand-in answers in time proportional to the
	// organization (30,000 accounts: two minutes a run, not seven seconds).
	m, err := estimate.Last()
	if err != nil {
		t.Fatal(err)
	}
	perAccount := m.ExecutionSeconds * float64(m.AccountConcurrency) / float64(m.Accounts)
	day := int(math.Ceil(86400/perAccount)) + 1
	post(t, sb.URL+"/keyrotator/accounts", map[string]any{"count": day - len(sb.Seeded.Settings.Accounts), "namePrefix": "bulk"})
	code, got = run("--users", "10", "--exclude-account-tag", "none", "--map-concurrency", "1")
	expect(fmt.Sprintf("%d accounts at mapConcurrency 1", day), code, got, "daily run: cost and duration")
	if r := got["daily run: cost and duration"]; !strings.Contains(r.Detail, fmt.Sprintf("%d accounts and 10 users", day)) || !strings.Contains(r.Fix, "raise mapConcurrency") {
		t.Errorf("the organization's accounts are not counted, or no fix given: %+v", r)
	}
	code, got = run("--users", "10", "--exclude-account-tag", "none", "--map-concurrency", "2")
	expect(fmt.Sprintf("%d accounts at mapConcurrency 2", day), code, got)
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
