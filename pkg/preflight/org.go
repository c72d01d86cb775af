package preflight

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// OrganizationsAPI is what the organization's checks read, in the management account.
type OrganizationsAPI interface {
	DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	ListAWSServiceAccessForOrganization(context.Context, *organizations.ListAWSServiceAccessForOrganizationInput, ...func(*organizations.Options)) (*organizations.ListAWSServiceAccessForOrganizationOutput, error)
	ListDelegatedAdministrators(context.Context, *organizations.ListDelegatedAdministratorsInput, ...func(*organizations.Options)) (*organizations.ListDelegatedAdministratorsOutput, error)
}

// StackSetsPrincipal is the service principal of service-managed StackSets, which deploy the
// member role to every account.
const StackSetsPrincipal = "member.org.stacksets.cloudformation.amazonaws.com"

// Organization returns the checks of the organization the member role's StackSet deploys to:
// all features on, trusted access for StackSets, and, when the StackSet is administered from
// another account than the management account (stackSetAdmin, "" for the management
// account), that account registered as a delegated administrator for StackSets.
func Organization(api OrganizationsAPI, stackSetAdmin string) []Check {
	readFix := "run preflight with --management-profile naming credentials of the organization's management account " +
		"(organizations:Describe*, organizations:List*)"
	checks := []Check{
		func(ctx context.Context) Result {
			const name = "Organizations all features"
			out, err := api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
			switch {
			case err != nil:
				return cannotTell(name, fmt.Errorf("describe the organization (organizations:DescribeOrganization): %w", err), readFix)
			case out.Organization == nil || out.Organization.FeatureSet != orgtypes.OrganizationFeatureSetAll:
				feature := orgtypes.OrganizationFeatureSet("unknown")
				if out.Organization != nil {
					feature = out.Organization.FeatureSet
				}
				return fail(name, fmt.Sprintf("the organization's feature set is %s: service-managed StackSets, which deploy the member role, need all features", feature),
					"Organizations console → Settings → Begin process to enable all features (aws organizations enable-all-features); "+
						"each account that joined by invitation accepts its handshake (accounts the organization created need not), "+
						"then the management account finalizes: aws organizations list-handshakes-for-account --filter ActionType=APPROVE_ALL_FEATURES, "+
						"then aws organizations accept-handshake --handshake-id <its Id> (or the console's Finalize)")
			}
			return pass(name, "all features are enabled")
		},
		func(ctx context.Context) Result {
			const name = "StackSets trusted access"
			var enabled []string
			p := organizations.NewListAWSServiceAccessForOrganizationPaginator(api, &organizations.ListAWSServiceAccessForOrganizationInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return cannotTell(name, fmt.Errorf("list the services with trusted access (organizations:ListAWSServiceAccessForOrganization): %w", err), readFix)
				}
				for _, s := range page.EnabledServicePrincipals {
					enabled = append(enabled, aws.ToString(s.ServicePrincipal))
				}
			}
			if !slices.Contains(enabled, StackSetsPrincipal) {
				return fail(name, "CloudFormation StackSets has no trusted access to the organization: the member role's StackSet cannot deploy",
					"CloudFormation console → StackSets → Activate trusted access (or aws organizations enable-aws-service-access --service-principal "+StackSetsPrincipal+")")
			}
			return pass(name, "StackSets may deploy to the organization's accounts")
		},
	}
	if stackSetAdmin == "" {
		return checks
	}
	return append(checks, func(ctx context.Context) Result {
		const name = "StackSets delegated administrator"
		var admins []string
		p := organizations.NewListDelegatedAdministratorsPaginator(api, &organizations.ListDelegatedAdministratorsInput{ServicePrincipal: aws.String(StackSetsPrincipal)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return cannotTell(name, fmt.Errorf("list the delegated administrators (organizations:ListDelegatedAdministrators): %w", err), readFix)
			}
			for _, a := range page.DelegatedAdministrators {
				admins = append(admins, aws.ToString(a.Id))
			}
		}
		if !slices.Contains(admins, stackSetAdmin) {
			return fail(name, fmt.Sprintf("account %s administers the member role's StackSet (stackSetAdminAccountId) but is not a delegated administrator for StackSets (those are %v)",
				stackSetAdmin, admins),
				"in the management account: aws organizations register-delegated-administrator --account-id "+stackSetAdmin+" --service-principal "+StackSetsPrincipal)
		}
		return pass(name, fmt.Sprintf("account %s is a delegated administrator for StackSets", stackSetAdmin))
	})
}
