package appsecret

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// fakeSSM is one parameter, as SSM keeps it: its versions (the last is current, each with
// its description), its tags; PutParameter behaves as AWS's with Overwrite (a new version;
// the description, key and tier kept when not given).
type fakeSSM struct {
	name        string
	exists      bool
	typ         ssmtypes.ParameterType
	keyID, tier string
	values      []string // by version - 1
	descs       []string
	tags        map[string]string
	modified    time.Time
	tagsErr     error // ListTagsForResource's answer (AccessDenied: the member role's tag condition)
	putErr      error
	puts        []*ssm.PutParameterInput
	// between runs before each of the next races PutParameters takes effect: another writer.
	between func(*fakeSSM)
	races   int
	// emptyPages is how many empty pages with a NextToken DescribeParameters answers first,
	// as AWS may with a filter.
	emptyPages int
}

var _ ParamAPI = (*fakeSSM)(nil)

func newFakeSSM(user string) *fakeSSM {
	return &fakeSSM{name: "/ci/deployer", exists: true, typ: ssmtypes.ParameterTypeSecureString, keyID: "alias/aws/ssm", tier: "Standard",
		values: []string{"placeholder"}, descs: []string{"the deployer's key"}, tags: map[string]string{OptInTag: user}}
}

func (f *fakeSSM) DescribeParameters(_ context.Context, in *ssm.DescribeParametersInput, _ ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	if f.emptyPages > 0 {
		f.emptyPages--
		return &ssm.DescribeParametersOutput{NextToken: aws.String("page" + strconv.Itoa(f.emptyPages))}, nil
	}
	if len(in.ParameterFilters) != 1 || aws.ToString(in.ParameterFilters[0].Key) != "Name" || aws.ToString(in.ParameterFilters[0].Option) != "Equals" {
		return nil, errors.New("fake: describe by name only")
	}
	out := &ssm.DescribeParametersOutput{}
	if f.exists && in.ParameterFilters[0].Values[0] == f.name {
		v := len(f.values)
		out.Parameters = []ssmtypes.ParameterMetadata{{Name: aws.String(f.name), Type: f.typ, KeyId: aws.String(f.keyID),
			Tier: ssmtypes.ParameterTier(f.tier), Version: int64(v), Description: aws.String(f.descs[v-1]), LastModifiedDate: aws.Time(f.modified)}}
	}
	return out, nil
}

func (f *fakeSSM) ListTagsForResource(_ context.Context, in *ssm.ListTagsForResourceInput, _ ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error) {
	if f.tagsErr != nil {
		return nil, f.tagsErr
	}
	if !f.exists || aws.ToString(in.ResourceId) != f.name || in.ResourceType != ssmtypes.ResourceTypeForTaggingParameter {
		return nil, &ssmtypes.InvalidResourceId{Message: aws.String("no such parameter")}
	}
	out := &ssm.ListTagsForResourceOutput{}
	for k, v := range f.tags {
		out.TagList = append(out.TagList, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	f.puts = append(f.puts, in)
	if f.races > 0 {
		f.races--
		f.between(f)
	}
	if f.putErr != nil {
		return nil, f.putErr
	}
	if !aws.ToBool(in.Overwrite) || len(in.Tags) > 0 {
		return nil, errors.New("fake: the rotator only overwrites, without tags")
	}
	f.overwrite(aws.ToString(in.Value), in.Description)
	if in.KeyId != nil {
		f.keyID = *in.KeyId
	}
	return &ssm.PutParameterOutput{Version: int64(len(f.values))}, nil
}

// overwrite is a new version as another writer (or the rotator) makes it: a nil description
// keeps the current one, as AWS does.
func (f *fakeSSM) overwrite(value string, desc *string) {
	d := f.descs[len(f.descs)-1]
	if desc != nil {
		d = *desc
	}
	f.values, f.descs, f.modified = append(f.values, value), append(f.descs, d), f.modified.Add(time.Hour)
}

func TestTargetNamesParameters(t *testing.T) {
	for _, tc := range []struct{ value, want, err string }{
		{value: "ssm:/ci/deployer", want: "ssm:/ci/deployer"},
		{value: " ssm:deployer_key ", want: "ssm:deployer_key"},
		{value: "ssm:ci/deployer", err: "is not"},   // a hierarchy starts with /
		{value: "ssm:/aws/reserved", err: "is not"}, // AWS reserves aws and ssm
		{value: "ssm:SSM-thing", err: "is not"},     // in any case
		{value: "ssm:arn:aws:ssm:x", err: "is not"}, // a name, not an ARN
		{value: "ssm:", err: "is not"},
	} {
		got, err := Target(map[string]string{DeliveryTag: tc.value})
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Target(%q) = %q, %v; want %q, error containing %q", tc.value, got, err, tc.want, tc.err)
		}
	}
}

func TestParameterCheckRefusesParametersThatDoNotOptIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*fakeSSM)
		why  string // "": accepted
	}{
		{"tagged for the user", func(*fakeSSM) {}, ""},
		{"no tag", func(f *fakeSSM) { f.tags = map[string]string{"team": "x"} }, "lacks the tag key-rotator:user=ci"},
		{"another user", func(f *fakeSSM) { f.tags[OptInTag] = "cd" }, `names "cd"`},
		{"missing", func(f *fakeSSM) { f.exists = false }, "does not exist"},
		{"a String parameter", func(f *fakeSSM) { f.typ = ssmtypes.ParameterTypeString }, "not a SecureString"},
		{"denied by the member role's tag condition", func(f *fakeSSM) { f.tagsErr = denied("ssm:ListTagsForResource") }, "lacks the tag key-rotator:user=ci, or does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSSM("ci")
			tc.edit(f)
			err := Clients{Params: f}.Open("ssm:/ci/deployer").Check(context.Background(), "ci")
			var refused *Refused
			switch {
			case tc.why == "" && err != nil:
				t.Errorf("Check = %v, want accepted", err)
			case tc.why != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "parameter /ci/deployer")):
				t.Errorf("Check = %v, want a refusal of parameter /ci/deployer saying %q", err, tc.why)
			}
		})
	}
	f := newFakeSSM("ci")
	f.tagsErr = errors.New("throttled")
	var refused *Refused
	if err := (Clients{Params: f}).Open("ssm:/ci/deployer").Check(context.Background(), "ci"); err == nil || errors.As(err, &refused) {
		t.Errorf("a failed ListTagsForResource = %v, want an error that is not a refusal", err)
	}
}

