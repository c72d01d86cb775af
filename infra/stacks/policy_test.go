package stacks

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// policyDocuments returns every policy document of a template, named by where it is:
// identity policies, role trust and inline policies, KMS key policies, bucket and topic
// policies, and the templates that StackSets deploy.
func policyDocuments(t *testing.T, template map[string]any) map[string]any {
	t.Helper()
	docs := map[string]any{}
	for id, r := range template["Resources"].(map[string]any) {
		res := r.(map[string]any)
		p := props(res)
		switch res["Type"] {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy":
			docs[id] = p["PolicyDocument"]
		case "AWS::KMS::Key":
			docs[id] = p["KeyPolicy"]
		case "AWS::IAM::Role":
			docs[id+" trust"] = p["AssumeRolePolicyDocument"]
			for _, inline := range asList(p["Policies"]) {
				policy := inline.(map[string]any)
				docs[fmt.Sprintf("%s inline %v", id, policy["PolicyName"])] = policy["PolicyDocument"]
			}
		case "AWS::CloudFormation::StackSet":
			var body map[string]any
			if err := json.Unmarshal([]byte(p["TemplateBody"].(string)), &body); err != nil {
				t.Fatalf("%s TemplateBody: %v", id, err)
			}
			for name, doc := range policyDocuments(t, body) {
				docs[id+" template "+name] = doc
			}
		}
	}
	return docs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// No policy anywhere allows a wildcard action. The only Deny statements are the
// TLS-only ones, where s3:* is what denies every request without TLS.
func TestNoWildcardActions(t *testing.T) {
	statementsSeen := 0
	for stackID, template := range defaultApp(t).templates {
		for where, doc := range policyDocuments(t, template) {
			for _, s := range statements(doc) {
				statementsSeen++
				if s["NotAction"] != nil || s["NotResource"] != nil || s["NotPrincipal"] != nil {
					t.Errorf("%s %s: Not* element in %v", stackID, where, s)
				}
				if s["Effect"] == "Deny" {
					if mustJSON(s["Condition"]) != `{"Bool":{"aws:SecureTransport":"false"}}` {
						t.Errorf("%s %s: unexpected Deny %v", stackID, where, s)
					}
					continue
				}
				for _, action := range strs(s["Action"]) {
					if strings.Contains(action, "*") {
						t.Errorf("%s %s: wildcard action %q", stackID, where, action)
					}
				}
				if principal, ok := s["Principal"].(map[string]any); ok && resolve(principal["AWS"]) == "*" {
					t.Errorf("%s %s: allows any principal: %v", stackID, where, s)
				}
			}
		}
	}
	if statementsSeen < 40 {
		t.Errorf("walked only %d statements: the walk misses policies", statementsSeen)
	}
}

// rolePermissions maps each allowed action of a role's policies to its resources.
func rolePermissions(t *testing.T, template map[string]any, roleID string) map[string][]string {
	t.Helper()
	var stmts []map[string]any
	for _, r := range resources(template, "AWS::IAM::Policy") {
		for _, role := range asList(props(r)["Roles"]) {
			if resolve(role) == "<"+roleID+">" {
				stmts = append(stmts, statements(props(r)["PolicyDocument"])...)
			}
		}
	}
	return permissions(stmts)
}

func TestRolePermissions(t *testing.T) {
	const (
		runs     = "<ReportBucket.Arn>/runs/*"
		reports  = "<ReportBucket.Arn>/reports/*"
		leases   = "<ReportBucket.Arn>/leases/*"
		holds    = "<ReportBucket.Arn>/holds.json"
		slots    = "<ReportBucket.Arn>/send-slots/*"
		secrets  = "arn:aws:secretsmanager:<AWS::Region>:222222222222:secret:iam-access-key-rotator/handoff/*"
		tagKey   = "arn:aws:secretsmanager:<AWS::Region>:222222222222:secret:iam-access-key-rotator/tag-key-??????"
		configSt = "arn:aws:ses:<AWS::Region>:222222222222:configuration-set/<ConfigurationSet>"
		address  = "arn:aws:ses:<AWS::Region>:222222222222:identity/iam-key-rotator@example.com"
		domain   = "arn:aws:ses:<AWS::Region>:222222222222:identity/example.com"
	)
	logsAndTraces := func(logGroup string) map[string][]string {
		return map[string][]string{
			"logs:CreateLogStream": {logGroup}, "logs:PutLogEvents": {logGroup},
			"xray:PutTraceSegments": {"*"}, "xray:PutTelemetryRecords": {"*"},
		}
	}
	with := func(base map[string][]string, more map[string][]string) map[string][]string {
		for k, v := range more {
			base[k] = sorted(v)
		}
		return base
	}
	sendEmail := map[string][]string{"ses:SendEmail": {configSt, address, domain}, "ses:SendRawEmail": {configSt, address, domain}}
	tests := []struct {
		role string
		want map[string][]string
	}{
		{"ListAccountsRole", with(logsAndTraces("<ListAccountsLogs.Arn>"), map[string][]string{
			"sts:AssumeRole":          {"arn:aws:iam::111111111111:role/iam-access-key-rotator-management"},
			"s3:PutObject":            {holds, runs},
			"s3:GetObject":            {holds},
			"s3:ListBucket":           {"<ReportBucket.Arn>"},
			"ses:GetAccount":          {"*"},
			"ses:GetConfigurationSet": {configSt},
		})},
		{"ScanAndRotateRole", with(logsAndTraces("<ScanAndRotateLogs.Arn>"), map[string][]string{
			"sts:AssumeRole":                {"arn:aws:iam::*:role/provisioning-admin", "arn:aws:iam::111111111111:role/iam-access-key-rotator-tag-reader"},
			"secretsmanager:CreateSecret":   {secrets},
			"secretsmanager:TagResource":    {secrets},
			"secretsmanager:DeleteSecret":   {secrets},
			"secretsmanager:RestoreSecret":  {secrets},
			"secretsmanager:ListSecrets":    {"*"},
			"secretsmanager:GetSecretValue": {tagKey},
			"ses:GetSuppressedDestination":  {"*"},
			"kms:GenerateDataKey":           {"<HandoffKey.Arn>"},
			"kms:Decrypt":                   {"<HandoffKey.Arn>"},
			"s3:PutObject":                  {runs, leases},
			"s3:GetObject":                  {holds, leases},
			"s3:DeleteObject":               {leases},
			"s3:ListBucket":                 {"<ReportBucket.Arn>"},
		})},
		{"NotifyUserRole", with(with(logsAndTraces("<NotifyUserLogs.Arn>"), map[string][]string{
			"secretsmanager:GetSecretValue": {secrets, tagKey},
			"secretsmanager:DescribeSecret": {secrets},
			"secretsmanager:DeleteSecret":   {secrets},
			"secretsmanager:TagResource":    {secrets},
			"kms:Decrypt":                   {"<HandoffKey.Arn>"},
			"sts:AssumeRole":                {"arn:aws:iam::*:role/provisioning-admin-notify"},
			"s3:PutObject":                  {slots},
		}), sendEmail)},
		{"CleanupReportRole", with(with(logsAndTraces("<CleanupReportLogs.Arn>"), map[string][]string{
			"s3:ListBucket":       {"<ReportBucket.Arn>"},
			"s3:GetObject":        {holds, reports, runs},
			"s3:PutObject":        {"<ReportBucket.Arn>/canary.json", reports, runs, slots},
			"sns:Publish":         {"<FailureTopic>"},
			"kms:GenerateDataKey": {"<TopicKey.Arn>"},
			"kms:Decrypt":         {"<TopicKey.Arn>"},
		}), sendEmail)},
		{"StateMachineRole", map[string][]string{
			"lambda:InvokeFunction": {
				"<CleanupReportFunction.Arn>", "<CleanupReportFunction.Arn>:*", "<ListAccountsFunction.Arn>", "<ListAccountsFunction.Arn>:*",
				"<NotifyUserFunction.Arn>", "<NotifyUserFunction.Arn>:*", "<ScanAndRotateFunction.Arn>", "<ScanAndRotateFunction.Arn>:*",
			},
			"sns:Publish":                 {"<FailureTopic>"},
			"kms:GenerateDataKey":         {"<TopicKey.Arn>"},
			"kms:Decrypt":                 {"<TopicKey.Arn>"},
			"s3:GetObject":                {runs},
			"s3:PutObject":                {runs},
			"s3:ListMultipartUploadParts": {runs},
			"s3:AbortMultipartUpload":     {runs},
			"states:StartExecution":       {"arn:aws:states:<AWS::Region>:222222222222:stateMachine:iam-access-key-rotator"},
			"states:DescribeExecution":    {"arn:aws:states:<AWS::Region>:222222222222:execution:iam-access-key-rotator/*", "arn:aws:states:<AWS::Region>:222222222222:execution:iam-access-key-rotator:*"},
			"states:StopExecution":        {"arn:aws:states:<AWS::Region>:222222222222:execution:iam-access-key-rotator/*", "arn:aws:states:<AWS::Region>:222222222222:execution:iam-access-key-rotator:*"},
			"logs:CreateLogDelivery":      {"*"}, "logs:GetLogDelivery": {"*"}, "logs:UpdateLogDelivery": {"*"},
			"logs:DeleteLogDelivery": {"*"}, "logs:ListLogDeliveries": {"*"}, "logs:PutResourcePolicy": {"*"},
			"logs:DescribeResourcePolicies": {"*"}, "logs:DescribeLogGroups": {"*"},
			"xray:PutTraceSegments": {"*"}, "xray:PutTelemetryRecords": {"*"}, "xray:GetSamplingRules": {"*"}, "xray:GetSamplingTargets": {"*"},
		}},
		{"StateMachineEventsRole", map[string][]string{"states:StartExecution": {"<StateMachine>"}}},
	}
	tmpl := defaultApp(t).templates[RotatorStackID]
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			got := rolePermissions(t, tmpl, tt.role)
			for action := range tt.want {
				tt.want[action] = sorted(tt.want[action])
			}
			if !reflect.DeepEqual(got, tt.want) {
				for action := range mergeKeys(got, tt.want) {
					if !reflect.DeepEqual(got[action], tt.want[action]) {
						t.Errorf("%s: got %v, want %v", action, got[action], tt.want[action])
					}
				}
			}
		})
	}
}

