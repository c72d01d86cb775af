package stacks

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func memberTemplate(t *testing.T, cfg Config) map[string]any {
	t.Helper()
	body, err := MemberRoleTemplate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var template map[string]any
	if err := json.Unmarshal(body, &template); err != nil {
		t.Fatalf("member role template is not JSON: %v", err)
	}
	return template
}

// memberTemplateRole is the role of the StackSet's template with logical ID id.
func memberTemplateRole(t *testing.T, template map[string]any, id string) map[string]any {
	t.Helper()
	r, ok := resources(template, "AWS::IAM::Role")[id]
	if !ok {
		t.Fatalf("no role %s in the member template", id)
	}
	return props(r)
}

// TestMemberRoleTemplate: each role of the member accounts is trusted by one function's role
// only, and allowed exactly what that function does there: ScanAndRotate reads and rotates
// keys, writes the rotator's tags and describes the secrets that opt in; NotifyUser reads
// tags, writes the notices tag and writes keys to the secrets that opt in, KMS through Secrets
// Manager only.
func TestMemberRoleTemplate(t *testing.T) {
	template := memberTemplate(t, testConfig(t, map[string]any{"memberRoleName": "rotator-access"}))
	if got := len(resources(template, "AWS::IAM::Role")); got != 2 {
		t.Errorf("%d roles in the member template, want 2 (scan-and-rotate's and notify-user's)", got)
	}
	users := []string{"arn:aws:iam::<AWS::AccountId>:user/*"}
	secrets := []string{"arn:aws:secretsmanager:*:<AWS::AccountId>:secret:*"}
	params := []string{"arn:aws:ssm:*:<AWS::AccountId>:parameter/*"}
	optedInParams := `{"Null":{"ssm:resourceTag/key-rotator:user":"false"}}`
	trust := func(role string) string {
		return `[{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorg1"}},"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/` + role + `"}}]`
	}
	tests := []struct {
		id, name, trust string
		want            map[string][]string
		// conditions of the statements, by their sorted actions ("" for none)
		conditions map[string]string
	}{
		{"MemberRole", "rotator-access", trust("iam-access-key-rotator-role"), map[string][]string{
			"iam:GenerateCredentialReport": {"*"}, "iam:GetCredentialReport": {"*"}, "iam:ListUsers": {"*"}, "iam:GetAccountAuthorizationDetails": {"*"},
			"iam:ListAccessKeys": users, "iam:GetAccessKeyLastUsed": users, "iam:ListUserTags": users, "iam:TagUser": users,
			"iam:UntagUser": users, "iam:CreateAccessKey": users, "iam:UpdateAccessKey": users, "iam:DeleteAccessKey": users,
			"secretsmanager:DescribeSecret": secrets,
			"ssm:DescribeParameters":        {"*"}, "ssm:ListTagsForResource": params,
		}, map[string]string{
			// The rotator writes only its own tags (key-rotator:notices, :pending,
			// :deactivated): the role may not change an owner's email or exempt tag, or any
			// other. It only describes the secrets that opt in (tagged key-rotator:user).
			"iam:TagUser iam:UntagUser":     `{"ForAllValues:StringLike":{"aws:TagKeys":"` + RotatorTagKeys + `"},"Null":{"aws:TagKeys":"false"}}`,
			"secretsmanager:DescribeSecret": `{"Null":{"secretsmanager:ResourceTag/key-rotator:user":"false"}}`,
			// The SSM parameters that opt in likewise (ssm:resourceTag); DescribeParameters
			// has no resource-level permission: metadata of every parameter, no value.
			"ssm:ListTagsForResource": optedInParams,
		}},
		{"NotifyMemberRole", "rotator-access-notify", trust("iam-access-key-rotator-notify-role"), map[string][]string{
			"iam:ListUserTags": users, "iam:TagUser": users,
			"secretsmanager:DescribeSecret": secrets, "secretsmanager:PutSecretValue": secrets,
			"kms:GenerateDataKey": {"arn:aws:kms:*:<AWS::AccountId>:key/*", "arn:aws:kms:*:<AWS::AccountId>:key/*"},
			"kms:Decrypt":         {"arn:aws:kms:*:<AWS::AccountId>:key/*"}, "kms:Encrypt": {"arn:aws:kms:*:<AWS::AccountId>:key/*"},
			"ssm:DescribeParameters": {"*"}, "ssm:ListTagsForResource": params, "ssm:PutParameter": params,
		}, map[string]string{
			// NotifyUser writes the notices tag only; the secrets that opt in only; KMS
			// through Secrets Manager only.
			"iam:TagUser": `{"ForAllValues:StringEquals":{"aws:TagKeys":["key-rotator:notices"]},"Null":{"aws:TagKeys":"false"}}`,
			"secretsmanager:DescribeSecret secretsmanager:PutSecretValue": `{"Null":{"secretsmanager:ResourceTag/key-rotator:user":"false"}}`,
			"kms:Decrypt kms:GenerateDataKey":                             `{"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}`,
			// The parameters that opt in, overwritten only (never created: a parameter the
			// rotator made would carry no owner's opt-in), their KMS keys through SSM only,
			// and never to decrypt: the role cannot read a parameter's value.
			"ssm:ListTagsForResource":         optedInParams,
			"ssm:PutParameter":                `{"Null":{"ssm:resourceTag/key-rotator:user":"false"},"StringEquals":{"ssm:Overwrite":"true"}}`,
			"kms:Encrypt kms:GenerateDataKey": `{"StringLike":{"kms:ViaService":"ssm.*.amazonaws.com"}}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			role := memberTemplateRole(t, template, tt.id)
			if role["RoleName"] != tt.name {
				t.Errorf("RoleName %v, want %s", role["RoleName"], tt.name)
			}
			if got := resolveJSON(statements(role["AssumeRolePolicyDocument"])); got != tt.trust {
				t.Errorf("trust policy\n got %s\nwant %s", got, tt.trust)
			}
			policies := asList(role["Policies"])
			if len(policies) != 1 {
				t.Fatalf("%d inline policies, want 1", len(policies))
			}
			stmts := statements(policies[0].(map[string]any)["PolicyDocument"])
			if got := permissions(stmts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("permissions\n got %v\nwant exactly %v", got, tt.want)
			}
			for _, s := range stmts {
				actions := strs(s["Action"])
				slices.Sort(actions)
				want, ok := tt.conditions[strings.Join(actions, " ")]
				if !ok {
					want = "null"
				}
				if got := resolveJSON(s["Condition"]); got != want {
					t.Errorf("statement %v: condition %s, want %s", actions, got, want)
				}
			}
		})
	}
}

// TestNotifyUserCannotAssumeTheScanRole: the member role, which creates, deactivates and
// deletes keys, trusts ScanAndRotate's role only, in the StackSet's template and in the
// management account; NotifyUser's role may assume only its own role in member accounts.
// (It used to trust NotifyUser too, which narrowed itself by session policies only.)
func TestNotifyUserCannotAssumeTheScanRole(t *testing.T) {
	b := defaultApp(t)
	notifyRole := "arn:aws:iam::222222222222:role/" + NotifyRoleName
	principals := func(role map[string]any) string { return resolveJSON(statements(role["AssumeRolePolicyDocument"])) }
	var managementAccount map[string]any
	for _, r := range resources(b.templates[ManagementRoleStackID], "AWS::IAM::Role") {
		if props(r)["RoleName"] == "provisioning-admin" {
			managementAccount = props(r)
		}
	}
	for where, role := range map[string]map[string]any{
		"the StackSet's template": memberTemplateRole(t, memberTemplate(t, testConfig(t, nil)), "MemberRole"),
		"the management stack":    managementAccount,
	} {
		if trust := principals(role); strings.Contains(trust, notifyRole) || !strings.Contains(trust, ":role/"+RotatorRoleName+`"`) {
			t.Errorf("the member role of %s trusts %s, want scan-and-rotate's role only", where, trust)
		}
	}
	assume := rolePermissions(t, b.templates[RotatorStackID], "NotifyUserRole")["sts:AssumeRole"]
	if want := []string{"arn:aws:iam::*:role/provisioning-admin-notify"}; !reflect.DeepEqual(assume, want) {
		t.Errorf("notify-user's role may assume %v, want only its own role in member accounts %v", assume, want)
	}
}

func TestMemberRoleStackSet(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		callAs    string
		account   string
		targets   []any
	}{
		{"from the management account", nil, "SELF", "111111111111", []any{"r-exmp"}},
		{"from a delegated administrator", map[string]any{
			"stackSetAdminAccountId": "222222222222", "stackSetTargets": "ou-ab12-abcdefgh,ou-ab12-12345678",
		}, "DELEGATED_ADMIN", "222222222222", []any{"ou-ab12-abcdefgh", "ou-ab12-12345678"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := defaultApp(t)
			if tt.overrides != nil {
				b = build(t, tt.overrides)
			}
			if account := *b.stacks.MemberRoles.Account(); account != tt.account {
				t.Errorf("StackSet stack in account %s, want %s", account, tt.account)
			}
			_, p := only(t, b.templates[MemberRoleStackSetID], "AWS::CloudFormation::StackSet")
			want := map[string]string{
				"StackSetName":     `"` + MemberStackSetName + `"`,
				"PermissionModel":  `"SERVICE_MANAGED"`,
				"CallAs":           `"` + tt.callAs + `"`,
				"AutoDeployment":   `{"Enabled":true,"RetainStacksOnAccountRemoval":false}`,
				"Capabilities":     `["CAPABILITY_NAMED_IAM"]`,
				"ManagedExecution": `{"Active":true}`,
			}
			for key, w := range want {
				if got := mustJSON(p[key]); got != w {
					t.Errorf("%s = %s, want %s", key, got, w)
				}
			}
			group := asList(p["StackInstancesGroup"])[0].(map[string]any)
			targets := group["DeploymentTargets"].(map[string]any)["OrganizationalUnitIds"]
			if !reflect.DeepEqual(targets, tt.targets) || resolve(group["Regions"]) != "<AWS::Region>" {
				t.Errorf("stack instances %v, want targets %v in the stack's region", group, tt.targets)
			}
			body, err := MemberRoleTemplate(testConfig(t, tt.overrides))
			if err != nil || p["TemplateBody"] != string(body) {
				t.Errorf("TemplateBody is not MemberRoleTemplate (err %v)", err)
			}
		})
	}
}

