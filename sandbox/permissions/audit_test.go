package permissions

import (
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
)

const (
	rotator = "123456789012"
	member  = "111122223333"
	handoff = "arn:aws:kms:us-east-1:123456789012:key/handoff"
	secret  = "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-access-key-rotator/handoff/111122223333/alice/AKIAOLD-AbCdEf"
)

var bindings = Bindings{
	Partition: "aws", Region: "us-east-1", RotatorAccountID: rotator, ManagementAccountID: rotator,
	OrganizationID: "o-example", MemberRoleName: "provisioning-admin", SenderEmail: "rotator@example.com",
	SenderDomain: "example.com", ReportBucket: "reports", HandoffKeyARN: handoff,
	TopicKeyARN: "arn:aws:kms:us-east-1:123456789012:key/topic", FailureTopicARN: "arn:aws:sns:us-east-1:123456789012:failures",
	ConfigurationSet: "configset", GitHubAppSecretARN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:github-app-AbCdEf",
}

// scanSession is ScanAndRotate's session of the member role, notifySession NotifyUser's of its
// own role in the member account.
const (
	scanSession   = "arn:aws:sts::111122223333:assumed-role/provisioning-admin/key-rotator-run"
	notifySession = "arn:aws:sts::111122223333:assumed-role/provisioning-admin-notify/key-rotator-notify"
)

