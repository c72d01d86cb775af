package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestE2EStandInEnforcesParameterTagCondition: as on AWS, the grants on SSM parameters of
// the rotator's roles in the member account, conditioned on the tag key key-rotator:user
// (ssm:resourceTag), let them list the tags of a parameter carrying that key and deny them
// one without it or one that does not exist; NotifyUser's role may overwrite such a
// parameter, and only overwrite (ssm:Overwrite); the member role (ScanAndRotate's) writes
// none. Both may describe parameters (no resource-level permission). moto alone evaluates
// none of these conditions and would allow all of them.
func TestE2EStandInEnforcesParameterTagCondition(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ssm-delivery.json")
	ctx := context.Background()
	o.resources(t) // the rotator's roles
	file, err := permissions.Load()
	if err != nil {
		t.Fatal(err)
	}
	in := func(function, roleName string) *ssm.Client {
		role, err := file.Role(function)
		if err != nil {
			t.Fatal(err)
		}
		fn := awsclient.AssumeRole(o.sb.Config(), awsclient.RoleARN(sandbox.Partition, o.id(t, "management"), role.RoleName), "enforcement-test")
		return ssm.NewFromConfig(awsclient.AssumeRole(fn, awsclient.RoleARN(sandbox.Partition, o.id(t, "prod"), roleName), "enforcement-test"))
	}
	notify := in(statemachine.NotifyUser, config.NotifyMemberRoleName(o.settings.MemberRole))
	scan := in(statemachine.ScanAndRotate, o.settings.MemberRole)
	isDenied := func(err error) bool {
		var apiErr smithy.APIError
		return errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied")
	}
	put := func(c *ssm.Client, name string, overwrite bool) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("{}"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(overwrite)})
		return err
	}
	for _, tc := range []struct {
		param   string
		allowed bool
	}{
		{"/ci/deployer", true},  // key-rotator:user=deployer
		{"/ci/reporter", false}, // team=data only
		{"/ci/no-such-parameter", false},
	} {
		tags := func(c *ssm.Client) error {
			_, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(tc.param)})
			return err
		}
		for _, c := range []struct {
			what    string
			err     error
			allowed bool
		}{
			{"NotifyUser's role's ListTagsForResource", tags(notify), tc.allowed},
			{"the member role's ListTagsForResource", tags(scan), tc.allowed},
			{"NotifyUser's role's PutParameter without Overwrite", put(notify, tc.param, false), false},
			{"NotifyUser's role's PutParameter", put(notify, tc.param, true), tc.allowed},
			{"the member role's PutParameter", put(scan, tc.param, true), false},
		} {
			if isDenied(c.err) == c.allowed || c.allowed && c.err != nil {
				t.Errorf("%s of %s: error %v, want allowed %v", c.what, tc.param, c.err, c.allowed)
			}
		}
	}
	for what, c := range map[string]*ssm.Client{"NotifyUser's role": notify, "the member role": scan} {
		if _, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{}); err != nil {
			t.Errorf("%s's DescribeParameters: %v, want allowed", what, err)
		}
	}
}
