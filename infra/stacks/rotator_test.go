package stacks

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

func TestFunctions(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	byName := map[string]map[string]any{}
	for _, r := range resources(tmpl, "AWS::Lambda::Function") {
		byName[props(r)["FunctionName"].(string)] = props(r)
	}
	if len(byName) != len(contract.Functions) {
		t.Fatalf("%d functions, want %d", len(byName), len(contract.Functions))
	}
	wantTimeout := map[contract.Function]float64{
		contract.ListAccounts: 900, contract.ScanAndRotate: 900, contract.NotifyUser: 120, contract.CleanupReport: 600,
	}
	for _, f := range contract.Functions {
		t.Run(string(f), func(t *testing.T) {
			p, ok := byName[f.FunctionName()]
			if !ok {
				t.Fatalf("no function %s", f.FunctionName())
			}
			checks := map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"Timeout":       wantTimeout[f],
				"TracingConfig": map[string]any{"Mode": "Active"},
			}
			for key, want := range checks {
				if !reflect.DeepEqual(p[key], want) {
					t.Errorf("%s = %v, want %v", key, p[key], want)
				}
			}
			logging := p["LoggingConfig"].(map[string]any)
			if logging["LogFormat"] != "JSON" || !strings.HasPrefix(resolve(logging["LogGroup"]), "<"+functionConstructID(f)+"Logs>") {
				t.Errorf("LoggingConfig = %v, want JSON into its own log group", logging)
			}
			vars := p["Environment"].(map[string]any)["Variables"].(map[string]any)
			var got, want []string
			for name := range vars {
				got = append(got, name)
			}
			for _, v := range contract.FunctionEnv[f] {
				want = append(want, string(v))
			}
			if sort.Strings(got); !reflect.DeepEqual(got, sorted(want)) {
				t.Errorf("environment %v, want exactly %v", got, sorted(want))
			}
		})
	}
}

func TestFunctionEnvironmentValues(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	env := map[string]string{}
	for _, r := range resources(tmpl, "AWS::Lambda::Function") {
		for name, v := range props(r)["Environment"].(map[string]any)["Variables"].(map[string]any) {
			env[name] = resolve(v)
			if name == "PARTITION" && mustJSON(v) != `{"Ref":"AWS::Partition"}` {
				t.Errorf("PARTITION = %s, want the deployment's AWS::Partition", mustJSON(v))
			}
		}
	}
	// What the stack sets from its resources; the others are cdk.json's context as the
	// Lambdas read it (config.Settings.Environ of the app's configuration, "" when unset).
	want := map[string]string{
		"MANAGEMENT_ROLE_ARN":   "arn:aws:iam::111111111111:role/iam-access-key-rotator-management",
		"REPORT_BUCKET":         "<ReportBucket>",
		"HANDOFF_SECRET_PREFIX": "iam-access-key-rotator/handoff/",
		"HANDOFF_KMS_KEY_ID":    "<HandoffKey.Arn>",
		"SES_CONFIGURATION_SET": "<ConfigurationSet>",
		"FAILURE_TOPIC_ARN":     "<FailureTopic>",
		"PARTITION":             "aws",
		"TAG_KEY_SECRET_ARN":    "<TagKey>",
		"TAG_READER_ROLE_ARN":   "arn:aws:iam::111111111111:role/iam-access-key-rotator-tag-reader",
	}
	fromContext := testConfig(t, nil).Environ()
	for _, s := range config.Table {
		if s.Key != "" && s.Variable != "" {
			want[s.Variable] = fromContext[s.Variable]
		}
	}
	if want["LIMIT_DAYS"] != "90" || want["ALLOWED_EMAIL_DOMAINS"] != "example.com" || want["SES_MAX_SEND_RATE"] != "" {
		t.Errorf("cdk.json's context as the Lambdas read it: %v", want)
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("environment values:\n got %v\nwant %v", env, want)
	}
}