func TestParameterPutWritesSecureStringOverTheCurrentVersionAndIsRecognised(t *testing.T) {
	const keyID, secretKey = "AKIANEWKEY0000000001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	f := newFakeSSM("ci")
	f.keyID, f.tier, f.emptyPages = "arn:aws:kms:eu-west-1:111122223333:key/cmk", "Advanced", 2
	d := Clients{Params: f}.Open("ssm:/ci/deployer")
	ctx := context.Background()
	if st, _ := d.Find(ctx, keyID, time.Time{}); st != Absent {
		t.Fatalf("before the write Find = %v, want Absent", st)
	}
	if err := d.Put(ctx, "ci", keyID, secret.New(secretKey)); err != nil {
		t.Fatal(err)
	}
	in := f.puts[0]
	var body struct{ AccessKeyId, SecretAccessKey string }
	if err := json.Unmarshal([]byte(f.values[1]), &body); err != nil || body.AccessKeyId != keyID || body.SecretAccessKey != secretKey {
		t.Errorf("value = %v (%v), want the key as JSON", body.AccessKeyId, err)
	}
	// The parameter's own KMS key and tier are kept: an overwrite without them would fall
	// back to aws/ssm and the account's default tier.
	if in.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(in.KeyId) != "arn:aws:kms:eu-west-1:111122223333:key/cmk" || in.Tier != "Advanced" || !aws.ToBool(in.Overwrite) {
		t.Errorf("PutParameter = type %s, key %s, tier %s, overwrite %v; want a SecureString over the parameter's own key and tier",
			in.Type, aws.ToString(in.KeyId), in.Tier, aws.ToBool(in.Overwrite))
	}
	if strings.Contains(aws.ToString(in.Description), secretKey) {
		t.Error("the description holds the secret key")
	}
	if st, err := d.Find(ctx, keyID, time.Time{}); st != Holds || err != nil {
		t.Errorf("after the write Find = %v, %v; want Holds", st, err)
	}
	if why, _, err := d.Current(ctx, "ci", keyID); why != "" || err != nil {
		t.Errorf("after the write Current = %q, %v; want current", why, err)
	}
	// The application writes the parameter over without a description: SSM keeps the
	// rotator's description on the new version, which must not count as the rotator's.
	f.overwrite(`{"AccessKeyId":"AKIAOTHER","SecretAccessKey":"x"}`, nil)
	if st, _ := d.Find(ctx, keyID, time.Time{}); st != Absent {
		t.Errorf("written over: Find = %v, want Absent", st)
	}
	why, changed, err := d.Current(ctx, "ci", keyID)
	if why == "" || err != nil || !changed.Equal(f.modified) {
		t.Errorf("written over: Current = %q, %v, %v; want why, changed %v", why, changed, err, f.modified)
	}
}

