package awsmodel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// backend is one implementation of the services the conformance sequence calls: the
// stand-in over the wire, or the model.
type backend struct {
	iam     rotate.IAMAPI
	secrets interface {
		handoff.SecretsAPI
		handoff.Reader
		appsecret.API
	}
	// params is SSM (nil: the SSM steps are skipped).
	params appsecret.ParamAPI
	// now is the backend's clock.
	now func() time.Time
	ses notify.SESAPI
	// createUser and verifySES are the owner's side (no rotator call does them).
	createUser func(name string) error
	verifySES  func(identity string) error
	// settle waits out the eventual consistency the model has and the stand-in lacks.
	settle func()
	// n names what the sequence creates and sends.
	n names
}

// names are the users, the secrets' name prefix and the addresses of the conformance
// sequence: standInNames on the stand-in and the model; unique ones, and the SES sandbox's
// verified addresses, on a real account (make aws-contract).
type names struct {
	user, nobody, secrets         string
	sender, recipient, unverified string
}

var standInNames = names{user: "conf-alice", nobody: "conf-nobody", secrets: "conf",
	sender: "rotator@conf.example", recipient: "alice@example.com", unverified: "nobody@unverified.example"}

// standInAccount is moto's default account, in which the stand-in's Config acts.
const standInAccount = "123456789012"