func TestManagementRole(t *testing.T) {
	b := defaultApp(t)
	if account := *b.stacks.ManagementRole.Account(); account != "111111111111" {
		t.Errorf("management role stack in account %s, want managementAccountId", account)
	}
	tests := []struct {
		name string
		b    *built
		want map[string][]string
	}{
		// ListAccounts only (pkg/org): each account's tags are read by its ScanAndRotate,
		// through the tag-reader role; nothing calls DescribeOrganization.
		{"defaults", b, map[string][]string{"organizations:ListAccounts": {"*"}}},
		// The OU walk only with excludeOus.
		{"excluded OUs, no tag", build(t, map[string]any{"excludeOus": "ou-exmp-abcdefgh", "excludeAccountTag": "none"}), map[string][]string{
			"organizations:ListAccounts": {"*"}, "organizations:ListAccountsForParent": {"*"}, "organizations:ListOrganizationalUnitsForParent": {"*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var role map[string]any
			for _, r := range resources(tt.b.templates[ManagementRoleStackID], "AWS::IAM::Role") {
				if props(r)["RoleName"] == ManagementRoleName {
					role = props(r)
				}
			}
			if role == nil {
				t.Fatalf("no role %s in the management stack", ManagementRoleName)
			}
			wantTrust := `[{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorg1"}},"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/iam-access-key-rotator-list-accounts-role"}}]`
			if got := resolveJSON(statements(role["AssumeRolePolicyDocument"])); got != wantTrust {
				t.Errorf("trust policy\n got %s\nwant %s", got, wantTrust)
			}
			var stmts []map[string]any
			for _, policy := range asList(role["Policies"]) {
				stmts = append(stmts, statements(policy.(map[string]any)["PolicyDocument"])...)
			}
			if got := permissions(stmts); !reflect.DeepEqual(got, tt.want) || len(resources(tt.b.templates[ManagementRoleStackID], "AWS::IAM::Policy")) != 0 {
				t.Errorf("management role permissions %v, want exactly %v", got, tt.want)
			}
		})
	}
}

// TestTagReaderRole: ScanAndRotate reads its account's exclusion tag through a role of the
// management account that only ScanAndRotate's role may assume, inside the organization,
// and that may only read the tags of the organization's accounts; no role without the tag
// exclusion.
func TestTagReaderRole(t *testing.T) {
	find := func(b *built) map[string]any {
		for _, r := range resources(b.templates[ManagementRoleStackID], "AWS::IAM::Role") {
			if props(r)["RoleName"] == TagReaderRoleName {
				return props(r)
			}
		}
		return nil
	}
	role := find(defaultApp(t))
	if role == nil {
		t.Fatalf("no role %s in the management stack", TagReaderRoleName)
	}
	wantTrust := `[{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorg1"}},"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/iam-access-key-rotator-role"}}]`
	if got := resolveJSON(statements(role["AssumeRolePolicyDocument"])); got != wantTrust {
		t.Errorf("trust policy\n got %s\nwant %s", got, wantTrust)
	}
	var stmts []map[string]any
	for _, policy := range asList(role["Policies"]) {
		stmts = append(stmts, statements(policy.(map[string]any)["PolicyDocument"])...)
	}
	want := map[string][]string{"organizations:ListTagsForResource": {"arn:aws:organizations::111111111111:account/o-exampleorg1/*"}}
	if got := permissions(stmts); !reflect.DeepEqual(got, want) {
		t.Errorf("tag-reader role permissions %v, want exactly %v", got, want)
	}
	if role := find(build(t, map[string]any{"excludeAccountTag": "none"})); role != nil {
		t.Errorf("excludeAccountTag none: a tag-reader role %v", role)
	}
}

func TestDeploymentOrder(t *testing.T) {
	b := defaultApp(t)
	if account := *b.stacks.Rotator.Account(); account != "222222222222" {
		t.Errorf("rotator stack in account %s, want rotatorAccountId", account)
	}
	for name, deps := range map[string]int{
		ManagementRoleStackID: len(*b.stacks.ManagementRole.Dependencies()),
		MemberRoleStackSetID:  len(*b.stacks.MemberRoles.Dependencies()),
	} {
		if deps != 1 {
			t.Errorf("%s depends on %d stacks, want the rotator stack (whose roles it trusts)", name, deps)
		}
	}
}

// TestManagementAccountMemberRole: a service-managed StackSet never deploys into the
// management account, so the management stack creates the member role there, the same
// role as the StackSet's, so that the management account's IAM users are rotated too;
// unless the management account is excluded, when the rotator never assumes into it.
func TestManagementAccountMemberRole(t *testing.T) {
	memberRole := func(t *testing.T, template map[string]any, name string) map[string]any {
		t.Helper()
		for _, r := range resources(template, "AWS::IAM::Role") {
			if p := props(r); p["RoleName"] == name {
				return p
			}
		}
		return nil
	}
	roles := map[string]string{"MemberRole": "provisioning-admin", "NotifyMemberRole": "provisioning-admin-notify"}
	t.Run("deployed", func(t *testing.T) {
		b := defaultApp(t)
		for id, name := range roles {
			got := memberRole(t, b.templates[ManagementRoleStackID], name)
			if got == nil {
				t.Fatalf("the management stack has no member role %s: every run fails to enter the management account", name)
			}
			want := memberTemplateRole(t, memberTemplate(t, testConfig(t, nil)), id)
			for _, key := range []string{"AssumeRolePolicyDocument", "Policies", "Description"} {
				if g, w := resolveJSON(got[key]), resolveJSON(want[key]); g != w {
					t.Errorf("%s of %s in the management stack:\n got %s\nwant the StackSet's %s", key, name, g, w)
				}
			}
		}
	})
	t.Run("excluded", func(t *testing.T) {
		b := build(t, map[string]any{"excludeAccounts": "111111111111"})
		for _, name := range roles {
			if got := memberRole(t, b.templates[ManagementRoleStackID], name); got != nil {
				t.Errorf("the management account is excluded, yet its stack has the member role %s: %v", name, got)
			}
		}
	})
}