func TestParameterPutRacedByAnotherWriterIsNotTakenForTheRotators(t *testing.T) {
	const keyID = "AKIANEWKEY0000000001"
	ctx := context.Background()
	// Another writer makes a version between the rotator's read and its write, which then
	// lands one version later than its description names: Put writes once more, at once.
	f := newFakeSSM("ci")
	f.between, f.races = func(f *fakeSSM) { f.overwrite("app", aws.String("app's")) }, 1
	d := Clients{Params: f}.Open("ssm:/ci/deployer")
	if err := d.Put(ctx, "ci", keyID, secret.New("s")); err != nil {
		t.Fatalf("Put raced once = %v, want the key written again and recognised", err)
	}
	if st, _ := d.Find(ctx, keyID, time.Time{}); st != Holds || len(f.puts) != 2 {
		t.Errorf("raced once: Find = %v after %d writes, want Holds after 2", st, len(f.puts))
	}
	// Raced on every attempt: an error to retry later (not a refusal), and the version that
	// holds the key is not taken for the rotator's.
	f = newFakeSSM("ci")
	f.between, f.races = func(f *fakeSSM) { f.overwrite("app", aws.String("app's")) }, 9
	d = Clients{Params: f}.Open("ssm:/ci/deployer")
	err := d.Put(ctx, "ci", keyID, secret.New("s"))
	var refused *Refused
	if err == nil || errors.As(err, &refused) {
		t.Errorf("Put raced on every attempt = %v, want an error to retry (not a refusal)", err)
	}
	if st, _ := d.Find(ctx, keyID, time.Time{}); st != Absent {
		t.Errorf("raced: Find = %v, want Absent (a retry writes again)", st)
	}
}

func TestParameterPutRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		why  string // "": not a refusal
	}{
		{"KMS key denies", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform: kms:Encrypt on the resource"}, "KMS key refuses"},
		{"KMS key disabled", &smithy.GenericAPIError{Code: "InvalidKeyId", Message: "key disabled"}, "KMS key refuses"},
		{"tag removed", denied("ssm:PutParameter"), "denied writing it"},
		{"oldest version labeled", &smithy.GenericAPIError{Code: "ParameterMaxVersionLimitExceeded", Message: "labeled"}, "100 versions"},
		{"pattern", &smithy.GenericAPIError{Code: "ParameterPatternMismatchException", Message: "no"}, "allowed pattern"},
		{"throttled", &smithy.GenericAPIError{Code: "TooManyUpdates", Message: "slow down"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSSM("ci")
			f.putErr = tc.err
			err := Clients{Params: f}.Open("ssm:/ci/deployer").Put(context.Background(), "ci", "AKIANEWKEY0000000001", secret.New("s"))
			var refused *Refused
			switch {
			case err == nil:
				t.Fatal("Put = nil, want an error")
			case tc.why == "" && errors.As(err, &refused):
				t.Errorf("Put = %v, want an error that is not a refusal", err)
			case tc.why != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), tc.why)):
				t.Errorf("Put = %v, want a refusal saying %q", err, tc.why)
			}
		})
	}
}

func TestSecretDestinationIsTheSecretDelivery(t *testing.T) {
	sm := &fakeSM{tags: map[string]string{OptInTag: "ci"}}
	d := Clients{Secrets: sm}.Open("app/key")
	if d.Tag() != "secretsmanager:app/key" || d.String() != "secret app/key" {
		t.Errorf("secret destination = %q, %q", d.Tag(), d.String())
	}
	if err := d.Put(context.Background(), "ci", "AKIANEWKEY0000000001", secret.New("s")); err != nil || aws.ToString(sm.puts[0].ClientRequestToken) != Token("AKIANEWKEY0000000001") {
		t.Errorf("Put = %v, want the secret's write with its token", err)
	}
	p := Clients{Params: newFakeSSM("ci")}.Open("ssm:/ci/deployer")
	if p.Tag() != "ssm:/ci/deployer" || p.String() != "SSM parameter /ci/deployer" {
		t.Errorf("parameter destination = %q, %q", p.Tag(), p.String())
	}
}