// conformance is the sequence run against both backends: each step reports its outcome as
// an error code or a shape of the result (never an ID), and the two must agree.
//
// Where moto differs from AWS's documentation the model follows AWS and the sequence does
// not compare:
//   - the credential report: moto builds it from live data on every GetCredentialReport, AWS
//     serves the report generated at most every 4 hours (TestCredentialReportLifecycle);
//   - eventual consistency: moto lists a new key and a new secret at once, the model after
//     ConsistencyDelay and ListSecretsDelay (settle advances the model's clock past both);
//   - SES: moto has no sandbox for recipients, no bounces and no suppression list
//     (GetSuppressedDestination is not implemented); the model's are tested in TestSES, and
//     the suppression reasons that decide whether a bounce reaches the list (the account's,
//     or a configuration set's that overrides them) in TestSESSuppressionReasonsGovernTheList;
//   - a raw message with Destination: moto sends to Destination and to the headers'
//     recipients, SES to Destination only (the sequence sends without Destination);
//   - DeleteSecret with ForceDeleteWithoutRecovery of a secret already gone: AWS documents no
//     ResourceNotFoundException, moto answers none, the model does (the sequence does not
//     force-delete a secret twice);
//   - IAM TagUser: moto checks no user tag value (no length or character set); the steps
//     that need AWS's checks carry its documented outcome. (IAM user tag keys compared
//     case-insensitively and the 50-tag quota are the stand-in's, sandbox/moto_server.py
//     iam_user_tags_as_aws: moto compares keys exactly and has no quota.)
var conformance = []struct {
	name string
	run  func(ctx context.Context, b *backend, s *state) string
}{
	{"report before any generation", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		return outcome(err, "report")
	}},
	{"first report generation", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		return outcome(err, func() string { return string(out.State) })
	}},
	{"second report generation", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.iam.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		return outcome(err, func() string { return string(out.State) })
	}},
	{"create user", func(ctx context.Context, b *backend, s *state) string {
		return outcome(b.createUser(b.n.user), "created")
	}},
	{"tag user", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("EmailID"), Value: aws.String("alice@example.com")}, {Key: aws.String("Team"), Value: aws.String("blue")}}})
		return outcome(err, "tagged")
	}},
	{"replace a tag", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("Team"), Value: aws.String("red")}}})
		return outcome(err, "tagged")
	}},
	{"list tags", func(ctx context.Context, b *backend, s *state) string {
		return listTags(ctx, b)
	}},
	// IAM user tag keys are "not case sensitive, but case is preserved": a key in another
	// case replaces the tag (which spelling it keeps, AWS does not say: the keys are compared
	// case-folded), and untagging in another case removes it.
	{"tag a key in another case", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("TEAM"), Value: aws.String("green")}}})
		return outcome(err, "tagged")
	}},
	{"list tags after another case", func(ctx context.Context, b *backend, s *state) string {
		return strings.ToLower(listTags(ctx, b))
	}},
	{"untag a key in another case", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(b.n.user), TagKeys: []string{"emailid"}})
		if err != nil {
			return outcome(err, "")
		}
		return strings.ToLower(listTags(ctx, b))
	}},
	{"tag an unknown user", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.nobody),
			Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
		return outcome(err, "tagged")
	}},
	{"create first key", func(ctx context.Context, b *backend, s *state) string { return createKey(ctx, b, s) }},
	{"create second key", func(ctx context.Context, b *backend, s *state) string { return createKey(ctx, b, s) }},
	{"create third key", func(ctx context.Context, b *backend, s *state) string { return createKey(ctx, b, s) }},
	{"list keys", func(ctx context.Context, b *backend, s *state) string { b.settle(); return listKeys(ctx, b) }},
	{"key never used", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &s.keys[0]})
		return outcome(err, func() string {
			u := out.AccessKeyLastUsed
			return fmt.Sprintf("user=%s date=%v service=%s region=%s", aws.ToString(out.UserName), u.LastUsedDate != nil,
				aws.ToString(u.ServiceName), aws.ToString(u.Region))
		})
	}},
	{"last use of an unknown key", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAIOSFODNN7EXAMPLE")})
		return outcome(err, "found")
	}},
	{"deactivate first key", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(b.n.user), AccessKeyId: &s.keys[0], Status: types.StatusTypeInactive})
		return outcome(err, "updated")
	}},
	{"list keys after deactivation", func(ctx context.Context, b *backend, s *state) string { return listKeys(ctx, b) }},
	{"an Inactive key counts against the quota", func(ctx context.Context, b *backend, s *state) string { return createKey(ctx, b, s) }},
	{"update a key of an unknown user", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(b.n.nobody), AccessKeyId: &s.keys[0], Status: types.StatusTypeActive})
		return outcome(err, "updated")
	}},
	{"delete first key", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(b.n.user), AccessKeyId: &s.keys[0]})
		return outcome(err, "deleted")
	}},
	{"delete it again", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(b.n.user), AccessKeyId: &s.keys[0]})
		return outcome(err, "deleted")
	}},
	{"list keys after deletion", func(ctx context.Context, b *backend, s *state) string { b.settle(); return listKeys(ctx, b) }},
	{"a key again", func(ctx context.Context, b *backend, s *state) string { return createKey(ctx, b, s) }},
	{"list keys of an unknown user", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(b.n.nobody)})
		return outcome(err, "listed")
	}},
	{"untag, a missing key too", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(b.n.user), TagKeys: []string{"EmailID", "NotThere"}})
		return outcome(err, "untagged")
	}},
	{"list tags after untag", func(ctx context.Context, b *backend, s *state) string { return listTags(ctx, b) }},
	{"every user's tags at once", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.iam.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{
			Filter: []types.EntityType{types.EntityTypeUser}, MaxItems: aws.Int32(1000)})
		return outcome(err, func() string {
			var users []string
			for _, u := range out.UserDetailList {
				var tags []string
				for _, t := range u.Tags {
					tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
				}
				slices.Sort(tags)
				users = append(users, fmt.Sprintf("%s%v", aws.ToString(u.UserName), tags))
			}
			return fmt.Sprintf("%v truncated=%v", users, out.IsTruncated)
		})
	}},
	{"tags up to 50", func(ctx context.Context, b *backend, s *state) string {
		tags := make([]types.Tag, 0, 49)
		for i := range 49 {
			tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("t%02d", i)), Value: aws.String("v")})
		}
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user), Tags: tags})
		return outcome(err, "tagged")
	}},
	{"51st tag", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("extra"), Value: aws.String("v")}}})
		return outcome(err, "tagged")
	}},
	{"tag value of 257 characters", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String(b.n.user), TagKeys: []string{"t00"}})
		if err != nil {
			return outcome(err, "")
		}
		_, err = b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("long"), Value: aws.String(strings.Repeat("x", 257))}}})
		return outcome(err, "tagged")
	}},
	{"tag value with a comma", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(b.n.user),
			Tags: []types.Tag{{Key: aws.String("t00"), Value: aws.String("a,b")}}})
		return outcome(err, "tagged")
	}},
	{"create secret", func(ctx context.Context, b *backend, s *state) string {
		return createSecret(ctx, b, s, b.n.secrets+"/123456789012/alice/AKIA1")
	}},
	{"create it again", func(ctx context.Context, b *backend, s *state) string {
		return createSecret(ctx, b, s, b.n.secrets+"/123456789012/alice/AKIA1")
	}},
	{"create two more", func(ctx context.Context, b *backend, s *state) string {
		return createSecret(ctx, b, s, b.n.secrets+"/123456789012/bob/AKIA2") + " " + createSecret(ctx, b, s, b.n.secrets+"/999999999999/carol/AKIA3")
	}},
	{"list secrets by name prefix", func(ctx context.Context, b *backend, s *state) string {
		b.settle()
		return listSecrets(ctx, b, b.n.secrets+"/123456789012/")
	}},
	{"get secret by ARN", func(ctx context.Context, b *backend, s *state) string { return getSecret(ctx, b, s.secrets[0]) }},
	{"get secret by name", func(ctx context.Context, b *backend, s *state) string {
		return getSecret(ctx, b, b.n.secrets+"/123456789012/alice/AKIA1")
	}},
	{"delete secret", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &s.secrets[0], ForceDeleteWithoutRecovery: aws.Bool(true)})
		return outcome(err, "deleted")
	}},
	{"get deleted secret", func(ctx context.Context, b *backend, s *state) string { return getSecret(ctx, b, s.secrets[0]) }},
	{"list after deletion", func(ctx context.Context, b *backend, s *state) string {
		b.settle()
		return listSecrets(ctx, b, b.n.secrets+"/123456789012/")
	}},
	{"put a new version", func(ctx context.Context, b *backend, s *state) string {
		return putSecret(ctx, b, s.secrets[1], appsecret.Token("AKIA0000000000000001"), `{"v":1}`)
	}},
	{"put it again", func(ctx context.Context, b *backend, s *state) string {
		return putSecret(ctx, b, s.secrets[1], appsecret.Token("AKIA0000000000000001"), `{"v":1}`)
	}},
	{"put another value under its token", func(ctx context.Context, b *backend, s *state) string {
		return putSecret(ctx, b, s.secrets[1], appsecret.Token("AKIA0000000000000001"), `{"v":2}`)
	}},
	{"put a second version", func(ctx context.Context, b *backend, s *state) string {
		return putSecret(ctx, b, s.secrets[1], appsecret.Token("AKIA0000000000000002"), `{"v":3}`)
	}},
	{"describe the versions", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &s.secrets[1]})
		return outcome(err, func() string {
			var v []string
			for id, stages := range out.VersionIdsToStages {
				if strings.HasPrefix(id, "key-rotator-") {
					v = append(v, fmt.Sprintf("%s=%v", id, stages))
				}
			}
			slices.Sort(v)
			return fmt.Sprint(v)
		})
	}},
	{"get the current version", func(ctx context.Context, b *backend, s *state) string { return getSecret(ctx, b, s.secrets[1]) }},
	{"put to a missing secret", func(ctx context.Context, b *backend, s *state) string {
		return putSecret(ctx, b, b.n.secrets+"/no-such-secret", appsecret.Token("AKIA0000000000000001"), `{"v":1}`)
	}},
	// The hand-off secret's life after its delivery: scheduled for deletion (unbilled,
	// unreadable, listed only on request), then deleted for good or restored.
	{"schedule a deletion", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &s.secrets[1], RecoveryWindowInDays: aws.Int64(7)})
		return outcome(err, func() string { return "deleted in " + days(aws.ToTime(out.DeletionDate).Sub(b.now())) })
	}},
	{"get a scheduled secret", func(ctx context.Context, b *backend, s *state) string { return getSecret(ctx, b, s.secrets[1]) }},
	{"schedule it again", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &s.secrets[1], RecoveryWindowInDays: aws.Int64(7)})
		return outcome(err, "scheduled")
	}},
	{"describe a scheduled secret", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &s.secrets[1]})
		return outcome(err, func() string {
			return fmt.Sprintf("tags=%d deleted date in %s", len(out.Tags), days(aws.ToTime(out.DeletedDate).Sub(b.now())))
		})
	}},
	{"list without planned deletions", func(ctx context.Context, b *backend, s *state) string {
		b.settle()
		return listSecrets(ctx, b, b.n.secrets+"/123456789012/")
	}},
	{"list with planned deletions", func(ctx context.Context, b *backend, s *state) string {
		return listSecretsIncluding(ctx, b, b.n.secrets+"/123456789012/", true)
	}},
	{"restore", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.secrets.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: &s.secrets[1]})
		return outcome(err, func() string { return fmt.Sprintf("restored arn=%v", aws.ToString(out.ARN) == s.secrets[1]) })
	}},
	{"get a restored secret", func(ctx context.Context, b *backend, s *state) string { return getSecret(ctx, b, s.secrets[1]) }},
	{"describe a restored secret", func(ctx context.Context, b *backend, s *state) string {
		out, err := b.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &s.secrets[1]})
		return outcome(err, func() string { return fmt.Sprintf("deleted=%v", out.DeletedDate != nil) })
	}},
	{"delete a scheduled secret for good", func(ctx context.Context, b *backend, s *state) string {
		if _, err := b.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &s.secrets[1], RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			return outcome(err, "")
		}
		_, err := b.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: &s.secrets[1], ForceDeleteWithoutRecovery: aws.Bool(true)})
		return outcome(err, "deleted")
	}},
	{"restore a secret deleted for good", func(ctx context.Context, b *backend, s *state) string {
		_, err := b.secrets.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: &s.secrets[1]})
		return outcome(err, "restored")
	}},
	{"list after the deletion for good", func(ctx context.Context, b *backend, s *state) string {
		b.settle()
		return listSecretsIncluding(ctx, b, b.n.secrets+"/123456789012/", true)
	}},
	// SSM parameters, as an owner creates one for KeyDelivery = ssm:<name> and the rotator
	// overwrites it (pkg/appsecret ssm.go): tags only on creation, a new version per
	// overwrite, the description kept when an overwrite gives none.
	{"create a SecureString parameter with tags", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			out, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paramName(b)), Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("placeholder"),
				Tags: []ssmtypes.Tag{{Key: aws.String(config.AppSecretOptInTag), Value: aws.String(b.n.user)}}})
			return outcome(err, func() string { return fmt.Sprintf("version %d", out.Version) })
		})
	}},
	{"create it again without overwrite", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paramName(b)), Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("again")})
			return outcome(err, "written")
		})
	}},
	{"overwrite with tags", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			_, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paramName(b)), Value: aws.String("x"), Overwrite: aws.Bool(true),
				Tags: []ssmtypes.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			return outcome(err, "written")
		})
	}},
	{"overwrite with a description", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			out, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paramName(b)), Type: ssmtypes.ParameterTypeSecureString, Value: aws.String("key one"),
				Overwrite: aws.Bool(true), Description: aws.String("the rotator's")})
			return outcome(err, func() string { return fmt.Sprintf("version %d", out.Version) })
		})
	}},
	{"overwrite without a description", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			out, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(paramName(b)), Value: aws.String("the app's"), Overwrite: aws.Bool(true)})
			return outcome(err, func() string { return fmt.Sprintf("version %d", out.Version) })
		})
	}},
	{"describe the parameter by name", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			var found []string
			pages := ssm.NewDescribeParametersPaginator(ps, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
				{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{paramName(b)}}}})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					return outcome(err, "")
				}
				for _, m := range page.Parameters {
					found = append(found, fmt.Sprintf("%s version %d description %q key given %v", m.Type, m.Version, aws.ToString(m.Description), m.KeyId != nil))
				}
			}
			return strings.Join(found, "; ")
		})
	}},
	{"list the parameter's tags", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			out, err := ps.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(paramName(b))})
			return outcome(err, func() string {
				var tags []string
				for _, t := range out.TagList {
					tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
				}
				slices.Sort(tags)
				return strings.Join(tags, ",")
			})
		})
	}},
	{"list the tags of a missing parameter", func(ctx context.Context, b *backend, s *state) string {
		return ssmStep(b, func(ps appsecret.ParamAPI) string {
			_, err := ps.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(paramName(b) + "-missing")})
			return outcome(err, "tags")
		})
	}},
	{"send from an unverified address", func(ctx context.Context, b *backend, s *state) string {
		return sendEmail(ctx, b, b.n.unverified, b.n.recipient)
	}},
	{"send", func(ctx context.Context, b *backend, s *state) string {
		if err := b.verifySES(b.n.sender); err != nil {
			return outcome(err, "")
		}
		return sendEmail(ctx, b, b.n.sender, b.n.recipient)
	}},
}

