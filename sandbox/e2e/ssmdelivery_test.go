package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestE2EStandInEnforcesParameterTagCondition: as on AWS, the grants on SSM parameters of
// the rotator's roles in the member account, conditioned on the tag key key-rotator:user
// (ssm:resourceTag), let them list the tags of a parameter carrying that key and deny them
// one without it or one that does not exist; NotifyUser's role may overwrite such a
// parameter, and only overwrite (ssm:Overwrite); the member role (ScanAndRotate's) writes
// none. Both may describe parameters (no resource-level permission). moto alone evaluates
// none of these conditions and would allow all of them.
func TestE2EStandInEnforcesParameterTagCondition(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ssm-delivery.json")
	ctx := context.Background()
	o.resources(t) // the rotator's roles
	file, err := permissions.Load()
	if err != nil {
		t.Fatal(err)
	}
	in := func(function, roleName string) *ssm.Client {
		role, err := file.Role(function)
		if err != nil {
			t.Fatal(err)
		}
		fn := awsclient.AssumeRole(o.sb.Config(), awsclient.RoleARN(sandbox.Partition, o.id(t, "management"), role.RoleName), "enforcement-test")
		return ssm.NewFromConfig(awsclient.AssumeRole(fn, awsclient.RoleARN(sandbox.Partition, o.id(t, "prod"), roleName), "enforcement-test"))
	}
	notify := in(statemachine.NotifyUser, config.NotifyMemberRoleName(o.settings.MemberRoleName))
	scan := in(statemachine.ScanAndRotate, o.settings.MemberRoleName)
	isDenied := func(err error) bool {
		var apiErr smithy.APIError
		return errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied")
	}
	put := func(c *ssm.Client, name string, overwrite bool) error {
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("{}"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(overwrite)})
		return err
	}
	for _, tc := range []struct {
		param   string
		allowed bool
	}{
		{"/ci/deployer", true},  // key-rotator:user=deployer
		{"/ci/reporter", false}, // team=data only
		{"/ci/no-such-parameter", false},
	} {
		tags := func(c *ssm.Client) error {
			_, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(tc.param)})
			return err
		}
		for _, c := range []struct {
			what    string
			err     error
			allowed bool
		}{
			{"NotifyUser's role's ListTagsForResource", tags(notify), tc.allowed},
			{"the member role's ListTagsForResource", tags(scan), tc.allowed},
			{"NotifyUser's role's PutParameter without Overwrite", put(notify, tc.param, false), false},
			{"NotifyUser's role's PutParameter", put(notify, tc.param, true), tc.allowed},
			{"the member role's PutParameter", put(scan, tc.param, true), false},
		} {
			if isDenied(c.err) == c.allowed || c.allowed && c.err != nil {
				t.Errorf("%s of %s: error %v, want allowed %v", c.what, tc.param, c.err, c.allowed)
			}
		}
	}
	for what, c := range map[string]*ssm.Client{"NotifyUser's role": notify, "the member role": scan} {
		if _, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{}); err != nil {
			t.Errorf("%s's DescribeParameters: %v, want allowed", what, err)
		}
	}
}

// paramReads is the application's read of its SSM parameter in the account named account,
// with the account's own credentials (GetParameter, WithDecryption).
func (o *org) paramReads(t *testing.T, account, name string) appKey {
	t.Helper()
	cfg, err := o.sb.AccountConfig(account)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ssm.NewFromConfig(cfg).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		t.Fatalf("the application cannot read %s: %v", name, err)
	}
	var k appKey
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &k); err != nil || k.AccessKeyID == "" || len(k.SecretAccessKey) < 40 {
		t.Fatalf("parameter %s does not hold {\"AccessKeyId\", \"SecretAccessKey\"}", name)
	}
	return k
}