func mergeKeys(a, b map[string][]string) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// conditionOf returns the condition of the role's statement that allows action.
func conditionOf(t *testing.T, template map[string]any, roleID, action string) string {
	t.Helper()
	for _, r := range resources(template, "AWS::IAM::Policy") {
		if resolve(props(r)["Roles"]) != "<"+roleID+">" {
			continue
		}
		for _, s := range statements(props(r)["PolicyDocument"]) {
			for _, a := range strs(s["Action"]) {
				if a == action {
					return resolveJSON(s["Condition"])
				}
			}
		}
	}
	t.Fatalf("%s has no statement allowing %s", roleID, action)
	return ""
}

// resolveJSON renders a condition block as JSON with its intrinsic values resolved.
func resolveJSON(v any) string { return mustJSON(resolveTree(v)) }

func resolveTree(v any) any {
	switch list := v.(type) {
	case []any:
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = resolveTree(item)
		}
		return out
	case []map[string]any:
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = resolveTree(item)
		}
		return out
	}
	x, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for _, intrinsic := range []string{"Fn::Join", "Fn::GetAtt", "Fn::Sub", "Ref"} {
		if _, is := x[intrinsic]; is {
			return resolve(x)
		}
	}
	out := map[string]any{}
	for k, inner := range x {
		out[k] = resolveTree(inner)
	}
	return out
}

