package appsecret

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// fakeSM is one secret: describe answers from its fields, put records the writes.
type fakeSM struct {
	describeErr error
	tags        map[string]string
	deleted     bool
	versions    map[string][]string
	putErr      error
	puts        []*secretsmanager.PutSecretValueInput
}

// denied is the error AWS answers a call the caller's policies do not allow.
func denied(action string) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: " + action}
}

var _ API = (*fakeSM)(nil)

func (f *fakeSM) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &secretsmanager.DescribeSecretOutput{Name: in.SecretId, VersionIdsToStages: f.versions}
	for k, v := range f.tags {
		out.Tags = append(out.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if f.deleted {
		out.DeletedDate = aws.Time(time.Now())
	}
	return out, nil
}

func (f *fakeSM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.puts = append(f.puts, in)
	if f.putErr != nil {
		return nil, f.putErr
	}
	return &secretsmanager.PutSecretValueOutput{VersionId: in.ClientRequestToken}, nil
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		name, value, want, err string
		absent                 bool
		names                  string // the KeyDeliveryNames tag
	}{
		{name: "no tag: email", absent: true},
		{name: "a secret name", value: "secretsmanager:ci/deployer", want: "ci/deployer"},
		{name: "spaces around", value: " secretsmanager:app-key ", want: "app-key"},
		{name: "an SSM parameter", value: "ssm:/app/key", want: "ssm:/app/key"},
		{name: "another scheme", value: "gitlab:o/r", err: "is not secretsmanager:<secret name>"},
		{name: "a GitHub repository", value: "github:example-org/ci", want: "github:example-org/ci"},
		{name: "a GitHub environment", value: "github:example-org/ci/environments/prod", want: "github:example-org/ci/environments/prod"},
		{name: "GitHub names", value: "github:example-org/ci", names: "deploy_key_id deploy_secret", want: "github:example-org/ci@DEPLOY_KEY_ID:DEPLOY_SECRET"},
		{name: "GitHub names reserved", value: "github:example-org/ci", names: "GITHUB_ID SECRET", err: "is not <key ID secret> <secret access key secret>"},
		{name: "GitHub one name", value: "github:example-org/ci", names: "ID", err: "is not <key ID secret> <secret access key secret>"},
		{name: "GitHub without a repository", value: "github:example-org", err: "is not github:<owner>/<repo>"},
		{name: "an ARN", value: "secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:x", err: "is not secretsmanager:"},
		{name: "empty name", value: "secretsmanager:", err: "is not secretsmanager:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tags := map[string]string{"EmailID": "a@example.com"}
			if !tc.absent {
				tags[DeliveryTag] = tc.value
			}
			if tc.names != "" {
				tags[NamesTag] = tc.names
			}
			got, err := Target(tags)
			if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Target(%q) = %q, %v; want %q, error containing %q", tc.value, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestCheckRefusesSecretsThatDoNotOptIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		sm   *fakeSM
		why  string // "" : accepted
	}{
		{"tagged for the user", &fakeSM{tags: map[string]string{OptInTag: "ci"}}, ""},
		{"no tag", &fakeSM{tags: map[string]string{"team": "x"}}, "lacks the tag key-rotator:user=ci"},
		{"another user", &fakeSM{tags: map[string]string{OptInTag: "cd"}}, `names "cd"`},
		{"missing", &fakeSM{describeErr: &smtypes.ResourceNotFoundException{Message: aws.String("no")}}, "does not exist"},
		{"scheduled for deletion", &fakeSM{deleted: true, tags: map[string]string{OptInTag: "ci"}}, "scheduled for deletion"},
		// On AWS the member role may describe only secrets with the tag key: a secret
		// without it (or that does not exist) answers AccessDenied.
		{"denied by the member role's tag condition", &fakeSM{describeErr: denied("secretsmanager:DescribeSecret")}, "lacks the tag key-rotator:user=ci, or does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(context.Background(), tc.sm, "app/key", "ci")
			var refused *Refused
			switch {
			case tc.why == "" && err != nil:
				t.Errorf("Check = %v, want accepted", err)
			case tc.why != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), tc.why)):
				t.Errorf("Check = %v, want a refusal saying %q", err, tc.why)
			}
		})
	}
	throttled := &fakeSM{describeErr: errors.New("throttled")}
	var refused *Refused
	if err := Check(context.Background(), throttled, "app/key", "ci"); err == nil || errors.As(err, &refused) {
		t.Errorf("a failed DescribeSecret = %v, want an error that is not a refusal", err)
	}
}