// pairReads is the application's read of its SSM parameter pair <prefix>/aws_access_key_id
// and <prefix>/aws_secret_access_key in the account named account, with the account's own
// credentials (GetParameter, WithDecryption).
func (o *org) pairReads(t *testing.T, account, prefix string) appKey {
	t.Helper()
	cfg, err := o.sb.AccountConfig(account)
	if err != nil {
		t.Fatal(err)
	}
	var halves [2]string
	for i, name := range []string{appsecret.PairKeyIDName, appsecret.PairSecretName} {
		out, err := ssm.NewFromConfig(cfg).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(prefix + "/" + name), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatalf("the application cannot read %s/%s: %v", prefix, name, err)
		}
		halves[i] = aws.ToString(out.Parameter.Value)
	}
	if k := (appKey{AccessKeyID: halves[0], SecretAccessKey: halves[1]}); strings.HasPrefix(k.AccessKeyID, "AKIA") && len(k.SecretAccessKey) >= 40 {
		return k
	}
	t.Fatalf("parameters %s/%s and %s/%s do not hold a key ID and a secret access key", prefix, appsecret.PairKeyIDName, prefix, appsecret.PairSecretName)
	return appKey{}
}

// pairHolds is the application's owner putting the key k in its parameter pair under prefix
// in the account named account, as it set the pair up (overwriting the seeded values).
func (o *org) pairHolds(t *testing.T, account, prefix string, k appKey) {
	t.Helper()
	cfg, err := o.sb.AccountConfig(account)
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{appsecret.PairKeyIDName: k.AccessKeyID, appsecret.PairSecretName: k.SecretAccessKey} {
		if _, err := ssm.NewFromConfig(cfg).PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(prefix + "/" + name),
			Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)}); err != nil {
			t.Fatalf("put %s/%s: %v", prefix, name, err)
		}
	}
}

