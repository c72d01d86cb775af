package appsecret

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// fakeParams is several parameters, each a fakeSSM, by name.
type fakeParams map[string]*fakeSSM

var _ ParamAPI = fakeParams(nil)

func (f fakeParams) get(name string) *fakeSSM {
	if p, ok := f[name]; ok {
		return p
	}
	return &fakeSSM{name: name}
}

func (f fakeParams) DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, o ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	return f.get(in.ParameterFilters[0].Values[0]).DescribeParameters(ctx, in, o...)
}

func (f fakeParams) ListTagsForResource(ctx context.Context, in *ssm.ListTagsForResourceInput, o ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error) {
	return f.get(aws.ToString(in.ResourceId)).ListTagsForResource(ctx, in, o...)
}

func (f fakeParams) PutParameter(ctx context.Context, in *ssm.PutParameterInput, o ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	return f.get(aws.ToString(in.Name)).PutParameter(ctx, in, o...)
}

// newPair is the two parameters of ssm-pair:/ci/deployer, tagged for user; the key ID's a
// String parameter, as many applications keep it.
func newPair(user string) fakeParams {
	id, key := newFakeSSM(user), newFakeSSM(user)
	id.name, id.typ, id.keyID = "/ci/deployer/aws_access_key_id", ssmtypes.ParameterTypeString, ""
	key.name = "/ci/deployer/aws_secret_access_key"
	return fakeParams{id.name: id, key.name: key}
}

func TestTargetNamesParameterPairs(t *testing.T) {
	for _, tc := range []struct{ value, want, err string }{
		{value: "ssm-pair:/ci/deployer", want: "ssm-pair:/ci/deployer"},
		{value: "ssm-pair:deployer", err: "is not"}, // the two names are a hierarchy: /
		{value: "ssm-pair:/aws/x", err: "is not"},
		{value: "ssm-pair:/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", err: "is not"}, // 15 levels and one more
	} {
		got, err := Target(map[string]string{DeliveryTag: tc.value})
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Target(%q) = %q, %v; want %q, error containing %q", tc.value, got, err, tc.want, tc.err)
		}
	}
}

func TestParameterPairTakesTheKeyInTwoParameters(t *testing.T) {
	const keyID, secretKey = "AKIANEWKEY0000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	ctx := context.Background()
	f := newPair("ci")
	d := Clients{Params: f}.Open("ssm-pair:/ci/deployer")
	if d.Tag() != "ssm-pair:/ci/deployer" || !strings.Contains(d.String(), "/ci/deployer/aws_access_key_id") {
		t.Errorf("pair destination = %q, %q", d.Tag(), d.String())
	}
	if err := d.Check(ctx, "ci"); err != nil {
		t.Fatalf("Check = %v, want accepted (the key ID may be a String parameter)", err)
	}
	if err := d.Put(ctx, "ci", keyID, secret.New(secretKey)); err != nil {
		t.Fatal(err)
	}
	id, key := f["/ci/deployer/aws_access_key_id"], f["/ci/deployer/aws_secret_access_key"]
	if id.values[1] != keyID || key.values[1] != secretKey {
		t.Errorf("values %q, %q; want the key ID and the secret access key, each alone", id.values[1], key.values[1])
	}
	if put := id.puts[0]; put.Type != ssmtypes.ParameterTypeString || put.KeyId != nil {
		t.Errorf("the key ID's parameter written as %s (key %v): want its own type, String", put.Type, aws.ToString(put.KeyId))
	}
	if put := key.puts[0]; put.Type != ssmtypes.ParameterTypeSecureString {
		t.Errorf("the secret access key written as %s, want a SecureString", put.Type)
	}
	if st, err := d.Find(ctx, keyID, time.Time{}); st != Holds || err != nil {
		t.Errorf("Find = %v, %v; want Holds", st, err)
	}
	if why, _, err := d.Current(ctx, "ci", keyID); why != "" || err != nil {
		t.Errorf("Current = %q, %v; want current", why, err)
	}
	// Either one written over: the pair no longer holds the key.
	key.overwrite("other", nil)
	if st, _ := d.Find(ctx, keyID, time.Time{}); st != Absent {
		t.Errorf("secret written over: Find = %v, want Absent", st)
	}
	if why, _, _ := d.Current(ctx, "ci", keyID); !strings.Contains(why, "aws_secret_access_key") {
		t.Errorf("secret written over: Current = %q, want it to name the parameter written over", why)
	}
}

func TestParameterPairRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(fakeParams)
		why  string
	}{
		{"the secret's parameter is a String", func(f fakeParams) { f["/ci/deployer/aws_secret_access_key"].typ = ssmtypes.ParameterTypeString }, "not a SecureString"},
		{"the key ID's parameter lacks the tag", func(f fakeParams) { f["/ci/deployer/aws_access_key_id"].tags = nil }, "parameter /ci/deployer/aws_access_key_id refuses"},
		{"the secret's parameter is missing", func(f fakeParams) { delete(f, "/ci/deployer/aws_secret_access_key") }, "does not exist"},
		{"the key ID's parameter is a StringList", func(f fakeParams) { f["/ci/deployer/aws_access_key_id"].typ = ssmtypes.ParameterTypeStringList }, "StringList"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPair("ci")
			tc.edit(f)
			err := Clients{Params: f}.Open("ssm-pair:/ci/deployer").Check(context.Background(), "ci")
			var refused *Refused
			if !errors.As(err, &refused) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("Check = %v, want a refusal saying %q", err, tc.why)
			}
		})
	}
}