// rotation is a new key's way through the rotator: ScanAndRotate enters the member account,
// creates the key and its hand-off secret, NotifyUser reads the secret, mails it and records
// the notice through its own role in the member account; the state machine (the last calls) reads the account
// list, starts a child execution, invokes ScanAndRotate, writes the Map's results and alerts.
func rotation() []FunctionCall {
	call := func(fn, principal, service, op string, params map[string]string, tags ...string) FunctionCall {
		return FunctionCall{Function: fn, Call: calllog.Call{Principal: principal, Service: service, Operation: op,
			Region: "us-east-1", Params: params, TagKeys: tags}}
	}
	memberRole := "arn:aws:iam::111122223333:role/provisioning-admin"
	return []FunctionCall{
		call("scan-and-rotate", "", "STS", "AssumeRole", map[string]string{"RoleArn": memberRole, "RoleSessionName": "key-rotator-run"}),
		call("scan-and-rotate", scanSession, "IAM", "CreateAccessKey", map[string]string{"UserName": "alice"}),
		call("scan-and-rotate", scanSession, "IAM", "TagUser", map[string]string{"UserName": "alice"}, "key-rotator:pending"),
		call("scan-and-rotate", "", "Secrets Manager", "CreateSecret", map[string]string{"Name": "iam-access-key-rotator/handoff/111122223333/alice/AKIAOLD",
			"KmsKeyId": handoff, "ARN": secret}),
		call("notify-user", "", "Secrets Manager", "GetSecretValue", map[string]string{"SecretId": secret}),
		call("notify-user", "", "SESv2", "SendEmail", map[string]string{"FromEmailAddress": "rotator@example.com", "ConfigurationSetName": "configset"}),
		call("notify-user", "", "STS", "AssumeRole", map[string]string{"RoleArn": memberRole + "-notify", "RoleSessionName": "key-rotator-notify"}),
		call("notify-user", notifySession, "IAM", "TagUser", map[string]string{"UserName": "alice"}, "key-rotator:notices"),
		call(StateMachineRole, "", "S3", "GetObject", map[string]string{"Bucket": "reports", "Key": "runs/run-1/accounts.json"}),
		call(StateMachineRole, "", "SFN", "StartExecution", map[string]string{"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:iam-access-key-rotator"}),
		call(StateMachineRole, "", "Lambda", "Invoke", map[string]string{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:iam-access-key-rotator-scan-and-rotate"}),
		call(StateMachineRole, "", "S3", "PutObject", map[string]string{"Bucket": "reports", "Key": "runs/run-1/map-results/manifest.json"}),
		call(StateMachineRole, "", "SNS", "Publish", map[string]string{"TopicArn": "arn:aws:sns:us-east-1:123456789012:failures"}),
	}
}

// The audit passes the rotation under the synthesized policies, and fails, saying what and
// where, when a policy lacks what a call needs, grants what no call uses, or a call breaks a
// condition, a trust or a session policy.
func TestAudit(t *testing.T) {
	tests := []struct {
		name string
		edit func(*File, []FunctionCall) []FunctionCall
		want string // a finding; empty: no call is denied
		// refusals are the actions denied by design (Findings' second argument).
		refusals Refusals
	}{
		{name: "the rotation as synthesized", edit: func(_ *File, c []FunctionCall) []FunctionCall { return c }},
		{name: "a needed action removed", edit: func(f *File, c []FunctionCall) []FunctionCall {
			editRole(f, MemberRole, func(r *Role) {
				for i := range r.Policy.Statement {
					st := &r.Policy.Statement[i]
					st.Action = slices.DeleteFunc(st.Action, func(a string) bool { return a == "iam:CreateAccessKey" })
				}
			})
			return c
		}, want: "not allowed (1 calls): scan-and-rotate: IAM CreateAccessKey: the member role does not allow iam:CreateAccessKey on arn:aws:iam::111122223333:user/alice"},
		{name: "an action granted that no call uses", edit: func(f *File, c []FunctionCall) []FunctionCall {
			editRole(f, MemberRole, func(r *Role) { r.Policy.Statement[1].Action = append(r.Policy.Statement[1].Action, "iam:CreateUser") })
			return c
		}, want: "unused: the member role grants iam:CreateUser, which no call of the Lambdas or the state machine used"},
		{name: "an owner's tag written", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[2].TagKeys = []string{"EmailID"}
			return c
		}, want: "the member role does not allow iam:TagUser on arn:aws:iam::111122223333:user/alice with map[aws:TagKeys:[EmailID]]"},
		{name: "a hand-off secret under another key", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[3].Params["KmsKeyId"] = "arn:aws:kms:us-east-1:123456789012:key/other"
			return c
		}, want: "the scan-and-rotate role does not allow secretsmanager:CreateSecret"},
		{name: "beyond NotifyUser's role", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[7].TagKeys = []string{"key-rotator:pending"}
			return c
		}, want: "notify-user: IAM TagUser: the notify-member role does not allow iam:TagUser on arn:aws:iam::111122223333:user/alice with map[aws:TagKeys:[key-rotator:pending]]"},
		{name: "NotifyUser entering the member role", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[6].Params["RoleArn"] = "arn:aws:iam::111122223333:role/provisioning-admin"
			return c
		}, want: "the trust policy of the member role does not let arn:aws:iam::123456789012:role/iam-access-key-rotator-notify-role assume it"},
		{name: "beyond a session policy", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[6].Params["Policy"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUserTags","Resource":"*"}]}`
			return c
		}, want: "the session policy of " + notifySession + " does not allow iam:TagUser"},
		{name: "a function not allowed to enter member accounts", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[0].Function = "cleanup-report"
			return c
		}, want: "the cleanup-report role does not allow sts:AssumeRole"},
		{name: "a role whose trust does not name the caller", edit: func(f *File, c []FunctionCall) []FunctionCall {
			editRole(f, MemberRole, func(r *Role) {
				r.Trust.Statement[0].Principal["AWS"] = slices.DeleteFunc(r.Trust.Statement[0].Principal["AWS"],
					func(p string) bool { return strings.HasSuffix(p, ":role/iam-access-key-rotator-role") })
			})
			return c
		}, want: "the trust policy of the member role does not let arn:aws:iam::123456789012:role/iam-access-key-rotator-role assume it"},
		{name: "a secret without the opt-in tag key, denied by design", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			return append(c, reporterSecretDenied())
		}, refusals: Refusals{"secretsmanager:DescribeSecret": "opt-in"}},
		{name: "a denial no code expects", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			return append(c, reporterSecretDenied())
		}, want: "refused (1 calls): the member role was denied secretsmanager:DescribeSecret, which no code expects"},
		{name: "a refusal by design that never happens", edit: func(_ *File, c []FunctionCall) []FunctionCall { return c },
			refusals: Refusals{"secretsmanager:DescribeSecret": "opt-in"}, want: "never refused: secretsmanager:DescribeSecret"},
		{name: "the stand-in denies what the policy allows", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[1].Error = "AccessDenied"
			return c
		}, want: "scan-and-rotate: IAM CreateAccessKey: the stand-in denied it, which the member role allows"},
		{name: "an account without the member role", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[0].Error = "AccessDenied" // the role assumed refuses: not the caller's policy
			return c
		}},
		{name: "the state machine reading outside runs/", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[8].Params["Key"] = "limits/accounts.json"
			return c
		}, want: "state-machine: S3 GetObject: the state-machine role does not allow s3:GetObject on arn:aws:s3:::reports/limits/accounts.json"},
		{name: "the state machine invoking a function not of the stack", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			c[10].Params["FunctionName"] = "arn:aws:lambda:us-east-1:123456789012:function:keyrotator-scan-and-rotate"
			return c
		}, want: "the state-machine role does not allow lambda:InvokeFunction on arn:aws:lambda:us-east-1:123456789012:function:keyrotator-scan-and-rotate"},
		{name: "an alert without the topic's key", edit: func(f *File, c []FunctionCall) []FunctionCall {
			editRole(f, StateMachineRole, func(r *Role) {
				r.Policy.Statement = slices.DeleteFunc(r.Policy.Statement, func(st Statement) bool { return slices.Contains(st.Action, "kms:GenerateDataKey") })
			})
			return c
		}, want: "the state-machine role does not allow kms:GenerateDataKey on arn:aws:kms:us-east-1:123456789012:key/topic"},
		{name: "an operation the audit cannot model", edit: func(_ *File, c []FunctionCall) []FunctionCall {
			return append(c, FunctionCall{Function: "cleanup-report", Call: calllog.Call{Service: "IAM", Operation: "CreateUser"}})
		}, want: "cleanup-report: IAM CreateUser: no authorization model for this operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			calls := tt.edit(file, rotation())
			audit := NewAudit(file)
			audit.Add(bindings, calls)
			findings := audit.Findings(nil, tt.refusals)
			denied := slices.ContainsFunc(findings, func(f string) bool {
				return strings.HasPrefix(f, "not allowed") || strings.HasPrefix(f, "refused") || strings.HasPrefix(f, "never refused")
			})
			switch {
			case tt.want == "" && denied:
				t.Errorf("findings %q, want no call denied", findings)
			case tt.want != "" && !slices.ContainsFunc(findings, func(f string) bool { return strings.Contains(f, tt.want) }):
				t.Errorf("findings %q, want one with %q", findings, tt.want)
			}
		})
	}
}