// ssmStep runs an SSM step on b, "skipped" when b has no SSM.
func ssmStep(b *backend, step func(appsecret.ParamAPI) string) string {
	if b.params == nil {
		return "skipped"
	}
	return step(b.params)
}

// paramName is the conformance sequence's SSM parameter.
func paramName(b *backend) string { return "/" + b.n.secrets + "/app-key" }

// documented holds AWS's documented outcome of the steps where moto answers otherwise
// (moto's TagUser checks nothing): the model must give it, the stand-in's is only logged.
var documented = map[string]string{
	"tag value of 257 characters": "error InvalidInput",
	"tag value with a comma":      "error InvalidInput",
}

// state carries what a step created to the later steps of the same backend.
type state struct {
	keys, secrets []string
}

// outcome is err's code, or what ok says (a string, or a func making one).
func outcome(err error, ok any) string {
	if err != nil {
		return "error " + code(err)
	}
	if f, isFunc := ok.(func() string); isFunc {
		return f()
	}
	return fmt.Sprint(ok)
}

func createKey(ctx context.Context, b *backend, s *state) string {
	out, err := b.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(b.n.user)})
	return outcome(err, func() string {
		k := out.AccessKey
		s.keys = append(s.keys, aws.ToString(k.AccessKeyId))
		id := aws.ToString(k.AccessKeyId)
		return fmt.Sprintf("%s user=%s id=%s+%d secret=%d created=%v", k.Status, aws.ToString(k.UserName), id[:4], len(id)-4,
			len(aws.ToString(k.SecretAccessKey)), k.CreateDate != nil)
	})
}

