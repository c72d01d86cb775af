package awsclient

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
)

// TestRecordCalls: each call is one line naming its principal (the assumed role's session,
// or none for the base credentials), operation, identifying fields and the tag keys it
// writes, and no line holds a secret, not even the one CreateAccessKey answers.
func TestRecordCalls(t *testing.T) {
	const newSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzNEWSECRET"
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "base-secret", ""),
		HTTPClient: canned{
			"AssumeRole": `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAMEMBER</AccessKeyId>` +
				`<SecretAccessKey>session-secret</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>` +
				`</Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/provisioning-admin/key-rotator-test</Arn>` +
				`<AssumedRoleId>AROA:key-rotator-test</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
			"CreateAccessKey": `<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>alice</UserName>` +
				`<AccessKeyId>AKIANEW</AccessKeyId><Status>Active</Status><SecretAccessKey>` + newSecret + `</SecretAccessKey>` +
				`</AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>`,
			"TagUser":      `<TagUserResponse/>`,
			"ListUserTags": `<ListUserTagsResponse><ListUserTagsResult><Tags><member><Key>EmailID</Key><Value>a@example.com</Value></member></Tags><IsTruncated>false</IsTruncated></ListUserTagsResult></ListUserTagsResponse>`,
		}}
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	recorded := RecordCalls(base, path)
	member := iam.NewFromConfig(AssumeRole(recorded, RoleARN("aws", "111122223333", "provisioning-admin"), "key-rotator-test"))
	ctx := context.Background()
	if _, err := member.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := member.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"),
		Tags: []iamtypes.Tag{{Key: aws.String("key-rotator:pending"), Value: aws.String("AKIANEW")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := member.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{newSecret, "session-secret", "base-secret", "a@example.com"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the call log holds %q:\n%s", secret, data)
		}
	}
	var got []calllog.Call
	for line := range strings.Lines(string(data)) {
		var c calllog.Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, c)
	}
	session := "arn:aws:sts::111122223333:assumed-role/provisioning-admin/key-rotator-test"
	want := []calllog.Call{
		{Service: "STS", Operation: "AssumeRole", Region: "us-east-1", Params: map[string]string{
			"RoleArn": "arn:aws:iam::111122223333:role/provisioning-admin", "RoleSessionName": "key-rotator-test"}},
		{Principal: session, Service: "IAM", Operation: "CreateAccessKey", Region: "us-east-1", Params: map[string]string{"UserName": "alice"}},
		{Principal: session, Service: "IAM", Operation: "TagUser", Region: "us-east-1", Params: map[string]string{"UserName": "alice"},
			TagKeys: []string{"key-rotator:pending"}},
		{Principal: session, Service: "IAM", Operation: "ListUserTags", Region: "us-east-1", Params: map[string]string{"UserName": "alice"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("recorded\n%+v\nwant\n%+v", got, want)
	}
}