func TestWriteIsIdempotentAndChecksFirst(t *testing.T) {
	const keyID, secretKey = "AKIANEWKEY0000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	sm := &fakeSM{tags: map[string]string{OptInTag: "ci"}}
	for range 2 {
		if err := Write(context.Background(), sm, "app/key", "ci", keyID, secret.New(secretKey)); err != nil {
			t.Fatal(err)
		}
	}
	if len(sm.puts) != 2 || *sm.puts[0].ClientRequestToken != *sm.puts[1].ClientRequestToken || *sm.puts[0].SecretString != *sm.puts[1].SecretString {
		t.Fatalf("two writes of one key must send the same token and value: %d puts", len(sm.puts))
	}
	if n := len(*sm.puts[0].ClientRequestToken); n < 32 || n > 64 {
		t.Errorf("ClientRequestToken has %d characters, Secrets Manager wants 32 to 64", n)
	}
	if want := `{"AccessKeyId":"` + keyID + `","SecretAccessKey":"` + secretKey + `"}`; *sm.puts[0].SecretString != want {
		t.Errorf("value = %s, want %s", *sm.puts[0].SecretString, want)
	}
	// The tag removed between DescribeSecret and PutSecretValue: AWS denies the write (as it
	// would for a resource policy that denies it: the refusal names both).
	withdrawn := &fakeSM{tags: map[string]string{OptInTag: "ci"}, putErr: denied("secretsmanager:PutSecretValue")}
	var refused *Refused
	if err := Write(context.Background(), withdrawn, "app/key", "ci", keyID, secret.New(secretKey)); !errors.As(err, &refused) || !strings.Contains(err.Error(), "its tag key-rotator:user was removed") {
		t.Errorf("Write denied by the tag condition = %v, want a refusal", err)
	}
	refusing := &fakeSM{tags: map[string]string{OptInTag: "someone-else"}}
	if err := Write(context.Background(), refusing, "app/key", "ci", keyID, secret.New(secretKey)); err == nil || len(refusing.puts) > 0 {
		t.Errorf("Write to a secret of another user = %v with %d puts, want a refusal and none", err, len(refusing.puts))
	} else if strings.Contains(err.Error(), secretKey) {
		t.Error("the refusal shows the secret access key")
	}
}

