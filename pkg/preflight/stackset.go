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
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// StackSetsAPI is what the member role's check reads in the account administering its
// StackSet.
type StackSetsAPI interface {
	ListStackInstances(context.Context, *cloudformation.ListStackInstancesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackInstancesOutput, error)
}

// AccountsAPI lists the organization's accounts, in the management account.
type AccountsAPI interface {
	organizations.ListAccountsAPIClient
	DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
}

// MemberRoles is where the member role's StackSet stands: the check passes when every ACTIVE
// account of the organization but the management account and the excluded ones has a stack
// instance that succeeded, and names the accounts without one, or whose instance failed (a
// role named memberRole that the StackSet did not create is the usual cause), each with the
// instance's reason. delegated: the StackSet is administered from a delegated administrator
// account (CallAs DELEGATED_ADMIN).
func MemberRoles(cfn StackSetsAPI, org AccountsAPI, stackSet, memberRole string, excluded []string, delegated bool) Check {
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
		active, management, err := activeAccounts(ctx, org)
		if err != nil {
			return cannotTell(name, err, "run preflight with --management-profile (organizations:ListAccounts, organizations:DescribeOrganization)")
		}
		var missing, failed []string
		roleTaken, processed := false, 0
		for _, id := range active {
			if id == management || slices.Contains(excluded, id) {
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
			}
		}
		if len(missing) == 0 && len(failed) == 0 {
			return pass(name, fmt.Sprintf("all %d ACTIVE member accounts not in excludeAccounts have the member role from StackSet %s", processed, stackSet))
		}
		var problems, fixes []string
		if len(failed) > 0 {
			problems = append(problems, fmt.Sprintf("%d accounts where its instance failed: %s", len(failed), strings.Join(head(failed), "; ")))
			fixes = append(fixes, "read each failed instance's reason (CloudFormation console → StackSets → "+stackSet+" → Stack instances), fix it, then retry: aws cloudformation update-stack-instances --stack-set-name "+stackSet)
		}
		if roleTaken {
			fixes = append(fixes, fmt.Sprintf("where a role named %s already exists, delete or rename it in that account, or choose another memberRoleName", memberRole))
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%d ACTIVE accounts without an instance: %s", len(missing), strings.Join(head(missing), ", ")))
			fixes = append(fixes, "add their OUs to stackSetTargets (cdk.json) and deploy, or list them in excludeAccounts "+
				"(this check knows the accounts excludeAccounts and --exclude-accounts name, not those excluded by OU or tag)")
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

// activeAccounts returns the IDs of the organization's ACTIVE accounts and the management
// account's.
func activeAccounts(ctx context.Context, org AccountsAPI) ([]string, string, error) {
	desc, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, "", fmt.Errorf("describe the organization (organizations:DescribeOrganization): %w", err)
	}
	var ids []string
	p := organizations.NewListAccountsPaginator(org, &organizations.ListAccountsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("list the accounts (organizations:ListAccounts): %w", err)
		}
		for _, a := range page.Accounts {
			if a.State == orgtypes.AccountStateActive {
				ids = append(ids, aws.ToString(a.Id))
			}
		}
	}
	return ids, aws.ToString(desc.Organization.MasterAccountId), nil
}