func TestConditions(t *testing.T) {
	tests := []struct{ role, action, want string }{
		{"ScanAndRotateRole", "sts:AssumeRole", `{"StringEquals":{"aws:ResourceOrgID":"o-exampleorg1"}}`},
		{"ScanAndRotateRole", "secretsmanager:CreateSecret", `{"StringEquals":{"secretsmanager:KmsKeyArn":"<HandoffKey.Arn>"}}`},
		{"NotifyUserRole", "sts:AssumeRole", `{"StringEquals":{"aws:ResourceOrgID":"o-exampleorg1"}}`},
		{"NotifyUserRole", "secretsmanager:TagResource", `{"ForAllValues:StringEquals":{"aws:TagKeys":["key-rotator:sent"]}}`},
		{"NotifyUserRole", "ses:SendEmail", `{"StringEquals":{"ses:FromAddress":"iam-key-rotator@example.com"}}`},
		{"CleanupReportRole", "ses:SendRawEmail", `{"StringEquals":{"ses:FromAddress":"iam-key-rotator@example.com"}}`},
		{"ListAccountsRole", "s3:ListBucket", `{"StringEquals":{"s3:prefix":["canary.json","holds.json"]}}`},
		{"ScanAndRotateRole", "s3:ListBucket", `{"StringEquals":{"s3:prefix":"holds.json"}}`},
	}
	tmpl := defaultApp(t).templates[RotatorStackID]
	for _, tt := range tests {
		t.Run(tt.role+" "+tt.action, func(t *testing.T) {
			if got := conditionOf(t, tmpl, tt.role, tt.action); got != tt.want {
				t.Errorf("condition %s, want %s", got, tt.want)
			}
		})
	}
}