func listKeys(ctx context.Context, b *backend) string {
	out, err := b.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(b.n.user)})
	return outcome(err, func() string {
		var statuses []string
		for _, m := range out.AccessKeyMetadata {
			statuses = append(statuses, string(m.Status))
		}
		slices.Sort(statuses)
		return fmt.Sprintf("%v truncated=%v", statuses, out.IsTruncated)
	})
}

func listTags(ctx context.Context, b *backend) string {
	out, err := b.iam.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(b.n.user)})
	return outcome(err, func() string {
		var tags []string
		for _, t := range out.Tags {
			tags = append(tags, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
		}
		slices.Sort(tags)
		return fmt.Sprint(tags)
	})
}

func createSecret(ctx context.Context, b *backend, s *state, name string) string {
	out, err := b.secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String(`{"n":"` + name + `"}`),
		Tags: []smtypes.Tag{{Key: aws.String("key-rotator:user"), Value: aws.String("alice")}}})
	return outcome(err, func() string {
		arn := aws.ToString(out.ARN)
		s.secrets = append(s.secrets, arn)
		prefix, suffix, _ := strings.Cut(arn, ":secret:"+name+"-")
		parts := strings.Split(prefix, ":")
		return fmt.Sprintf("created arn=%s:%s:%s:<region>:<account>:secret:<name>-%d name=%v", parts[0], parts[1], parts[2], len(suffix),
			aws.ToString(out.Name) == name)
	})
}

