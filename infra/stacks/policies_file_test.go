package stacks

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	iampolicies "github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
)

var update = flag.Bool("update", false, "rewrite sandbox/permissions/policies.json from the synthesized templates (make policies)")

// policiesFile is where the local stand-in reads the synthesized policies from.
var policiesFile = filepath.Join("..", "..", "sandbox", "permissions", iampolicies.FileName)

// The local stand-in runs each Lambda under the policy synthesized here, and the member and
// management roles under theirs: the file it reads must be what the app synthesizes now.
func TestPoliciesFile(t *testing.T) {
	// Every grant a setting adds is in the file: the e2e suite runs with OU exclusions and
	// GitHub delivery and Security Hub findings too.
	withOUs := map[string]any{"excludeOus": "ou-abcd-11111111", "securityHubFindings": "true",
		"githubAppSecretArn": "arn:aws:secretsmanager:us-east-1:222222222222:secret:iam-access-key-rotator/github-app-AbCdEf", "allowedGitHubOwners": "example-org"}
	got, err := synthesizedPolicies(t, build(t, withOUs), testConfig(t, withOUs))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(policiesFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", policiesFile)
		return
	}
	want, err := os.ReadFile(policiesFile)
	if err != nil {
		t.Fatalf("%v: run `make policies`", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the CDK app synthesizes: run `make policies` and commit the file", policiesFile)
	}
}

// synthesizedPolicies is policies.json: every role of the rotator with its trust and its
// permissions, as the templates hold them, with the deployment's values as placeholders.
func synthesizedPolicies(t testing.TB, b *built, cfg Config) ([]byte, error) {
	file := iampolicies.File{Comment: "Generated from the synthesized templates by `make policies` (infra/stacks TestPoliciesFile): do not edit."}
	rotator := b.templates[RotatorStackID]
	// A role of the rotator stack: its trust, and the statements of the policies attached to it.
	stackRole := func(logicalID, name, fallbackRoleName string) error {
		id, role, err := logicalResource(rotator, logicalID, "AWS::IAM::Role")
		if err != nil {
			return err
		}
		var statements []any
		for _, r := range resources(rotator, "AWS::IAM::Policy") {
			if slices.ContainsFunc(asList(props(r)["Roles"]), func(ref any) bool { return mustJSON(ref) == mustJSON(map[string]any{"Ref": id}) }) {
				statements = append(statements, asList(props(r)["PolicyDocument"].(map[string]any)["Statement"])...)
			}
		}
		roleName, _ := props(role)["RoleName"].(string)
		if roleName == "" { // generated on deployment: any name does locally
			roleName = fallbackRoleName
		}
		policy := map[string]any{"Version": "2012-10-17", "Statement": statements}
		r, err := placeholderRole(rotator, cfg, name, roleName, "${"+iampolicies.RotatorAccountID+"}", props(role)["AssumeRolePolicyDocument"], policy)
		if err != nil {
			return err
		}
		file.Roles = append(file.Roles, r)
		return nil
	}
	for _, f := range contract.Functions {
		if err := stackRole(functionConstructID(f)+"Role", string(f), contract.NamePrefix+"-"+string(f)+"-role"); err != nil {
			return nil, err
		}
	}
	if err := stackRole("StateMachineRole", iampolicies.StateMachineRole, contract.NamePrefix+"-state-machine-role"); err != nil {
		return nil, err
	}
	inlineRole := func(template map[string]any, logicalID, name, account string) error {
		_, role, err := logicalResource(template, logicalID, "AWS::IAM::Role")
		if err != nil {
			return err
		}
		inline := asList(props(role)["Policies"])
		if len(inline) != 1 {
			return fmt.Errorf("%s: %d inline policies, want 1", logicalID, len(inline))
		}
		r, err := placeholderRole(template, cfg, name, props(role)["RoleName"], account,
			props(role)["AssumeRolePolicyDocument"], inline[0].(map[string]any)["PolicyDocument"])
		if err != nil {
			return err
		}
		file.Roles = append(file.Roles, r)
		return nil
	}
	if err := inlineRole(b.templates[ManagementRoleStackID], "ManagementRole", iampolicies.ManagementRole, "${"+iampolicies.ManagementAccountID+"}"); err != nil {
		return nil, err
	}
	if err := inlineRole(b.templates[ManagementRoleStackID], "TagReaderRole", iampolicies.TagReaderRole, "${"+iampolicies.ManagementAccountID+"}"); err != nil {
		return nil, err
	}
	_, stackSet := only(t, b.templates[MemberRoleStackSetID], "AWS::CloudFormation::StackSet")
	var member map[string]any
	if err := json.Unmarshal([]byte(stackSet["TemplateBody"].(string)), &member); err != nil {
		return nil, fmt.Errorf("member role template: %w", err)
	}
	for _, r := range []struct{ logicalID, name string }{{"MemberRole", iampolicies.MemberRole}, {"NotifyMemberRole", iampolicies.NotifyMemberRole}} {
		if err := inlineRole(member, r.logicalID, r.name, "${"+iampolicies.AccountID+"}"); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(file); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// logicalResource finds the one resource of type typ whose logical ID is prefix followed by
// CDK's hash, or prefix itself.
func logicalResource(template map[string]any, prefix, typ string) (string, map[string]any, error) {
	for id, r := range resources(template, typ) {
		if id == prefix || (strings.HasPrefix(id, prefix) && logicalHash.MatchString(id) && len(id) == len(prefix)+8) {
			return id, r, nil
		}
	}
	return "", nil, fmt.Errorf("no %s %s* in the template", typ, prefix)
}

// placeholderRole builds a Role of policies.json from a role's trust and policy documents.
func placeholderRole(template map[string]any, cfg Config, name string, roleName any, account string, trust, policy any) (iampolicies.Role, error) {
	r := iampolicies.Role{Name: name, Account: account}
	p := placeholders{template: template, cfg: cfg}
	var err error
	if r.RoleName, err = p.value(roleName); err != nil {
		return r, fmt.Errorf("role %s name: %w", name, err)
	}
	for _, doc := range []struct {
		from any
		to   *iampolicies.Document
	}{{trust, &r.Trust}, {policy, &r.Policy}} {
		resolved, err := p.tree(doc.from)
		if err != nil {
			return r, fmt.Errorf("role %s: %w", name, err)
		}
		if err := json.Unmarshal([]byte(mustJSON(resolved)), doc.to); err != nil {
			return r, fmt.Errorf("role %s: %w", name, err)
		}
	}
	return r, nil
}

// placeholders turns a template's values into policies.json's: intrinsic functions and the
// deployment's configuration become ${Name} placeholders (iampolicies.Placeholders).
type placeholders struct {
	template map[string]any
	cfg      Config
}

// references are the resources of the rotator stack that its roles' policies name, by
// logical ID without CDK's hash, and attribute ("" for Ref).
var references = map[string]string{
	"ReportBucket.Arn": "arn:${" + iampolicies.Partition + "}:s3:::${" + iampolicies.ReportBucket + "}",
	"HandoffKey.Arn":   "${" + iampolicies.HandoffKeyARN + "}",
	"TopicKey.Arn":     "${" + iampolicies.TopicKeyARN + "}",
	"FailureTopic":     "${" + iampolicies.FailureTopicARN + "}",
	"ConfigurationSet": "${" + iampolicies.ConfigurationSet + "}",
}

func (p placeholders) tree(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			var err error
			if out[i], err = p.tree(item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		if isIntrinsic(x) {
			return p.value(x)
		}
		out := map[string]any{}
		for k, item := range x {
			var err error
			if out[k], err = p.tree(item); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		return p.value(x)
	}
	return v, nil
}

func isIntrinsic(x map[string]any) bool {
	for _, k := range []string{"Ref", "Fn::GetAtt", "Fn::Join", "Fn::Sub"} {
		if _, ok := x[k]; ok && len(x) == 1 {
			return true
		}
	}
	return false
}

// value renders one string-valued element.
func (p placeholders) value(v any) (string, error) {
	pseudo := map[string]string{"AWS::Partition": iampolicies.Partition, "AWS::Region": iampolicies.Region, "AWS::AccountId": iampolicies.AccountID}
	switch x := v.(type) {
	case string:
		return p.literals(x), nil
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, part := range asList(j[1]) {
				s, err := p.value(part)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, j[0].(string)), nil
		}
		if s, ok := x["Fn::Sub"].(string); ok {
			for cfn, name := range pseudo {
				s = strings.ReplaceAll(s, "${"+cfn+"}", "${"+name+"}")
			}
			return p.literals(s), nil
		}
		ref, _ := x["Ref"].(string)
		attr := ""
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			ref, attr = g[0].(string), g[1].(string)
		}
		if name, ok := pseudo[ref]; ok {
			return "${" + name + "}", nil
		}
		res, _ := p.template["Resources"].(map[string]any)[ref].(map[string]any)
		if res["Type"] == "AWS::Logs::LogGroup" && attr == "Arn" {
			return fmt.Sprintf("arn:${%s}:logs:${%s}:${%s}:log-group:%s:*", iampolicies.Partition, iampolicies.Region,
				iampolicies.AccountID, props(res)["LogGroupName"]), nil
		}
		key := logicalHash.ReplaceAllString(ref, "")
		if attr != "" {
			key += "." + attr
		}
		if s, ok := references[key]; ok {
			return s, nil
		}
		for _, f := range contract.Functions {
			if key == functionConstructID(f)+"Function.Arn" {
				return fmt.Sprintf("arn:${%s}:lambda:${%s}:${%s}:function:%s", iampolicies.Partition, iampolicies.Region,
					iampolicies.AccountID, f.FunctionName()), nil
			}
		}
		return "", fmt.Errorf("%s: no placeholder for it (add one to references and to iampolicies.Placeholders)", mustJSON(x))
	}
	return "", fmt.Errorf("%s: not a string", mustJSON(v))
}

// literals replaces the configuration's values in s by their placeholders.
func (p placeholders) literals(s string) string {
	domain := p.cfg.SenderEmail[strings.LastIndex(p.cfg.SenderEmail, "@")+1:]
	pairs := []string{}
	if p.cfg.GitHubAppSecretARN != "" { // first: it holds the rotator's account ID
		pairs = append(pairs, p.cfg.GitHubAppSecretARN, "${"+iampolicies.GitHubAppSecretARN+"}")
	}
	return strings.NewReplacer(append(pairs,
		p.cfg.RotatorAccountID, "${"+iampolicies.RotatorAccountID+"}",
		p.cfg.ManagementAccountID, "${"+iampolicies.ManagementAccountID+"}",
		p.cfg.OrganizationID, "${"+iampolicies.OrganizationID+"}",
		p.cfg.SenderEmail, "${"+iampolicies.SenderEmail+"}",
		":identity/"+domain, ":identity/${"+iampolicies.SenderDomain+"}",
		":role/"+p.cfg.MemberRoleName, ":role/${"+iampolicies.MemberRoleName+"}",
	)...).Replace(roleNameLiteral(s, p.cfg.MemberRoleName))
}

// roleNameLiteral makes the member role's name, on its own, its placeholder, and NotifyUser's
// role's name the name made from the placeholder.
func roleNameLiteral(s, memberRole string) string {
	switch s {
	case memberRole:
		return "${" + iampolicies.MemberRoleName + "}"
	case config.NotifyMemberRoleName(memberRole):
		return config.NotifyMemberRoleName("${" + iampolicies.MemberRoleName + "}")
	}
	return s
}