// TestE2EDeliveryToParameter: machine users delivered to SSM in either form, tagged
// KeyDelivery = ssm:<name> (one SecureString parameter holding the key's JSON) or
// ssm-pair:<prefix> (two SecureString parameters <prefix>/aws_access_key_id and
// <prefix>/aws_secret_access_key), get their new key written to their application's
// parameters, which opt in; the application reads the old key before the run and the new
// one after (both halves of a pair of the same new key: it calls STS with them), until and
// past the old key's deactivation on its day; each owner gets a notice without the key. A
// parameter that does not opt in is refused: nothing is created, the report says why, and its
// owner is told. Every call is audited against the synthesized policies (the member roles'
// ssm:resourceTag and ssm:Overwrite conditions, enforced by the stand-in).
func TestE2EDeliveryToParameter(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ssm-delivery.json")
	type form struct {
		user, owner, where string // where: the destination as the notice names it
		reads              func() appKey
	}
	forms := []form{
		{"deployer", "ci-team@example.com", "SSM parameter /ci/deployer", func() appKey { return o.paramReads(t, "prod", "/ci/deployer") }},
		{"builder", "build-team@example.com", "SSM parameters /ci/builder/aws_access_key_id and /ci/builder/aws_secret_access_key",
			func() appKey { return o.pairReads(t, "prod", "/ci/builder") }},
	}
	i := slices.IndexFunc(o.sb.Seeded.Keys, func(k sandbox.SeededKey) bool { return k.Account == "prod" && k.User == "builder" })
	if i < 0 {
		t.Fatal("builder has no seeded key")
	}
	o.pairHolds(t, "prod", "/ci/builder", appKey{AccessKeyID: o.sb.Seeded.Keys[i].AccessKeyID, SecretAccessKey: o.sb.Seeded.Keys[i].Secret.Reveal()})
	before, after := map[string]appKey{}, map[string]appKey{}
	for _, f := range forms {
		before[f.user] = f.reads()
	}
	refusedBefore := o.paramReads(t, "prod", "/ci/reporter")

	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	state := o.state(t, "prod")["prod"]
	for _, f := range forms {
		after[f.user] = f.reads()
		if after[f.user].AccessKeyID == before[f.user].AccessKeyID || keyStatus(t, state, f.user, after[f.user].AccessKeyID) != "Active" {
			t.Fatalf("after the run the application of %s reads %s (before: %s), want a new active key of %s", f.user, after[f.user].AccessKeyID, before[f.user].AccessKeyID, f.user)
		}
		// The application uses what it read before the old key is deactivated: the stand-in
		// checks the signature, so the key ID and the secret access key are of one key.
		o.useKey(t, f.user, after[f.user])
	}
	ms := slices.DeleteFunc(mails(t, ex, dir), func(m mail) bool { return m.Destinations[0] == o.settings.SupportEmail })
	toReporter := slices.DeleteFunc(slices.Clone(ms), func(m mail) bool { return m.Destinations[0] != "data-team@example.com" })
	if len(toReporter) != 1 || !strings.Contains(toReporter[0].Subject, "its replacement cannot be delivered") {
		t.Errorf("reporter's owner got %d emails, want one telling that its parameter refuses the new key", len(toReporter))
	}
	ms = slices.DeleteFunc(ms, func(m mail) bool { return m.Destinations[0] == "data-team@example.com" })
	if len(ms) != len(forms) {
		t.Fatalf("emails %d, want one notice per user delivered to SSM (%d)", len(ms), len(forms))
	}
	if got := o.paramReads(t, "prod", "/ci/reporter"); got != refusedBefore || len(userNamed(t, state, "reporter").Keys) != 1 {
		t.Errorf("reporter: the application reads %s, keys %d; want its parameter and keys unchanged", got.AccessKeyID, len(userNamed(t, state, "reporter").Keys))
	}
	if !strings.Contains(string(ex.ReportCSV), "parameter /ci/reporter refuses the keys of reporter: it lacks the tag key-rotator:user=reporter, or does not exist: the member role is denied its tags") {
		t.Error("report.csv does not say why reporter's parameter was refused")
	}
	// A key delivered to a parameter is a workload's: the owner's notice (text and HTML),
	// report.csv's advice column and report.json say that an IAM role replaces it, and the
	// report counts the users with keys as such.
	role := advice.For(advice.AWSWorkload)
	for _, f := range forms {
		i := slices.IndexFunc(ms, func(m mail) bool { return m.Destinations[0] == f.owner })
		if i < 0 || !strings.Contains(oneLine(ms[i].Subject), "is in "+f.where) || len(ms[i].Attachments) != 0 || !strings.Contains(ms[i].Text, before[f.user].AccessKeyID) {
			t.Fatalf("%s: want one notice to %s naming %s and the old key, without attachment", f.user, f.owner, f.where)
		}
		if text := oneLine(ms[i].Text); !strings.Contains(text, "Leave long-lived keys behind: "+role.Explain()) || !strings.Contains(text, role.Links[0]) ||
			!strings.Contains(ms[i].HTML, `<a href="`+role.Links[0]+`">`) {
			t.Errorf("%s's notice does not advise a role with %s:\n%s", f.user, role.Links[0], ms[i].Text)
		}
		if got := csvColumn(t, ex, f.user, "advice"); len(got) == 0 || slices.ContainsFunc(got, func(a string) bool { return a != role.String() }) {
			t.Errorf("report.csv's advice for %s: %q, want %q on each of its rows", f.user, got, role.String())
		}
		if userResult(t, ex, f.user).Advice.String() != role.String() {
			t.Errorf("report.json: %s's advice %v, want a role", f.user, userResult(t, ex, f.user).Advice)
		}
	}
	if got := ex.Report.Totals.UsersWithKeys; got[advice.AWSWorkload] != 3 {
		t.Errorf("report.json: users with keys by use %v, want 3 %s users", got, advice.AWSWorkload)
	}
	allMails := ms
	deactivateOn := ex.Report.Run.Now.AddDate(0, 0, 10).Format(time.DateOnly)
	for day := 1; day <= 10; day++ {
		o.advance(t, 24*time.Hour)
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		allMails = append(allMails, mails(t, ex, dir)...)
		state := o.state(t, "prod")["prod"]
		want := "Active"
		if day == 10 {
			want = "Inactive"
		}
		for _, f := range forms {
			if got := keyStatus(t, state, f.user, before[f.user].AccessKeyID); got != want {
				t.Fatalf("day %d: the old key of %s is %s, want %s (it is deactivated on %s)", day, f.user, got, want, deactivateOn)
			}
			if got := f.reads(); got != after[f.user] || keyStatus(t, state, f.user, after[f.user].AccessKeyID) != "Active" {
				t.Fatalf("day %d: the application of %s reads %s, want the new key %s, active", day, f.user, got.AccessKeyID, after[f.user].AccessKeyID)
			}
		}
		if day == 1 && len(o.handoffSecrets(t)) != 0 {
			t.Errorf("day 1: hand-off secrets left after the write was confirmed: %v", o.handoffSecrets(t))
		}
	}
	delivered := map[string]delivery{}
	for _, k := range after {
		delivered[k.AccessKeyID] = delivery{secret: k.SecretAccessKey}
	}
	o.checkNoLeak(t, []string{o.out}, allMails, delivered)
}