func listSecrets(ctx context.Context, b *backend, prefix string) string {
	return listSecretsIncluding(ctx, b, prefix, false)
}

// listSecretsIncluding lists the secrets under prefix, those scheduled for deletion too when
// planned is set.
func listSecretsIncluding(ctx context.Context, b *backend, prefix string, planned bool) string {
	out, err := b.secrets.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(planned),
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}}})
	return outcome(err, func() string {
		var names []string
		for _, e := range out.SecretList {
			names = append(names, fmt.Sprintf("%s(tags=%d created=%v deleted=%v)", aws.ToString(e.Name), len(e.Tags), e.CreatedDate != nil, e.DeletedDate != nil))
		}
		slices.Sort(names)
		return fmt.Sprint(names)
	})
}

// days writes a duration to the nearest whole day: the stand-in's clock and the model's differ.
func days(d time.Duration) string { return fmt.Sprintf("%.0f days", d.Hours()/24) }

func getSecret(ctx context.Context, b *backend, id string) string {
	out, err := b.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	return outcome(err, func() string {
		return fmt.Sprintf("value=%s stages=%v", aws.ToString(out.SecretString), out.VersionStages)
	})
}

func putSecret(ctx context.Context, b *backend, id, token, value string) string {
	out, err := b.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &id, ClientRequestToken: &token, SecretString: &value})
	return outcome(err, func() string {
		return fmt.Sprintf("put version=%v stages=%v", aws.ToString(out.VersionId) == token, out.VersionStages)
	})
}

