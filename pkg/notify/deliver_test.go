package notify

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// assumeRoleARN answers STS AssumeRole, IAM ListUserTags and Secrets Manager, and records the RoleArn assumed.
type assumeRoleARN struct{ roleARNs []string }

func (c *assumeRoleARN) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "secretsmanager.") {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
			Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
	}
	answer := `<ListUserTagsResponse><ListUserTagsResult><Tags/><IsTruncated>false</IsTruncated></ListUserTagsResult></ListUserTagsResponse>`
	if form.Get("Action") == "AssumeRole" {
		c.roleARNs = append(c.roleARNs, form.Get("RoleArn"))
		answer = `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAMEMBER</AccessKeyId>` +
			`<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>` +
			`</Credentials></AssumeRoleResult></AssumeRoleResponse>`
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader(answer)), Request: req}, nil
}

// TestMemberHistoryAssumesTheRoleOfTheDeploymentsPartition: NotifyUser's role's ARN takes its
// partition from the PARTITION setting (the stack's AWS::Partition), not from the region.
func TestMemberHistoryAssumesTheRoleOfTheDeploymentsPartition(t *testing.T) {
	tests := []struct{ partition, region, want string }{
		{"aws-cn", "cn-north-1", "arn:aws-cn:iam::111122223333:role/provisioning-admin-notify"},
		{"aws-us-gov", "us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/provisioning-admin-notify"},
		{"", "us-east-1", "arn:aws:iam::111122223333:role/provisioning-admin-notify"},
	}
	for _, tt := range tests {
		t.Run(tt.partition, func(t *testing.T) {
			settings, err := config.Load(func(name string) string { return map[string]string{config.Partition: tt.partition}[name] })
			if err != nil {
				t.Fatal(err)
			}
			stub := &assumeRoleARN{}
			base := aws.Config{Region: tt.region, HTTPClient: stub, Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "secret", "")}
			tags := MemberHistory(base, settings.Partition, settings.MemberRoleName)("111122223333")
			if _, err := tags.ListUserTags(context.Background(), &iam.ListUserTagsInput{UserName: aws.String("alice")}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(stub.roleARNs, []string{tt.want}) {
				t.Errorf("assumed %v, want %s", stub.roleARNs, tt.want)
			}
		})
	}
}

// TestNotifyUserAssumesItsOwnRoleInMemberAccounts: NotifyUser records notices and writes
// machine users' keys through its own role in the member account, the member role's name
// with -notify, never the member role (which can create and delete keys, and trusts only
// ScanAndRotate).
func TestNotifyUserAssumesItsOwnRoleInMemberAccounts(t *testing.T) {
	stub := &assumeRoleARN{}
	base := aws.Config{Region: "us-east-1", HTTPClient: stub, Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "secret", "")}
	ctx := context.Background()
	if _, err := MemberHistory(base, "aws", "provisioning-admin")("111122223333").ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := MemberSecrets(base, "aws", "provisioning-admin")("111122223333").DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("ci/deployer")}); err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:iam::111122223333:role/provisioning-admin-notify"
	if !slices.Equal(stub.roleARNs, []string{want, want}) {
		t.Errorf("NotifyUser assumed %v, want its own role %s for the notices and for the secret", stub.roleARNs, want)
	}
}
