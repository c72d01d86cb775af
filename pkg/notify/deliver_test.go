package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
)

// TestRecordOnlyPolicy: in a member account NotifyUser may read tags and write the notices
// tag, nothing else, whatever the member role allows.
func TestRecordOnlyPolicy(t *testing.T) {
	var doc struct {
		Statement []struct {
			Effect    string
			Action    string
			Condition map[string]map[string][]string
		}
	}
	if err := json.Unmarshal([]byte(recordOnlyPolicy), &doc); err != nil {
		t.Fatalf("the session policy is not JSON: %v", err)
	}
	var actions []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %+v: want Allow only", s)
		}
		actions = append(actions, s.Action)
		if s.Action == "iam:TagUser" && !slices.Equal(s.Condition["ForAllValues:StringEquals"]["aws:TagKeys"], []string{history.NoticesTag}) {
			t.Errorf("iam:TagUser is not limited to %s: %v", history.NoticesTag, s.Condition)
		}
	}
	if slices.Sort(actions); !slices.Equal(actions, []string{"iam:ListUserTags", "iam:TagUser"}) {
		t.Errorf("session policy allows %v, want iam:ListUserTags and iam:TagUser", actions)
	}
}

// TestSecretWriteOnlyPolicy: NotifyUser's session for writing keys to member secrets may
// describe and write only secrets carrying the opt-in tag key, and use KMS only through
// Secrets Manager.
func TestSecretWriteOnlyPolicy(t *testing.T) {
	var doc struct {
		Statement []struct {
			Effect    string
			Action    []string
			Resource  string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(secretWriteOnlyPolicy), &doc); err != nil {
		t.Fatalf("the session policy is not JSON: %v", err)
	}
	var actions []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %+v: want Allow only", s)
		}
		for _, a := range s.Action {
			actions = append(actions, a)
			switch service, _, _ := strings.Cut(a, ":"); service {
			case "secretsmanager":
				if s.Condition["Null"]["secretsmanager:ResourceTag/"+appsecret.OptInTag] != "false" {
					t.Errorf("%s is not limited to secrets tagged %s: %v", a, appsecret.OptInTag, s.Condition)
				}
			case "kms":
				if s.Condition["StringLike"]["kms:ViaService"] != "secretsmanager.*.amazonaws.com" {
					t.Errorf("%s is not limited to Secrets Manager: %v", a, s.Condition)
				}
			}
		}
	}
	want := []string{"kms:Decrypt", "kms:GenerateDataKey", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}
	if slices.Sort(actions); !slices.Equal(actions, want) {
		t.Errorf("session policy allows %v, want %v", actions, want)
	}
}

// assumeRoleARN answers STS AssumeRole and IAM ListUserTags, and records the RoleArn assumed.
type assumeRoleARN struct{ roleARNs []string }

func (c *assumeRoleARN) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
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

// TestMemberHistoryAssumesTheRoleOfTheDeploymentsPartition: the member role's ARN takes its
// partition from the PARTITION setting (the stack's AWS::Partition), not from the region.
func TestMemberHistoryAssumesTheRoleOfTheDeploymentsPartition(t *testing.T) {
	tests := []struct{ partition, region, want string }{
		{"aws-cn", "cn-north-1", "arn:aws-cn:iam::111122223333:role/provisioning-admin"},
		{"aws-us-gov", "us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/provisioning-admin"},
		{"", "us-east-1", "arn:aws:iam::111122223333:role/provisioning-admin"},
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