func TestLogGroups(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	var names []string
	for _, r := range resources(tmpl, "AWS::Logs::LogGroup") {
		p := props(r)
		names = append(names, p["LogGroupName"].(string))
		if p["RetentionInDays"] != 365.0 || resolve(p["KmsKeyId"]) != "<LogsKey.Arn>" {
			t.Errorf("log group %v: want 365 days retention and the logs key", p)
		}
	}
	want := []string{"/aws/vendedlogs/states/iam-access-key-rotator"}
	for _, f := range contract.Functions {
		want = append(want, "/aws/lambda/"+f.FunctionName())
	}
	if sort.Strings(names); !reflect.DeepEqual(names, sorted(want)) {
		t.Errorf("log groups %v, want %v", names, sorted(want))
	}
}

func TestStateMachine(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	_, p := only(t, tmpl, "AWS::StepFunctions::StateMachine")
	if p["StateMachineType"] != "STANDARD" || p["StateMachineName"] != StateMachineName {
		t.Errorf("type %v name %v", p["StateMachineType"], p["StateMachineName"])
	}
	logging := p["LoggingConfiguration"].(map[string]any)
	if logging["Level"] != "ALL" || logging["IncludeExecutionData"] != false {
		t.Errorf("LoggingConfiguration = %v, want ALL without execution data", logging)
	}
	if mustJSON(p["TracingConfiguration"]) != `{"Enabled":true}` {
		t.Errorf("TracingConfiguration = %v", p["TracingConfiguration"])
	}
	subs := map[string]string{}
	for name, v := range p["DefinitionSubstitutions"].(map[string]any) {
		subs[name] = resolve(v)
	}
	want := map[string]string{
		"ListAccountsFunctionArn":  "<ListAccountsFunction.Arn>",
		"ScanAndRotateFunctionArn": "<ScanAndRotateFunction.Arn>",
		"NotifyUserFunctionArn":    "<NotifyUserFunction.Arn>",
		"CleanupReportFunctionArn": "<CleanupReportFunction.Arn>",
		"FailureTopicArn":          "<FailureTopic>",
		"ReportBucketName":         "<ReportBucket>",
		"AccountConcurrency":       "10",
		"NotifyConcurrency":        "2",
		"Partition":                "aws",
		"AccountId":                "<AWS::AccountId>",
		"ExecutionConsoleURL":      statemachine.ExecutionConsoleURLPrefix("<ConsoleHosts[aws].host>", "<AWS::Region>"),
	}
	if !reflect.DeepEqual(subs, want) {
		t.Errorf("DefinitionSubstitutions:\n got %v\nwant %v", subs, want)
	}
	// The console's host is the partition's (statemachine.ConsoleHosts), from the mapping.
	hosts := map[string]string{}
	mappings, _ := tmpl["Mappings"].(map[string]any)
	consoleHosts, _ := mappings["ConsoleHosts"].(map[string]any)
	for partition, m := range consoleHosts {
		hosts[partition], _ = m.(map[string]any)["host"].(string)
	}
	if !reflect.DeepEqual(hosts, statemachine.ConsoleHosts) {
		t.Errorf("mapping ConsoleHosts = %v, want statemachine.ConsoleHosts %v", hosts, statemachine.ConsoleHosts)
	}
	// The partition is the deployment's: resolve shows it as "aws", the template must pass
	// the pseudo parameter itself.
	if got := mustJSON(p["DefinitionSubstitutions"].(map[string]any)["Partition"]); got != `{"Ref":"AWS::Partition"}` {
		t.Errorf("DefinitionSubstitutions Partition = %s, want AWS::Partition", got)
	}
	if def := resolve(p["DefinitionString"]); !strings.Contains(def, "${ScanAndRotateFunctionArn}") {
		t.Errorf("DefinitionString is not the fixture with its placeholders: %.200s", def)
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		schedule  string
		input     string
	}{
		{"daily run", nil, "cron(0 13 * * ? *)", `{}`},
		{"first deploy cleanup", map[string]any{"cleanupOnce": true, "schedule": "cron(0 6 * * ? *)"}, "cron(0 6 * * ? *)", `{"cleanup":true,"confirmCleanup":"delete old inactive keys without notice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := defaultApp(t)
			if tt.overrides != nil {
				b = build(t, tt.overrides)
			}
			_, p := only(t, b.templates[RotatorStackID], "AWS::Events::Rule")
			if p["Name"] != ScheduleRuleName || p["ScheduleExpression"] != tt.schedule || p["State"] != "ENABLED" {
				t.Errorf("rule %v", p)
			}
			targets := p["Targets"].([]any)
			target := targets[0].(map[string]any)
			if len(targets) != 1 || resolve(target["Arn"]) != "<StateMachine>" || target["Input"] != tt.input {
				t.Errorf("targets %v, want the state machine with input %s", targets, tt.input)
			}
		})
	}
}

func TestFailureTopic(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	_, topic := only(t, tmpl, "AWS::SNS::Topic")
	if topic["TopicName"] != FailureTopicName || resolve(topic["KmsMasterKeyId"]) != "<TopicKey.Arn>" {
		t.Errorf("topic %v: want its name and the topic key", topic)
	}
	_, sub := only(t, tmpl, "AWS::SNS::Subscription")
	if sub["Protocol"] != "email" || sub["Endpoint"] != "cloud-operators@example.com" || resolve(sub["TopicArn"]) != "<FailureTopic>" {
		t.Errorf("subscription %v", sub)
	}
	_, policy := only(t, tmpl, "AWS::SNS::TopicPolicy")
	if !hasTLSDeny(statements(policy["PolicyDocument"]), "sns:Publish") {
		t.Errorf("topic policy %v has no TLS-only deny", policy)
	}
}

// TestConfigurationSet: NotifyUser's mail goes through a configuration set that requires TLS
// and suppresses bounces and complaints whatever the account's settings (its
// SuppressionOptions override the account's): the rotator confirms a delivery from the
// account-level suppression list, where a bounce lands only for a reason that governs it.
func TestConfigurationSet(t *testing.T) {
	_, p := only(t, defaultApp(t).templates[RotatorStackID], "AWS::SES::ConfigurationSet")
	if p["Name"] != ConfigurationSetName || mustJSON(p["DeliveryOptions"]) != `{"TlsPolicy":"REQUIRE"}` {
		t.Errorf("configuration set %v", p)
	}
	if got := mustJSON(p["SuppressionOptions"]); got != `{"SuppressedReasons":["BOUNCE","COMPLAINT"]}` {
		t.Errorf("configuration set's SuppressionOptions %s, want BOUNCE and COMPLAINT", got)
	}
}

func TestReportBucket(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		days      float64
	}{
		{"default retention", nil, 400},
		{"retention from context", map[string]any{"reportRetentionDays": "30"}, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := defaultApp(t)
			if tt.overrides != nil {
				b = build(t, tt.overrides)
			}
			buckets := resources(b.templates[RotatorStackID], "AWS::S3::Bucket")
			if len(buckets) != 2 {
				t.Fatalf("%d buckets, want the report bucket and its access-log bucket", len(buckets))
			}
			for id, r := range buckets {
				p := props(r)
				want := map[string]string{
					"BucketEncryption":               `{"ServerSideEncryptionConfiguration":[{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}`,
					"PublicAccessBlockConfiguration": `{"BlockPublicAcls":true,"BlockPublicPolicy":true,"IgnorePublicAcls":true,"RestrictPublicBuckets":true}`,
					"VersioningConfiguration":        `{"Status":"Enabled"}`,
				}
				for key, w := range want {
					if got := mustJSON(p[key]); got != w {
						t.Errorf("%s %s = %s, want %s", id, key, got, w)
					}
				}
				rules := p["LifecycleConfiguration"].(map[string]any)["Rules"].([]any)
				rule := rules[0].(map[string]any)
				if rule["ExpirationInDays"] != tt.days || rule["Status"] != "Enabled" {
					t.Errorf("%s lifecycle %v, want expiry after %v days", id, rule, tt.days)
				}
				if strings.HasPrefix(id, "ReportBucket") {
					want := `{"ExpirationInDays":1,"Id":"expire-send-slots","NoncurrentVersionExpiration":{"NoncurrentDays":1},"Prefix":"send-slots/","Status":"Enabled"}`
					if len(rules) != 2 || mustJSON(rules[1]) != want {
						t.Errorf("%s lifecycle rules %s, want the send slots expired the next day: %s", id, mustJSON(rules), want)
					}
					if resolve(p["LoggingConfiguration"].(map[string]any)["DestinationBucketName"]) != "<AccessLogsBucket>" {
						t.Errorf("report bucket logs to %v", p["LoggingConfiguration"])
					}
				}
			}
			for id, r := range resources(b.templates[RotatorStackID], "AWS::S3::BucketPolicy") {
				if !hasTLSDeny(statements(props(r)["PolicyDocument"]), "s3:*") {
					t.Errorf("%s has no TLS-only deny", id)
				}
			}
		})
	}
}

func hasTLSDeny(stmts []map[string]any, action string) bool {
	for _, s := range stmts {
		if s["Effect"] == "Deny" && resolve(s["Action"]) == action &&
			mustJSON(s["Condition"]) == `{"Bool":{"aws:SecureTransport":"false"}}` {
			return true
		}
	}
	return false
}

func TestKeys(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	keys := resources(tmpl, "AWS::KMS::Key")
	if len(keys) != 3 {
		t.Errorf("%d keys, want the hand-off, topic and logs keys", len(keys))
	}
	for id, r := range keys {
		if props(r)["EnableKeyRotation"] != true {
			t.Errorf("%s: key rotation not enabled", id)
		}
	}
	var aliases []string
	for _, r := range resources(tmpl, "AWS::KMS::Alias") {
		aliases = append(aliases, props(r)["AliasName"].(string))
	}
	if sort.Strings(aliases); !reflect.DeepEqual(aliases, sorted([]string{HandoffKeyAlias, TopicKeyAlias, LogsKeyAlias})) {
		t.Errorf("aliases %v", aliases)
	}
}

// keyUsers maps each action of a key policy to the principals allowed it (the account
// root's administration aside).
func keyUsers(t *testing.T, tmpl map[string]any, keyPrefix string) map[string][]string {
	t.Helper()
	for id, r := range resources(tmpl, "AWS::KMS::Key") {
		if !strings.HasPrefix(id, keyPrefix) {
			continue
		}
		users := map[string][]string{}
		for _, s := range statements(props(r)["KeyPolicy"]) {
			if s["Sid"] == "KeyAdministrationByTheAccount" || s["Effect"] != "Allow" {
				continue
			}
			principal := s["Principal"].(map[string]any)
			who := resolve(principal["AWS"]) + resolve(principal["Service"])
			for _, a := range strs(s["Action"]) {
				users[a] = append(users[a], strings.ReplaceAll(who, "null", ""))
				sort.Strings(users[a])
			}
		}
		return users
	}
	t.Fatalf("no key %s", keyPrefix)
	return nil
}

func TestHandoffKeyPolicy(t *testing.T) {
	users := keyUsers(t, defaultApp(t).templates[RotatorStackID], "HandoffKey")
	want := map[string][]string{
		"kms:GenerateDataKey": {"<ScanAndRotateRole.Arn>"},
		"kms:Decrypt":         {"<NotifyUserRole.Arn>", "<ScanAndRotateRole.Arn>"},
	}
	if !reflect.DeepEqual(users, want) {
		t.Errorf("hand-off key users %v, want %v: data keys only for scan-and-rotate, decrypt by notify-user (and by scan-and-rotate only for Secrets Manager's access check)", users, want)
	}
}

// TestHandoffKeyConditions: Secrets Manager calls kms:Decrypt on the writer's behalf when a
// secret is created with a customer managed key, to validate key access, with the
// encryption context SecretVersionId=RequestToValidateKeyAccess (Secrets Manager user
// guide, "Secrets Manager encryption context"). ScanAndRotate gets Decrypt under exactly
// that context, so that it can create a hand-off secret but never read one (a real
// version's SecretVersionId is its version ID). Every use of the hand-off key, in the key
// policy and in the roles' policies, goes through Secrets Manager and names a hand-off
// secret in the encryption context.
func TestHandoffKeyConditions(t *testing.T) {
	const (
		secrets = "arn:aws:secretsmanager:<AWS::Region>:222222222222:secret:iam-access-key-rotator/handoff/*"
		via     = `"kms:ViaService":"secretsmanager.<AWS::Region>.amazonaws.com"`
		arnLike = `"ArnLike":{"kms:EncryptionContext:SecretARN":"` + secrets + `"}`
	)
	want := map[string]string{
		"ScanAndRotate kms:GenerateDataKey": `{` + arnLike + `,"StringEquals":{` + via + `}}`,
		"ScanAndRotate kms:Decrypt":         `{` + arnLike + `,"StringEquals":{"kms:EncryptionContext:SecretVersionId":"RequestToValidateKeyAccess",` + via + `}}`,
		"NotifyUser kms:Decrypt":            `{` + arnLike + `,"StringEquals":{` + via + `}}`,
	}
	tmpl := defaultApp(t).templates[RotatorStackID]
	got := map[string][]string{}
	for id, r := range resources(tmpl, "AWS::KMS::Key") {
		if !strings.HasPrefix(id, "HandoffKey") {
			continue
		}
		for _, s := range statements(props(r)["KeyPolicy"]) {
			if s["Sid"] == "KeyAdministrationByTheAccount" {
				continue
			}
			who := strings.TrimSuffix(strings.TrimPrefix(resolve(s["Principal"].(map[string]any)["AWS"]), "<"), "Role.Arn>")
			for _, a := range strs(s["Action"]) {
				got[who+" "+a] = append(got[who+" "+a], "key policy "+resolveJSON(s["Condition"]))
			}
		}
	}
	for _, role := range []string{"ScanAndRotate", "NotifyUser"} {
		for _, r := range resources(tmpl, "AWS::IAM::Policy") {
			if resolve(props(r)["Roles"]) != "<"+role+"Role>" {
				continue
			}
			for _, s := range statements(props(r)["PolicyDocument"]) {
				if resolve(s["Resource"]) != "<HandoffKey.Arn>" {
					continue
				}
				for _, a := range strs(s["Action"]) {
					got[role+" "+a] = append(got[role+" "+a], "role policy "+resolveJSON(s["Condition"]))
				}
			}
		}
	}
	for use, cond := range want {
		if w := []string{"key policy " + cond, "role policy " + cond}; !reflect.DeepEqual(got[use], w) {
			t.Errorf("%s: %q, want %q", use, got[use], w)
		}
	}
	for use := range got {
		if _, ok := want[use]; !ok {
			t.Errorf("unexpected use of the hand-off key: %s %v", use, got[use])
		}
	}
}

func TestKeyAdministrationGrantsNoUse(t *testing.T) {
	for id, r := range resources(defaultApp(t).templates[RotatorStackID], "AWS::KMS::Key") {
		for _, s := range statements(props(r)["KeyPolicy"]) {
			if s["Sid"] != "KeyAdministrationByTheAccount" {
				continue
			}
			for _, a := range strs(s["Action"]) {
				switch a {
				case "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant":
					t.Errorf("%s: the account's administration statement allows %s", id, a)
				}
			}
		}
	}
}

func TestAlarm(t *testing.T) {
	_, p := only(t, defaultApp(t).templates[RotatorStackID], "AWS::CloudWatch::Alarm")
	if p["MetricName"] != "ExecutionsFailed" || p["Namespace"] != "AWS/States" || p["Threshold"] != 1.0 ||
		p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || resolve(p["AlarmActions"]) != "<FailureTopic>" {
		t.Errorf("alarm %v", p)
	}
	dims := p["Dimensions"].([]any)
	if dim := dims[0].(map[string]any); len(dims) != 1 || dim["Name"] != "StateMachineArn" || resolve(dim["Value"]) != "<StateMachine>" {
		t.Errorf("alarm dimensions %v, want the state machine", dims)
	}
}

func TestDashboard(t *testing.T) {
	_, p := only(t, defaultApp(t).templates[RotatorStackID], "AWS::CloudWatch::Dashboard")
	body := resolve(p["DashboardBody"])
	// Every run metric emitted (contract.RunMetrics, what pkg/report emits) is on the
	// dashboard, dimension-less, and every metric of the namespace on it is emitted.
	var charted []string
	for _, m := range regexp.MustCompile(`\["`+contract.MetricNamespace+`","([^"]+)"`).FindAllStringSubmatch(body, -1) {
		charted = append(charted, m[1])
	}
	var emitted []string
	for _, m := range contract.RunMetrics {
		emitted = append(emitted, m.Name)
	}
	if !reflect.DeepEqual(sorted(charted), sorted(emitted)) {
		t.Errorf("dashboard charts %s metrics %v, the Lambdas emit %v: %s", contract.MetricNamespace, charted, emitted, body)
	}
	if p["DashboardName"] != DashboardName {
		t.Errorf("dashboard name %v", p["DashboardName"])
	}
}

func TestFixedRoleNames(t *testing.T) {
	names := map[string]string{}
	for id, r := range resources(defaultApp(t).templates[RotatorStackID], "AWS::IAM::Role") {
		if name, ok := props(r)["RoleName"].(string); ok {
			names[logicalHash.ReplaceAllString(id, "")] = name
		}
	}
	want := map[string]string{"ScanAndRotateRole": RotatorRoleName, "ListAccountsRole": ListAccountsRoleName, "NotifyUserRole": NotifyRoleName}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("fixed role names %v, want %v", names, want)
	}
}

// TestTagKeyIsReadOnlyByScanAndRotateAndNotifyUser: the key that signs the rotator's tags on
// IAM users is random, kept, and readable by the two functions that write those tags only.
func TestTagKeyIsReadOnlyByScanAndRotateAndNotifyUser(t *testing.T) {
	tmpl := defaultApp(t).templates[RotatorStackID]
	id, p := only(t, tmpl, "AWS::SecretsManager::Secret")
	gen, _ := p["GenerateSecretString"].(map[string]any)
	if p["Name"] != contract.TagKeySecretName || gen["PasswordLength"] != 64.0 || gen["ExcludePunctuation"] != true {
		t.Errorf("tag key secret %s: %v", id, mustJSON(p))
	}
	if r := resources(tmpl, "AWS::SecretsManager::Secret")[id]; r["DeletionPolicy"] != "Retain" {
		t.Errorf("tag key secret %s is not retained: a new key leaves every signed tag unverified", id)
	}
	_, policy := only(t, tmpl, "AWS::SecretsManager::ResourcePolicy")
	statements := policy["ResourcePolicy"].(map[string]any)["Statement"].([]any)
	if len(statements) != 1 {
		t.Fatalf("resource policy %s, want one statement", mustJSON(policy))
	}
	s := statements[0].(map[string]any)
	readers := s["Condition"].(map[string]any)["StringNotEquals"].(map[string]any)["aws:PrincipalArn"]
	want := "arn:aws:iam::222222222222:role/" + RotatorRoleName + ",arn:aws:iam::222222222222:role/" + NotifyRoleName
	if s["Effect"] != "Deny" || s["Action"] != "secretsmanager:GetSecretValue" || resolve(readers) != want {
		t.Errorf("resource policy statement %s: want GetSecretValue denied to all but %s", mustJSON(s), want)
	}
}
