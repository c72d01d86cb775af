package stacks

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// nagFindings returns the unsuppressed AwsSolutions errors and warnings of a stack.
func nagFindings(stack awscdk.Stack) (errs, warnings []string) {
	annotations := assertions.Annotations_FromStack(stack)
	awsSolutions := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), awsSolutions) {
		errs = append(errs, mustJSON(m)) // the message type's fields are deprecated aliases
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), awsSolutions) {
		warnings = append(warnings, mustJSON(m))
	}
	return errs, warnings
}

func TestNagAwsSolutions(t *testing.T) {
	b := defaultApp(t)
	for id, stack := range map[string]awscdk.Stack{
		RotatorStackID:        b.stacks.Rotator.Stack,
		ManagementRoleStackID: b.stacks.ManagementRole,
		MemberRoleStackSetID:  b.stacks.MemberRoles,
	} {
		errs, warnings := nagFindings(stack)
		for _, e := range errs {
			t.Errorf("%s: cdk-nag error %s", id, e)
		}
		for _, w := range warnings {
			t.Errorf("%s: cdk-nag warning %s", id, w)
		}
	}
}

// The check above would pass on an app the nag pack never ran on: show it finds things.
func TestNagReportsUnsuppressedFindings(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("Bare"), nil)
	awss3.NewBucket(stack, jsii.String("Bucket"), nil) // no TLS-only policy, no access logs
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	errs, _ := nagFindings(stack)
	joined := strings.Join(errs, "\n")
	if !strings.Contains(joined, "AwsSolutions-S1") || !strings.Contains(joined, "AwsSolutions-S10") {
		t.Errorf("cdk-nag did not report S1 and S10 on a bare bucket; errors:\n%s", joined)
	}
}

// Every cdk-nag suppression carries a reason an auditor can act on.
func TestNagSuppressionsHaveReasons(t *testing.T) {
	count := 0
	for stackID, template := range defaultApp(t).templates {
		for id, r := range template["Resources"].(map[string]any) {
			meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			for _, s := range asList(nag["rules_to_suppress"]) {
				rule := s.(map[string]any)
				count++
				reason, _ := rule["reason"].(string)
				if len(reason) < 40 {
					t.Errorf("%s %s: suppression of %v has no real reason: %q", stackID, id, rule["id"], reason)
				}
				if rule["id"] == "AwsSolutions-IAM5" && rule["applies_to"] == nil {
					t.Errorf("%s %s: an IAM5 suppression must name the findings it covers (applies_to)", stackID, id)
				}
				t.Logf("%s %s: %v %v: %s", stackID, logicalHash.ReplaceAllString(id, ""), rule["id"], resolve(rule["applies_to"]), reason)
			}
		}
	}
	if count == 0 {
		t.Error("no cdk-nag suppression found: the walk misses the metadata")
	}
}