// reporterSecretDenied is ScanAndRotate's DescribeSecret of a secret without the tag key
// key-rotator:user, which the member role is denied.
func reporterSecretDenied() FunctionCall {
	return FunctionCall{Function: "scan-and-rotate", Call: calllog.Call{Principal: scanSession, Service: "Secrets Manager",
		Operation: "DescribeSecret", Region: "us-east-1", Params: map[string]string{"SecretId": "ci/reporter"}, Error: "AccessDeniedException"}}
}

func editRole(f *File, name string, edit func(*Role)) {
	for i := range f.Roles {
		if f.Roles[i].Name == name {
			edit(&f.Roles[i])
		}
	}
}

func TestConditionOperators(t *testing.T) {
	tests := []struct {
		op      string
		want    Strings
		got     []string
		ok      bool
		invalid bool
	}{
		{op: "StringEquals", want: Strings{"a"}, got: []string{"a"}, ok: true},
		{op: "StringEquals", want: Strings{"a"}, got: nil, ok: false},
		{op: "StringLike", want: Strings{"key-rotator:*"}, got: []string{"key-rotator:notices"}, ok: true},
		{op: "ArnLike", want: Strings{"arn:aws:s3:::b/runs/*"}, got: []string{"arn:aws:s3:::b/runs/x/y"}, ok: true},
		{op: "ForAllValues:StringLike", want: Strings{"key-rotator:*"}, got: []string{"key-rotator:a", "Email"}, ok: false},
		{op: "ForAllValues:StringEquals", want: Strings{"a"}, got: nil, ok: true},
		{op: "ForAnyValue:StringEquals", want: Strings{"a"}, got: []string{"b", "a"}, ok: true},
		{op: "Null", want: Strings{"false"}, got: nil, ok: false},
		{op: "Null", want: Strings{"true"}, got: nil, ok: true},
		{op: "NumericLessThan", want: Strings{"3"}, got: []string{"2"}, invalid: true},
	}
	for _, tt := range tests {
		ok, err := condition(tt.op, tt.want, tt.got)
		if (err != nil) != tt.invalid || ok != tt.ok {
			t.Errorf("%s %v on %v: %v, %v; want %v (error: %v)", tt.op, tt.want, tt.got, ok, err, tt.ok, tt.invalid)
		}
	}
}

// A key written to an application's secret under a customer managed key: Secrets Manager
// uses that key on behalf of NotifyUser's role in the member account, which its grant limited
// to Secrets Manager (kms:ViaService) allows for a key of the member account only.
func TestAuditModelsKMSThroughSecretsManager(t *testing.T) {
	const appSecret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ci/deployer-AbCdEf"
	for _, tt := range []struct {
		name, key string
		want      string // a finding; empty: the KMS grants are used and allow the calls
	}{
		{"a key of the member account", "arn:aws:kms:us-east-1:111122223333:key/app", ""},
		{"a key of another account", "arn:aws:kms:us-east-1:999999999999:key/app",
			"the notify-member role does not allow kms:GenerateDataKey on arn:aws:kms:us-east-1:999999999999:key/app"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			write := func(op string, params map[string]string, tags map[string]string) FunctionCall {
				return FunctionCall{Function: "notify-user", Call: calllog.Call{Principal: notifySession, Service: "Secrets Manager",
					Operation: op, Region: "us-east-1", Params: params, ResourceTags: tags}}
			}
			audit := NewAudit(file)
			audit.Add(bindings, append(rotation(),
				write("DescribeSecret", map[string]string{"SecretId": "ci/deployer", "ARN": appSecret, "KmsKeyId": tt.key}, map[string]string{"key-rotator:user": "deployer"}),
				write("PutSecretValue", map[string]string{"SecretId": "ci/deployer", "ARN": appSecret}, nil)))
			findings := audit.Findings(nil, nil)
			for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
				unused := slices.Contains(findings, "unused: the notify-member role grants "+action+", which no call of the Lambdas or the state machine used")
				if tt.want == "" && unused {
					t.Errorf("%s: the write to a secret under a key of the member account does not use it: %q", action, findings)
				}
			}
			if tt.want != "" && !slices.ContainsFunc(findings, func(f string) bool { return strings.Contains(f, tt.want) }) {
				t.Errorf("findings %q, want one with %q", findings, tt.want)
			}
		})
	}
}
