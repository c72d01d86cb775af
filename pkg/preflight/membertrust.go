package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// StackSetAPI reads the member role's StackSet: its template and its last drift detection.
type StackSetAPI interface {
	DescribeStackSet(context.Context, *cloudformation.DescribeStackSetInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackSetOutput, error)
}

// MemberTrust passes when the template the member role's StackSet deploys in every member
// account trusts as the stack synthesizes it: the member role (memberRole) only ScanAndRotate's
// role of the rotator's account, NotifyUser's member role (memberRole + config.NotifyRoleSuffix)
// only NotifyUser's, each inside the organization (aws:PrincipalOrgID), and when the StackSet's
// last drift detection found no instance changed since. account and partition are the
// rotator's; delegated: the StackSet is administered from a delegated administrator account.
func MemberTrust(api StackSetAPI, stackSet, memberRole, account, partition string, delegated bool) Check {
	return func(ctx context.Context) Result {
		const name = "member role trust"
		callAs := cfntypes.CallAsSelf
		if delegated {
			callAs = cfntypes.CallAsDelegatedAdmin
		}
		out, err := api.DescribeStackSet(ctx, &cloudformation.DescribeStackSetInput{StackSetName: aws.String(stackSet), CallAs: callAs})
		if err != nil {
			return cannotTell(name, fmt.Errorf("CloudFormation DescribeStackSet %s: %w", stackSet, err), notDeployed+" (the management stack holds the StackSet)")
		}
		role := func(n string) string { return "arn:" + partition + ":iam::" + account + ":role/" + n }
		trusted := map[string]string{memberRole: role(statemachine.ScanRoleName), config.NotifyMemberRoleName(memberRole): role(statemachine.NotifyRoleName)}
		findings, err := trustFindings(aws.ToString(out.StackSet.TemplateBody), trusted, partition)
		if err != nil {
			return cannotTell(name, fmt.Errorf("the template of StackSet %s: %w", stackSet, err), "read it with aws cloudformation describe-stack-set --stack-set-name "+stackSet)
		}
		drift := out.StackSet.StackSetDriftDetectionDetails
		if drift != nil && drift.DriftStatus == cfntypes.StackSetDriftStatusDrifted {
			findings = append(findings, fmt.Sprintf("its last drift detection (%s) found %d stack instances changed since they were deployed",
				aws.ToTime(drift.LastDriftCheckTimestamp).Format("2006-01-02"), aws.ToInt32(drift.DriftedStackInstancesCount)))
		}
		if len(findings) > 0 {
			return fail(name, fmt.Sprintf("StackSet %s does not deploy the member roles as the stack synthesizes them: %s", stackSet, strings.Join(findings, "; ")),
				"deploy the management stack again (npx cdk deploy), which puts the template back, and find out who changed it (CloudTrail UpdateStackSet, or the drifted instances' IAM changes)")
		}
		detail := fmt.Sprintf("StackSet %s's member roles trust only the rotator's roles (%s, %s), inside the organization", stackSet, statemachine.ScanRoleName, statemachine.NotifyRoleName)
		if drift == nil || drift.DriftStatus != cfntypes.StackSetDriftStatusInSync {
			detail += "; no drift detection says the deployed roles are still so: aws cloudformation detect-stack-set-drift --stack-set-name " + stackSet
		}
		return pass(name, detail)
	}
}

// trustFindings lists how a StackSet template's member roles depart from trusting only their
// function's role (trusted: role name → the one principal allowed), inside the organization.
func trustFindings(template string, trusted map[string]string, partition string) ([]string, error) {
	var doc struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				RoleName                 string
				AssumeRolePolicyDocument struct{ Statement []keyPolicyStatement }
			}
		}
	}
	if err := json.Unmarshal([]byte(template), &doc); err != nil {
		return nil, err
	}
	var findings []string
	found := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(doc.Resources)) {
		r := doc.Resources[id]
		want, ours := trusted[r.Properties.RoleName]
		if r.Type != "AWS::IAM::Role" || !ours {
			continue
		}
		found[r.Properties.RoleName] = true
		allowed := false
		for _, st := range r.Properties.AssumeRolePolicyDocument.Statement {
			if st.Effect != "Allow" || !grants(st.Action, "sts:AssumeRole") {
				continue
			}
			for _, p := range principals(substituted(st.Principal, partition)) {
				if p != want {
					findings = append(findings, fmt.Sprintf("role %s trusts %s (statement %q)", r.Properties.RoleName, p, st.Sid))
					continue
				}
				allowed = true
				if !inOrganization(st.Condition) {
					findings = append(findings, fmt.Sprintf("role %s trusts %s without the condition aws:PrincipalOrgID", r.Properties.RoleName, p))
				}
			}
		}
		if !allowed {
			findings = append(findings, fmt.Sprintf("role %s does not trust %s: the rotator cannot assume it", r.Properties.RoleName, want))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(trusted)) {
		if !found[n] {
			findings = append(findings, fmt.Sprintf("the template has no role %s", n))
		}
	}
	return findings, nil
}

// substituted resolves a principal's Fn::Sub of the template (the partition is all the
// member template substitutes in a principal).
func substituted(principal any, partition string) any {
	m, ok := principal.(map[string]any)
	if !ok {
		return principal
	}
	out := map[string]any{}
	for kind, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if expr, ok := sub["Fn::Sub"].(string); ok {
				v = strings.ReplaceAll(expr, "${AWS::Partition}", partition)
			}
		}
		out[kind] = v
	}
	return out
}

func inOrganization(conditions map[string]map[string]any) bool {
	for _, values := range conditions {
		for key := range values {
			if strings.EqualFold(key, "aws:PrincipalOrgID") {
				return true
			}
		}
	}
	return false
}
