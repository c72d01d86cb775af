package stacks

import (
	"encoding/json"
	"reflect"
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

func TestMemberRoleTemplate(t *testing.T) {
	template := memberTemplate(t, testConfig(t, map[string]any{"memberRoleName": "rotator-access"}))
	_, role := only(t, template, "AWS::IAM::Role")
	if role["RoleName"] != "rotator-access" {
		t.Errorf("RoleName %v, want memberRoleName", role["RoleName"])
	}

	trust := statements(role["AssumeRolePolicyDocument"])
	wantTrust := `[{"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-exampleorg1"}},"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:role/iam-access-key-rotator-role","arn:aws:iam::222222222222:role/iam-access-key-rotator-notify-role"]}}]`
	if got := resolveJSON(trust); got != wantTrust {
		t.Errorf("trust policy\n got %s\nwant %s", got, wantTrust)
	}

	policies := asList(role["Policies"])
	if len(policies) != 1 {
		t.Fatalf("%d inline policies, want 1", len(policies))
	}
	got := permissions(statements(policies[0].(map[string]any)["PolicyDocument"]))
	want := map[string][]string{}
	for _, a := range []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListUsers", "iam:GetAccountAuthorizationDetails"} {
		want[a] = []string{"*"}
	}
	for _, a := range []string{"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:TagUser",
		"iam:UntagUser", "iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"} {
		want[a] = []string{"arn:aws:iam::<AWS::AccountId>:user/*"}
	}
	for _, a := range []string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"} {
		want[a] = []string{"arn:aws:secretsmanager:*:<AWS::AccountId>:secret:*"}
	}
	for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
		want[a] = []string{"arn:aws:kms:*:<AWS::AccountId>:key/*"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("member role permissions\n got %v\nwant exactly %v", got, want)
	}
	// The rotator writes only its own tags (key-rotator:notices, :pending, :deactivated):
	// the role may not change an owner's email or exempt tag, or any other. It writes only
	// the secrets that opt in (tagged key-rotator:user), and uses KMS only through Secrets
	// Manager.
	for _, s := range statements(policies[0].(map[string]any)["PolicyDocument"]) {
		tags := map[string]bool{}
		for _, a := range strs(s["Action"]) {
			tags[a] = a == "iam:TagUser" || a == "iam:UntagUser"
		}
		wantCond := "null"
		switch actions := strs(s["Action"]); {
		case reflect.DeepEqual(actions, []string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}):
			wantCond = `{"Null":{"secretsmanager:ResourceTag/key-rotator:user":"false"}}`
		case reflect.DeepEqual(actions, []string{"kms:GenerateDataKey", "kms:Decrypt"}):
			wantCond = `{"StringLike":{"kms:ViaService":"secretsmanager.*.amazonaws.com"}}`
		}
		if tags["iam:TagUser"] || tags["iam:UntagUser"] {
			if !tags["iam:TagUser"] || !tags["iam:UntagUser"] || len(tags) != 2 {
				t.Errorf("tag actions share a statement with others: %v", strs(s["Action"]))
			}
			wantCond = `{"ForAllValues:StringLike":{"aws:TagKeys":"` + RotatorTagKeys + `"},"Null":{"aws:TagKeys":"false"}}`
		}
		if got := resolveJSON(s["Condition"]); got != wantCond {
			t.Errorf("statement %v: condition %s, want %s", strs(s["Action"]), got, wantCond)
		}
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
	tagReads := []string{"arn:aws:organizations::111111111111:account/o-exampleorg1/*"}
	tests := []struct {
		name string
		b    *built
		want map[string][]string
	}{
		// ListAccounts, and each account's tags for the default excludeAccountTag (pkg/org);
		// nothing calls DescribeOrganization.
		{"defaults", b, map[string][]string{"organizations:ListAccounts": {"*"}, "organizations:ListTagsForResource": tagReads}},
		// The OU walk only with excludeOus; no tag read when the tag exclusion is off.
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
	memberRole := func(t *testing.T, template map[string]any) map[string]any {
		t.Helper()
		for _, r := range resources(template, "AWS::IAM::Role") {
			if p := props(r); p["RoleName"] == "provisioning-admin" {
				return p
			}
		}
		return nil
	}
	t.Run("deployed", func(t *testing.T) {
		b := defaultApp(t)
		got := memberRole(t, b.templates[ManagementRoleStackID])
		if got == nil {
			t.Fatal("the management stack has no member role provisioning-admin: every run fails to assume into the management account")
		}
		_, want := only(t, memberTemplate(t, testConfig(t, nil)), "AWS::IAM::Role")
		for _, key := range []string{"AssumeRolePolicyDocument", "Policies", "Description"} {
			if g, w := resolveJSON(got[key]), resolveJSON(want[key]); g != w {
				t.Errorf("%s in the management stack:\n got %s\nwant the StackSet's %s", key, g, w)
			}
		}
	})
	t.Run("excluded", func(t *testing.T) {
		b := build(t, map[string]any{"excludeAccounts": "111111111111"})
		if got := memberRole(t, b.templates[ManagementRoleStackID]); got != nil {
			t.Errorf("the management account is excluded, yet its stack has the member role %v", got)
		}
	})
}
