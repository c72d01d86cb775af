package awsclient

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestSessionName(t *testing.T) {
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tests := []struct{ parts []string }{
		{[]string{"scan", "run-2026-11-25"}},
		{[]string{"scan", "a/b c:d"}},
		{[]string{"scan", "0123456789012345678901234567890123456789012345678901234567890123456789"}},
	}
	for _, tt := range tests {
		if got := SessionName(tt.parts...); !valid.MatchString(got) {
			t.Errorf("SessionName(%q) = %q, not a valid STS session name", tt.parts, got)
		}
	}
	if got := SessionName("scan", "a/b"); got != "key-rotator-scan-a_b" {
		t.Errorf("SessionName = %q", got)
	}
}

func TestRoleARN(t *testing.T) {
	tests := []struct{ partition, want string }{
		{"aws", "arn:aws:iam::111122223333:role/provisioning-admin"},
		{"aws-cn", "arn:aws-cn:iam::111122223333:role/provisioning-admin"},
		{"aws-us-gov", "arn:aws-us-gov:iam::111122223333:role/provisioning-admin"},
	}
	for _, tt := range tests {
		if got := RoleARN(tt.partition, "111122223333", "provisioning-admin"); got != tt.want {
			t.Errorf("RoleARN(%s) = %s, want %s", tt.partition, got, tt.want)
		}
	}
}

// canned answers every STS and IAM query with a fixed response by Action.
type canned map[string]string

func (c canned) Do(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	answer, ok := c[form.Get("Action")]
	if !ok {
		return nil, fmt.Errorf("no canned answer for %q", form.Get("Action"))
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}},
		Body: io.NopCloser(strings.NewReader(answer)), Request: req}, nil
}

// TestCallsCountsTheAssumedRolesCalls: the clients of a counted configuration, and of the
// configuration that assumes a role from it, count each call once, the AssumeRole included.
func TestCallsCountsTheAssumedRolesCalls(t *testing.T) {
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "secret", ""),
		HTTPClient: canned{
			"AssumeRole": `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAMEMBER</AccessKeyId>` +
				`<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>` +
				`</Credentials></AssumeRoleResult></AssumeRoleResponse>`,
			"ListUsers": `<ListUsersResponse><ListUsersResult><Users/><IsTruncated>false</IsTruncated></ListUsersResult></ListUsersResponse>`,
		}}
	calls := &Calls{}
	member := AssumeRole(calls.Counted(base), RoleARN("aws", "111122223333", "provisioning-admin"), SessionName("test"))
	client := iam.NewFromConfig(member)
	for range 2 {
		if _, err := client.ListUsers(context.Background(), &iam.ListUsersInput{}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = iam.NewFromConfig(base).ListUsers(context.Background(), &iam.ListUsersInput{}) // not counted
	want := map[string]int{"STS AssumeRole": 1, "IAM ListUsers": 2}
	if got := calls.ByOperation(); !maps.Equal(got, want) || calls.Total() != 3 {
		t.Errorf("counted %v (total %d), want %v", got, calls.Total(), want)
	}
}
