package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestSecurityHubImportsFindingsAsAWS: BatchImportFindings answers as Security Hub does
// (moto takes any finding with a resource): refused before Security Hub is enabled in the
// account; 1 to 100 findings a request; a finding without a required attribute, of another
// account, or under another product than the caller's default one fails alone.
func TestSecurityHubImportsFindingsAsAWS(t *testing.T) {
	ctx := context.Background()
	sb := sandboxtest.New(t, loadScenario(t))
	who, err := sts.NewFromConfig(sb.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(who.Account)
	hub := securityhub.NewFromConfig(sb.Config())
	region := sb.Config().Region
	finding := func(id string) shtypes.AwsSecurityFinding {
		return shtypes.AwsSecurityFinding{SchemaVersion: aws.String("2018-10-08"), Id: aws.String(id), GeneratorId: aws.String("test"),
			ProductArn:   aws.String(fmt.Sprintf("arn:aws:securityhub:%s:%s:product/%s/default", region, account, account)),
			AwsAccountId: aws.String(account), Types: []string{"Software and Configuration Checks"},
			CreatedAt: aws.String("2026-12-01T13:00:00Z"), UpdatedAt: aws.String("2026-12-01T13:00:00Z"),
			Severity: &shtypes.Severity{Label: shtypes.SeverityLabelMedium}, Title: aws.String("t"), Description: aws.String("d"),
			Resources: []shtypes.Resource{{Type: aws.String("AwsIamUser"), Id: aws.String("arn:aws:iam::111111111111:user/u")}}}
	}
	code := func(err error) string {
		var api smithy.APIError
		if errors.As(err, &api) {
			return api.ErrorCode()
		}
		return fmt.Sprint(err)
	}

	if _, err := hub.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{finding("ok")}}); code(err) != "InvalidAccessException" {
		t.Errorf("import before Security Hub is enabled: %v, want InvalidAccessException", err)
	}
	if _, err := hub.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	otherAccount, otherProduct, untitled := finding("other-account"), finding("other-product"), finding("untitled")
	otherAccount.AwsAccountId = aws.String("111111111111")
	otherProduct.ProductArn = aws.String(fmt.Sprintf("arn:aws:securityhub:%s:111111111111:product/111111111111/default", region))
	untitled.Title = aws.String("")
	out, err := hub.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: []shtypes.AwsSecurityFinding{
		finding("ok"), otherAccount, otherProduct, untitled}})
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range out.FailedFindings {
		failed = append(failed, aws.ToString(f.Id))
	}
	slices.Sort(failed)
	if aws.ToInt32(out.SuccessCount) != 1 || !slices.Equal(failed, []string{"other-account", "other-product", "untitled"}) {
		t.Errorf("imported %d, failed %v; want ok imported and the other three failed", aws.ToInt32(out.SuccessCount), failed)
	}
	var many []shtypes.AwsSecurityFinding
	for i := range 101 {
		many = append(many, finding(fmt.Sprint("many-", i)))
	}
	if _, err := hub.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: many}); code(err) != "InvalidInputException" {
		t.Errorf("import of 101 findings: %v, want InvalidInputException", err)
	}
}