func sendEmail(ctx context.Context, b *backend, from, to string) string {
	out, err := b.ses.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: &from,
		Content: &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: rawMail(from, to)}}})
	return outcome(err, func() string { return fmt.Sprintf("sent id=%v", aws.ToString(out.MessageId) != "") })
}

func TestConformanceWithStandIn(t *testing.T) {
	sb := sandboxtest.New(t, nil)
	cfg := sb.Config()
	iamClient := iam.NewFromConfig(cfg)
	sesClient := sesv2.NewFromConfig(cfg)
	standIn := &backend{
		iam:     iamClient,
		secrets: secretsmanager.NewFromConfig(cfg),
		params:  ssm.NewFromConfig(cfg),
		ses:     sesClient,
		createUser: func(name string) error {
			_, err := iamClient.CreateUser(context.Background(), &iam.CreateUserInput{UserName: &name})
			return err
		},
		verifySES: func(identity string) error {
			_, err := sesClient.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: &identity})
			return err
		},
		settle: func() {},
		now:    time.Now,
		n:      standInNames,
	}
	compareWithModel(t, "stand-in", standIn, modelBackend(standInNames))
}

// modelBackend is the model as the conformance sequence reaches it, in the stand-in's
// account.
func modelBackend(n names) *backend {
	clock := &simClock{t: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}
	w := New(clock.now, 1)
	return &backend{
		iam: w.IAM(standInAccount), secrets: w.Secrets(), ses: w.SES(), params: w.ParamsIn(standInAccount),
		createUser: func(name string) error { return w.CreateUser(standInAccount, name, nil) },
		verifySES:  func(identity string) error { w.VerifySES(identity); return nil },
		settle:     func() { clock.advance(max(w.ConsistencyDelay, w.ListSecretsDelay)) },
		now:        clock.now,
		n:          n,
	}
}

// compareWithModel runs the sequence on the reference backend and on the model, step by
// step, and reports every step where they disagree. A step of documented gets AWS's
// documented outcome from the model; the reference's answer is only logged there, unless
// the reference is AWS itself, which must give it too.
func compareWithModel(t *testing.T, reference string, ref, model *backend) {
	ctx := context.Background()
	var got, want state
	for _, step := range conformance {
		fromRef := step.run(ctx, ref, &want)
		fromModel := step.run(ctx, model, &got)
		if doc, ok := documented[step.name]; ok {
			if fromModel != doc {
				t.Errorf("%s: model %s, want AWS's documented %s", step.name, fromModel, doc)
			}
			if reference == "AWS" && fromRef != doc {
				t.Errorf("%s: AWS says %s, its documentation %s", step.name, fromRef, doc)
			}
			t.Logf("%s: AWS documents %s, the %s says %s", step.name, doc, reference, fromRef)
			continue
		}
		t.Logf("%s: %s", step.name, fromModel)
		if fromModel != fromRef {
			t.Errorf("%s:\n %s: %s\n    model: %s", step.name, reference, fromRef, fromModel)
		}
	}
}

// kmsDeniedWriteOnModel is the same write on the model: a secret whose KMS key denies the
// member role's writes (DenyMemberWrites, DenyByKMSKey).
func kmsDeniedWriteOnModel(n names) string {
	w := New(time.Now, 1)
	name := n.secrets + "/cmk"
	ctx := context.Background()
	if _, err := w.SecretsIn(standInAccount).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		Tags: []smtypes.Tag{{Key: aws.String(config.AppSecretOptInTag), Value: aws.String(n.user)}}}); err != nil {
		return "model: " + err.Error()
	}
	if err := w.DenyMemberWrites(standInAccount, name, DenyByKMSKey); err != nil {
		return "model: " + err.Error()
	}
	_, err := w.MemberSecretsIn(standInAccount).PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(`{"v":1}`)})
	return outcome(err, "written")
}

// TestKMSDeniedWriteOnTheModel: the model's half of make aws-contract's step "a secret whose
// customer managed key denies the write" answers as AWS documents a KMS key that denies the
// caller (AccessDeniedException, "Access to KMS is not allowed").
func TestKMSDeniedWriteOnTheModel(t *testing.T) {
	if got := kmsDeniedWriteOnModel(standInNames); got != "error AccessDeniedException" {
		t.Errorf("PutSecretValue that the secret's KMS key denies: %s, want error AccessDeniedException", got)
	}
}
