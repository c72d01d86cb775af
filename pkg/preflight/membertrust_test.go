package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

type fakeStackSetTemplate struct {
	template string
	drift    *cfntypes.StackSetDriftDetectionDetails
	err      error
}

func (f fakeStackSetTemplate) DescribeStackSet(context.Context, *cloudformation.DescribeStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackSetOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &cloudformation.DescribeStackSetOutput{StackSet: &cfntypes.StackSet{TemplateBody: aws.String(f.template), StackSetDriftDetectionDetails: f.drift}}, nil
}

// memberTemplate is the member roles' template as infra/stacks MemberRoleTemplate writes it
// (trustedBy: Fn::Sub of the partition, aws:PrincipalOrgID), a role's trust changed by edit.
func memberTemplate(edit func(role string, trust map[string]any)) string {
	trust := func(role, function string) map[string]any {
		t := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole",
			"Principal": map[string]any{"AWS": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::222222222222:role/" + function}},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": "o-exampleorg1"}}}}}
		if edit != nil {
			edit(role, t)
		}
		return t
	}
	out, err := json.Marshal(map[string]any{"Resources": map[string]any{
		"MemberRole": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"RoleName": "provisioning-admin",
			"AssumeRolePolicyDocument": trust("provisioning-admin", "iam-access-key-rotator-role")}},
		"NotifyMemberRole": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"RoleName": "provisioning-admin-notify",
			"AssumeRolePolicyDocument": trust("provisioning-admin-notify", "iam-access-key-rotator-notify-role")}},
	}})
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestMemberTrustIsTheSynthesizedOne: the template as synthesized passes; a member role that
// trusts another principal, trusts without the organization condition, no longer trusts its
// function, or is missing fails naming it; and so does a StackSet whose drift detection
// found instances changed.
func TestMemberTrustIsTheSynthesizedOne(t *testing.T) {
	addPrincipal := func(p string) func(string, map[string]any) {
		return func(role string, trust map[string]any) {
			if role == "provisioning-admin" {
				trust["Statement"] = append(trust["Statement"].([]any), map[string]any{"Sid": "BreakGlass", "Effect": "Allow", "Action": "sts:*", "Principal": map[string]any{"AWS": p}})
			}
		}
	}
	drifted := &cfntypes.StackSetDriftDetectionDetails{DriftStatus: cfntypes.StackSetDriftStatusDrifted, DriftedStackInstancesCount: aws.Int32(3),
		LastDriftCheckTimestamp: aws.Time(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))}
	for _, tt := range []struct {
		name string
		f    fakeStackSetTemplate
		want Verdict
		says string
	}{
		{"as synthesized, drift never detected", fakeStackSetTemplate{template: memberTemplate(nil)}, Pass, "aws cloudformation detect-stack-set-drift"},
		{"in sync", fakeStackSetTemplate{template: memberTemplate(nil), drift: &cfntypes.StackSetDriftDetectionDetails{DriftStatus: cfntypes.StackSetDriftStatusInSync}}, Pass, "trust only the rotator's roles"},
		{"another account trusted", fakeStackSetTemplate{template: memberTemplate(addPrincipal("arn:aws:iam::999999999999:root"))}, Fail,
			`role provisioning-admin trusts arn:aws:iam::999999999999:root (statement "BreakGlass")`},
		{"outside the organization", fakeStackSetTemplate{template: memberTemplate(func(role string, trust map[string]any) {
			if role == "provisioning-admin-notify" {
				delete(trust["Statement"].([]any)[0].(map[string]any), "Condition")
			}
		})}, Fail, "role provisioning-admin-notify trusts arn:aws:iam::222222222222:role/iam-access-key-rotator-notify-role without the condition aws:PrincipalOrgID"},
		{"the notify role trusts the scan role", fakeStackSetTemplate{template: strings.Replace(memberTemplate(nil), "role/iam-access-key-rotator-notify-role", "role/iam-access-key-rotator-role", 1)}, Fail,
			"role provisioning-admin-notify does not trust arn:aws:iam::222222222222:role/iam-access-key-rotator-notify-role"},
		{"a role missing", fakeStackSetTemplate{template: `{"Resources":{"Marker":{"Type":"AWS::SSM::Parameter"}}}`}, Fail, "the template has no role provisioning-admin"},
		{"drifted", fakeStackSetTemplate{template: memberTemplate(nil), drift: drifted}, Fail, "its last drift detection (2026-12-01) found 3 stack instances changed"},
		{"not deployed", fakeStackSetTemplate{err: errors.New("StackSetNotFoundException")}, CannotTell, "StackSetNotFoundException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := MemberTrust(tt.f, "iam-access-key-rotator-member-role", "provisioning-admin", "222222222222", "aws", false)(context.Background())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.says) || r.Verdict != Pass && r.Fix == "" {
				t.Errorf("%s: %s (fix %q), want %s saying %q", r.Verdict, r.Detail, r.Fix, tt.want, tt.says)
			}
		})
	}
}