// TestConfiguredSendRate: with sesMaxSendRate set, ListAccounts gets it; it still reads
// GetAccount, for the account's suppression settings (pkg/suppression), once per run.
func TestConfiguredSendRate(t *testing.T) {
	tmpl := build(t, map[string]any{"sesMaxSendRate": "5"}).templates[RotatorStackID]
	if got := rolePermissions(t, tmpl, "ListAccountsRole"); !reflect.DeepEqual(got["ses:GetAccount"], []string{"*"}) {
		t.Errorf("ses:GetAccount with the rate configured: %v, want * (the suppression settings)", got["ses:GetAccount"])
	}
	for id, r := range resources(tmpl, "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if strings.HasPrefix(id, "ListAccountsFunction") && resolve(vars["SES_MAX_SEND_RATE"]) != "5" {
			t.Errorf("%s: SES_MAX_SEND_RATE = %v, want 5", id, vars["SES_MAX_SEND_RATE"])
		}
	}
}

// TestGitHubAppSecretIsReadByScanAndNotifyOnly: with GitHub delivery configured, ScanAndRotate
// (the opt-in check before a key is made) and NotifyUser (the write) may read the App's
// secret, that secret alone, and no other role may; cdk-nag stays clean.
func TestGitHubAppSecretIsReadByScanAndNotifyOnly(t *testing.T) {
	const app = "arn:aws:secretsmanager:us-east-1:222222222222:secret:key-rotator/github-app-AbCdEf"
	b := build(t, map[string]any{"githubAppSecretArn": app, "allowedGitHubOwners": "example-org"})
	tmpl := b.templates[RotatorStackID]
	for _, role := range []string{"ListAccountsRole", "ScanAndRotateRole", "NotifyUserRole", "CleanupReportRole", "StateMachineRole"} {
		got := rolePermissions(t, tmpl, role)["secretsmanager:GetSecretValue"]
		want := role == "ScanAndRotateRole" || role == "NotifyUserRole"
		if slices.Contains(got, app) != want {
			t.Errorf("%s: GetSecretValue on %v, want the App's secret %v", role, got, want)
		}
	}
	errs, warnings := nagFindings(b.stacks.Rotator.Stack)
	for _, e := range append(errs, warnings...) {
		t.Errorf("cdk-nag: %s", e)
	}
}

// TestSecurityHubFindingsGrant: with securityHubFindings, CleanupReport may import findings
// under the rotator account's default product only (no wildcard) and read and write the one
// object that keeps the open findings, and gets the setting; without it, neither. The stack
// stays cdk-nag clean either way.
func TestSecurityHubFindingsGrant(t *testing.T) {
	const product = "arn:aws:securityhub:<AWS::Region>:222222222222:product/222222222222/default"
	b := build(t, map[string]any{"securityHubFindings": "true"})
	got := rolePermissions(t, b.templates[RotatorStackID], "CleanupReportRole")
	if !reflect.DeepEqual(got["securityhub:BatchImportFindings"], []string{product}) {
		t.Errorf("securityhub:BatchImportFindings on %v, want %s", got["securityhub:BatchImportFindings"], product)
	}
	for action, on := range got {
		if strings.HasPrefix(action, "securityhub:") && action != "securityhub:BatchImportFindings" {
			t.Errorf("CleanupReport may also %s on %v", action, on)
		}
	}
	for _, action := range []string{"s3:GetObject", "s3:PutObject"} {
		if !slices.Contains(got[action], "<ReportBucket.Arn>/findings.json") {
			t.Errorf("%s on %v, want also <ReportBucket.Arn>/findings.json", action, got[action])
		}
	}
	for id, r := range resources(b.templates[RotatorStackID], "AWS::Lambda::Function") {
		vars := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if strings.HasPrefix(id, "CleanupReportFunction") && resolve(vars["SECURITY_HUB_FINDINGS"]) != "true" {
			t.Errorf("%s: SECURITY_HUB_FINDINGS = %v, want true", id, vars["SECURITY_HUB_FINDINGS"])
		}
	}
	errs, warnings := nagFindings(b.stacks.Rotator.Stack)
	for _, e := range append(errs, warnings...) {
		t.Errorf("cdk-nag with securityHubFindings: %s", e)
	}
	if def := rolePermissions(t, defaultApp(t).templates[RotatorStackID], "CleanupReportRole"); def["securityhub:BatchImportFindings"] != nil {
		t.Errorf("without the setting CleanupReport may still import findings: %v", def["securityhub:BatchImportFindings"])
	}
}
