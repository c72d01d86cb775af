package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
)

// StackSetsAPI is what the member role's check reads in the account administering its
// StackSet.
type StackSetsAPI interface {
	ListStackInstances(context.Context, *cloudformation.ListStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackInstancesOutput, error)
}

// ManagementAPI tells the organization's management account.
type ManagementAPI interface {
	DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
}

// MemberRoles is where the member role's StackSet stands: the check passes when every
// account a run processes (sel) but the management account, where the management stack makes
// the roles, has a stack instance that succeeded, and names the accounts without one, or whose
// instance failed (a role named memberRole that the StackSet did not create is the usual
// cause), each with the instance's reason. delegated: the StackSet is administered from a
// delegated administrator account (CallAs DELEGATED_ADMIN).
func MemberRoles(cfn StackSetsAPI, orgAPI ManagementAPI, sel *Selection, stackSet, memberRole string, delegated bool) Check {
	return func(ctx context.Context) Result {
		const name = "member role StackSet"
		callAs := cfntypes.CallAsSelf
		if delegated {
			callAs = cfntypes.CallAsDelegatedAdmin
		}
		instances := map[string]cfntypes.StackInstanceSummary{}
		p := cloudformation.NewListStackInstancesPaginator(cfn, &cloudformation.ListStackInstancesInput{StackSetName: aws.String(stackSet), CallAs: callAs})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			var notFound *cfntypes.StackSetNotFoundException
			switch {
			case errors.As(err, &notFound):
				return cannotTell(name, fmt.Errorf("the StackSet %s does not exist yet", stackSet),
					"deploy the stacks (npx cdk deploy --all), then run preflight again")
			case err != nil:
				return cannotTell(name, fmt.Errorf("CloudFormation ListStackInstances %s: %w", stackSet, err),
					"run preflight with the credentials of the account administering the StackSet (cloudformation:ListStackInstances)")
			}
			for _, in := range page.Summaries {
				instances[aws.ToString(in.Account)] = in
			}
		}
		readFix := "run preflight with --management-profile (organizations:List*, organizations:DescribeOrganization)"
		selection, err := sel.get(ctx)
		if err != nil {
			return cannotTell(name, err, readFix)
		}
		desc, err := orgAPI.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		if err != nil {
			return cannotTell(name, fmt.Errorf("describe the organization (organizations:DescribeOrganization): %w", err), readFix)
		}
		management := aws.ToString(desc.Organization.MasterAccountId)
		var missing, failed, regions, ous []string
		roleTaken, processed := false, 0
		for _, id := range selection.Selected {
			if id == management {
				continue
			}
			processed++
			in, ok := instances[id]
			switch {
			case !ok:
				missing = append(missing, id)
			case in.Status != cfntypes.StackInstanceStatusCurrent || (in.StackInstanceStatus != nil && in.StackInstanceStatus.DetailedStatus != cfntypes.StackInstanceDetailedStatusSucceeded):
				reason := aws.ToString(in.StatusReason)
				roleTaken = roleTaken || strings.Contains(reason, memberRole+" already exists")
				failed = append(failed, fmt.Sprintf("%s (%s: %s)", id, in.Status, reason))
				if r := aws.ToString(in.Region); r != "" && !slices.Contains(regions, r) {
					regions = append(regions, r)
				}
				if ou := aws.ToString(in.OrganizationalUnitId); ou != "" && !slices.Contains(ous, ou) {
					ous = append(ous, ou)
				}
			}
		}
		if len(missing) == 0 && len(failed) == 0 {
			return pass(name, fmt.Sprintf("all %d member accounts a run processes have the member role from StackSet %s", processed, stackSet))
		}
		var problems, fixes []string
		if roleTaken {
			// First: a retry fails again while the role is there.
			fixes = append(fixes, fmt.Sprintf("where a role named %s already exists, delete or rename it in that account, or choose another memberRoleName", memberRole))
		}
		if len(failed) > 0 {
			problems = append(problems, fmt.Sprintf("%d accounts where its instance failed: %s", len(failed), strings.Join(head(failed), "; ")))
			// A service-managed StackSet's instances are retried by OU and region.
			target, where := "<the OU of each account named>", "<the StackSet's regions>"
			if len(ous) > 0 {
				target = strings.Join(ous, ",")
			}
			if len(regions) > 0 {
				where = strings.Join(regions, " ")
			}
			retry := "aws cloudformation update-stack-instances --stack-set-name " + stackSet +
				" --deployment-targets OrganizationalUnitIds=" + target + " --regions " + where
			if delegated {
				retry += " --call-as DELEGATED_ADMIN"
			}
			fixes = append(fixes, "read each failed instance's reason (CloudFormation console → StackSets → "+stackSet+" → Stack instances), fix it, then retry: "+retry)
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%d accounts without an instance: %s", len(missing), strings.Join(head(missing), ", ")))
			fixes = append(fixes, "add their OUs to stackSetTargets (cdk.json) and deploy, or exclude them (excludeAccounts, excludeOus, the exclusion tag)")
		}
		return fail(name, "the rotator cannot assume its role in "+strings.Join(problems, "; and in ")+": their runs fail every day", strings.Join(fixes, "; "))
	}
}

// head is the first 20 of a list, and how many more there are.
func head(items []string) []string {
	const most = 20
	if len(items) <= most {
		return items
	}
	return append(slices.Clone(items[:most]), fmt.Sprintf("and %d more", len(items)-most))
}
