package awsmodel

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// TestMemberParamsAnswerAsTheMemberRolesOnAWS: the model's member-role SSM (MemberParamsIn)
// answers as the stand-in does once it enforces the member roles' conditions
// (sandbox/e2e TestE2EStandInEnforcesParameterTagCondition, the same table): the tags and the
// overwrite of a parameter carrying the tag key key-rotator:user are allowed, whatever user
// it names; one without it, or missing, is AccessDenied; describing is allowed. (The model
// does not tell NotifyUser's role from ScanAndRotate's, nor PutParameter without Overwrite,
// which the rotator never sends.)
func TestMemberParamsAnswerAsTheMemberRolesOnAWS(t *testing.T) {
	w, _ := newWorld(t)
	const account = "111122223333"
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.CreateAppParameter(account, "/ci/deployer", "SecureString", "{}", map[string]string{config.AppSecretOptInTag: "deployer"}))
	must(w.CreateAppParameter(account, "/ci/reporter", "SecureString", "{}", map[string]string{"team": "data"}))
	member := w.MemberParamsIn(account)
	ctx := context.Background()
	denied := func(err error) bool {
		var apiErr smithy.APIError
		return errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied")
	}
	for _, tc := range []struct {
		param   string
		allowed bool
	}{
		{"/ci/deployer", true},
		{"/ci/reporter", false},
		{"/ci/no-such-parameter", false},
	} {
		_, tagsErr := member.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(tc.param)})
		_, putErr := member.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(tc.param), Value: aws.String("{}"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
		for what, err := range map[string]error{"ListTagsForResource": tagsErr, "PutParameter": putErr} {
			if denied(err) == tc.allowed || tc.allowed && err != nil {
				t.Errorf("%s of %s: error %v, want allowed %v", what, tc.param, err, tc.allowed)
			}
		}
	}
	if _, err := member.DescribeParameters(ctx, &ssm.DescribeParametersInput{}); err != nil {
		t.Errorf("DescribeParameters: %v, want allowed", err)
	}
	if _, ok := w.AppParameter(account, "/ci/no-such-parameter"); ok {
		t.Error("a denied PutParameter created the parameter")
	}
	// A KMS key that denies the role: AccessDenied naming KMS, which pkg/appsecret reads as
	// the key's refusal.
	must(w.DenyMemberParamWrites(account, "/ci/deployer", DenyByKMSKey))
	_, err := member.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/ci/deployer"), Value: aws.String("{}"), Overwrite: aws.Bool(true)})
	if !denied(err) || !strings.Contains(err.Error(), "kms:") {
		t.Errorf("PutParameter that the KMS key denies: %v, want AccessDenied naming kms", err)
	}
}

// TestParameterVersionsAsSSMKeepsThem: an overwrite without a description keeps the current
// one; with Overwrite and tags it is refused; the oldest of 100 versions goes.
func TestParameterVersionsAsSSMKeepsThem(t *testing.T) {
	w, _ := newWorld(t)
	const account = "111122223333"
	ps := w.ParamsIn(account)
	ctx := context.Background()
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("v1"),
		Description: aws.String("mine")}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 101; i++ {
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := w.AppParameter(account, "/p")
	if p.Version != 101 || p.Versions != 100 || p.Description != "mine" || p.Type != "SecureString" || p.KeyID != "alias/aws/ssm" {
		t.Errorf("after 101 writes: %+v, want version 101 of 100 kept, the description, type and key kept", p)
	}
	_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Overwrite: aws.Bool(true),
		Tags: []ssmtypes.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	if err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Errorf("overwrite with tags: %v, want ValidationException", err)
	}
}