func TestWritten(t *testing.T) {
	const keyID = "AKIANEWKEY0000000001"
	for _, tc := range []struct {
		name string
		sm   *fakeSM
		want bool
	}{
		{"its version is current", &fakeSM{versions: map[string][]string{Token(keyID): {"AWSCURRENT"}}}, true},
		{"its version was superseded", &fakeSM{versions: map[string][]string{Token(keyID): {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}}, true},
		{"another version only", &fakeSM{versions: map[string][]string{"v1": {"AWSCURRENT"}}}, false},
		{"the secret is gone", &fakeSM{describeErr: &smtypes.ResourceNotFoundException{Message: aws.String("no")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Written(context.Background(), tc.sm, "app/key", keyID)
			if err != nil || got != tc.want {
				t.Errorf("Written = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := Written(context.Background(), &fakeSM{describeErr: errors.New("5xx")}, "app/key", keyID); err == nil {
		t.Error("a failed DescribeSecret must be an error, not a verdict")
	}
}

// IAM compares user tag keys case-insensitively: keydelivery= asks for delivery as KeyDelivery= does.
func TestKeyDeliveryTagInAnyCaseNamesTheSecret(t *testing.T) {
	for _, key := range []string{"keydelivery", "KEYDELIVERY", "keyDelivery"} {
		if got, err := Target(map[string]string{key: "secretsmanager:app/ci"}); got != "app/ci" || err != nil {
			t.Errorf("tag %s: target %q, %v; want app/ci", key, got, err)
		}
	}
}

// What the member role cannot see (AWS denies DescribeSecret once the opt-in tag key is
// gone) holds no delivery it can confirm, and neither does a secret scheduled for deletion
// (its application can no longer read it): both are "not written", not a failure, so that
// the bounded wait still applies.
func TestWrittenIsFalseForADeniedOrDeletedSecret(t *testing.T) {
	const keyID = "AKIANEWKEY0000000001"
	for _, tc := range []struct {
		name string
		sm   *fakeSM
	}{
		{"opt-in withdrawn, denied by the member role", &fakeSM{describeErr: denied("secretsmanager:DescribeSecret")}},
		{"scheduled for deletion", &fakeSM{deleted: true, tags: map[string]string{OptInTag: "ci"}, versions: map[string][]string{Token(keyID): {"AWSCURRENT"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Written(context.Background(), tc.sm, "app/key", keyID); err != nil || got {
				t.Errorf("Written = %v, %v; want false and no error", got, err)
			}
		})
	}
}

// A write denied once the secret's opt-in was checked is denied by the secret's KMS key or
// its resource policy, not by a missing tag: the refusal says which, so that the owner can
// fix it.
func TestDeniedWriteSaysWhetherTheKMSKeyOrThePolicyDenies(t *testing.T) {
	const keyID, secretKey = "AKIANEWKEY0000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, tc := range []struct {
		name    string
		putErr  error
		why     string
		notSaid string
	}{
		{"KMS key policy", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}, "KMS key", "lacks the tag"},
		{"KMS key disabled", &smithy.GenericAPIError{Code: "EncryptionFailure", Message: "Secrets Manager can't encrypt the protected secret text using the provided KMS key."}, "KMS key", "lacks the tag"},
		{"resource policy", denied("secretsmanager:PutSecretValue on resource: app/key with an explicit deny in a resource-based policy"), "resource policy", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm := &fakeSM{tags: map[string]string{OptInTag: "ci"}, putErr: tc.putErr}
			err := Write(context.Background(), sm, "app/key", "ci", keyID, secret.New(secretKey))
			var refused *Refused
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.why) || strings.Contains(err.Error(), tc.notSaid) {
				t.Errorf("Write = %v; want a refusal naming the %s, not saying %q", err, tc.why, tc.notSaid)
			}
		})
	}
}

// Before a key whose successor went to the secret is deactivated, the secret's current value
// (AWSCURRENT) must be the successor's version: an application that wrote its secret again
// (IaC reverting it), or deleted it, still reads another key.
func TestCurrentValueMustBeTheSuccessor(t *testing.T) {
	const keyID = "AKIANEWKEY0000000001"
	for _, tc := range []struct {
		name string
		sm   *fakeSM
		why  string // "": holds it
	}{
		{"the successor is current", &fakeSM{tags: map[string]string{OptInTag: "ci"}, versions: map[string][]string{Token(keyID): {"AWSCURRENT"}}}, ""},
		{"written over since", &fakeSM{tags: map[string]string{OptInTag: "ci"}, versions: map[string][]string{Token(keyID): {"AWSPREVIOUS"}, "terraform-1": {"AWSCURRENT"}}}, "current value is version terraform-1"},
		{"scheduled for deletion", &fakeSM{deleted: true, tags: map[string]string{OptInTag: "ci"}, versions: map[string][]string{Token(keyID): {"AWSCURRENT"}}}, "scheduled for deletion"},
		{"opt-in withdrawn", &fakeSM{describeErr: denied("secretsmanager:DescribeSecret")}, "denied"},
		{"gone", &fakeSM{describeErr: &smtypes.ResourceNotFoundException{Message: aws.String("no")}}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, _, err := Current(context.Background(), tc.sm, "app/key", "ci", keyID)
			if err != nil || (why == "") != (tc.why == "") || !strings.Contains(why, tc.why) {
				t.Errorf("Current = %q, %v; want %q", why, err, tc.why)
			}
		})
	}
	if _, _, err := Current(context.Background(), &fakeSM{describeErr: errors.New("5xx")}, "app/key", "ci", keyID); err == nil {
		t.Error("a failed DescribeSecret must be an error, not a verdict")
	}
}
