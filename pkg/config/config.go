// Package config is the rotator's configuration: every setting once, in Table (its context
// key, its environment variable, its default, its form, the functions that read it). The
// Lambdas read their settings from their environment with it once, at start (Load), the CDK
// app reads its context with it (LoadDeployment), and every variable is validated with an
// error that names it.
package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// The environment variables' names, for the code that sets one (tests, the simulation, the
// local runner); Table describes each.
const (
	LimitDays           = "LIMIT_DAYS"
	NoticePeriod        = "NOTICE_PERIOD"
	MaxUsers            = "MAX_USERS"
	SenderEmail         = "SENDER_EMAIL"
	SupportEmail        = "SUPPORT_EMAIL"
	MemberRoleName      = "MEMBER_ROLE_NAME"
	ManagementRoleARN   = "MANAGEMENT_ROLE_ARN"
	ExcludeAccounts     = "EXCLUDE_ACCOUNTS"
	ExcludeOUs          = "EXCLUDE_OUS"
	ExcludeAccountTag   = "EXCLUDE_ACCOUNT_TAG"
	EmailTagKeys        = "EMAIL_TAG_KEYS"
	ExemptTagKey        = "EXEMPT_TAG_KEY"
	AllowedEmailDomains = "ALLOWED_EMAIL_DOMAINS"
	ReportBucket        = "REPORT_BUCKET"
	HandoffSecretPrefix = "HANDOFF_SECRET_PREFIX"
	HandoffKMSKeyID     = "HANDOFF_KMS_KEY_ID"
	SESConfigurationSet = "SES_CONFIGURATION_SET"
	FailureTopicARN     = "FAILURE_TOPIC_ARN"
	Partition           = "PARTITION"
	SESMaxSendRate      = "SES_MAX_SEND_RATE"
	SummaryToTopic      = "SUMMARY_TO_TOPIC"
	SecurityHubFindings = "SECURITY_HUB_FINDINGS"
	TagKeySecretARN     = "TAG_KEY_SECRET_ARN"
	TagReaderRoleARN    = "TAG_READER_ROLE_ARN"
	GitHubAppSecretARN  = "GITHUB_APP_SECRET_ARN"
	AllowedGitHubOwners = "ALLOWED_GITHUB_OWNERS"
)

// RotatorTagKeyPrefix starts the key of every tag the rotator writes on an IAM user. The
// member role may write no other tag (infra: its aws:TagKeys condition), so it can never
// change an owner's email or exempt tag.
const RotatorTagKeyPrefix = "key-rotator:"

// HandoffSentTag is the tag NotifyUser puts on a hand-off secret once its key was sent: the
// only tag its role may write (infra), and what ScanAndRotate confirms the delivery from.
const HandoffSentTag = RotatorTagKeyPrefix + "sent"

// SecretsKeyAccessCheck is the SecretVersionId that Secrets Manager puts in the encryption
// context of the GenerateDataKey and Decrypt calls with which, on CreateSecret, it checks
// that the caller may use the secret's KMS key (Secrets Manager user guide, "Secrets Manager
// encryption context"): ScanAndRotate may decrypt under this context only (infra), never a
// real version.
const SecretsKeyAccessCheck = "RequestToValidateKeyAccess"

// NoticesTag is the user tag in which NotifyUser records the notices delivered (pkg/history):
// the one tag its member-account role may write (infra).
const NoticesTag = RotatorTagKeyPrefix + "notices"

// NotifyRoleSuffix ends the name of the role NotifyUser assumes in each member account: the
// member role's name followed by it (NotifyMemberRoleName). It is a role of its own, allowed
// only what NotifyUser does there (record notices, write machine users' keys to the secrets
// that opt in), and the member role trusts only ScanAndRotate: code running as NotifyUser
// cannot create, deactivate or delete a key.
const NotifyRoleSuffix = "-notify"

// MaxMemberRoleNameLength is the longest member role name whose notify role name
// (NotifyMemberRoleName) is still an IAM role name (at most 64 characters).
const MaxMemberRoleNameLength = 64 - len(NotifyRoleSuffix)

// NotifyMemberRoleName is the name of NotifyUser's role in every member account, for the
// member role named memberRoleName.
func NotifyMemberRoleName(memberRoleName string) string { return memberRoleName + NotifyRoleSuffix }

// AppSecretOptInTag is the resource tag a member account's secret must carry, naming the IAM
// user, to receive that user's new keys (pkg/appsecret); the member role may write only
// secrets that carry this tag key (infra).
const AppSecretOptInTag = RotatorTagKeyPrefix + "user"

// SecretNameChars are the characters Secrets Manager allows in a secret's name, as a regular
// expression's character class.
const SecretNameChars = `\w/+=.@-`

// TagKeySecretName names the secret of the rotator account that holds the key signing the
// rotator's tags on IAM users (TagKeySecretARN, history.Seal): the stack creates it with a
// random value, the local stand-in likewise.
const TagKeySecretName = statemachine.Name + "/tag-key"

// Defaults of the optional variables.
const (
	DefaultMemberRoleName      = "provisioning-admin"
	DefaultHandoffSecretPrefix = statemachine.Name + "/handoff/"
	DefaultPartition           = "aws"
	// DefaultMapConcurrency is the accounts a run processes at once (the context's
	// mapConcurrency: the Map's MaxConcurrency).
	DefaultMapConcurrency = 10
	// DefaultExcludeAccountTag excludes the accounts tagged key-rotator:exclude=true in
	// Organizations (each account's ScanAndRotate reads its tag); NoExcludeAccountTag
	// switches the tag exclusion off (and that ListTagsForResource call per account).
	DefaultExcludeAccountTag = RotatorTagKeyPrefix + "exclude=true"
	NoExcludeAccountTag      = "none"
)

// SplitAccountTag splits an EXCLUDE_ACCOUNT_TAG value, key=value (split at the first "="),
// into the tag key and value; NoExcludeAccountTag gives empty ones. The key and value follow
// the tag rules Organizations shares with IAM.
func SplitAccountTag(v string) (key, value string, err error) {
	if v == NoExcludeAccountTag {
		return "", "", nil
	}
	key, value, found := strings.Cut(v, "=")
	if !found || !policy.ValidTagKey(key) || !policy.ValidTagValue(value) || strings.TrimSpace(value) == "" {
		return "", "", fmt.Errorf("%q is not a tag key=value (or %q)", v, NoExcludeAccountTag)
	}
	return key, value, nil
}

// Settings is every Lambda's view of its configuration.
type Settings struct {
	Policy       policy.Config
	SenderEmail  string
	SupportEmail string
	// MemberRoleName is the role ScanAndRotate assumes in every member account; NotifyUser
	// assumes the one named after it (NotifyMemberRoleName).
	MemberRoleName    string
	ManagementRoleARN string // empty: list accounts with the function's own credentials
	ExcludeAccounts   []string
	ExcludeOUs        []string
	// ExcludeAccountTag is key=value, or NoExcludeAccountTag (SplitAccountTag).
	ExcludeAccountTag   string
	ReportBucket        string
	HandoffSecretPrefix string
	HandoffKMSKeyID     string // empty: Secrets Manager's AWS-managed key
	SESConfigurationSet string
	FailureTopicARN     string
	// Partition is the deployment's AWS partition (aws, aws-cn, aws-us-gov, ...): the stack
	// sets it from AWS::Partition, so the ARNs the Lambdas build need no guess from the region.
	Partition string
	// SESMaxSendRate is the emails per second of a run, for every account together (0: SES's
	// maximum send rate, read from SES at the start of each run).
	SESMaxSendRate int
	// SummaryToTopic: CleanupReport publishes every run's summary on the failure topic too.
	SummaryToTopic bool
	// TagKeySecretARN is the secret of the rotator account holding the key that signs the
	// rotator's tags on IAM users (history.Seal): ScanAndRotate and NotifyUser read it once
	// per start.
	TagKeySecretARN string
	// TagReaderRoleARN is the management account's role through which ScanAndRotate reads
	// its account's exclusion tag (organizations:ListTagsForResource only); empty: with the
	// function's own credentials.
	TagReaderRoleARN string
	// GitHubAppSecretARN is the secret of the rotator account holding the GitHub App (its ID
	// and private key) through which keys are delivered to GitHub Actions secrets
	// (pkg/appsecret); empty: no GitHub delivery.
	GitHubAppSecretARN string
	// AllowedGitHubOwners are the GitHub organizations and users whose repositories may
	// receive keys (required with GitHubAppSecretARN).
	AllowedGitHubOwners []string
	// SecurityHubFindings: CleanupReport imports a Security Hub finding for every user whose
	// keys the rotator cannot rotate, in the rotator account (pkg/report's findings).
	SecurityHubFindings bool
}

// ExcludeTag is ExcludeAccountTag as its tag key and value, both empty for
// NoExcludeAccountTag (Load validated it).
func (s Settings) ExcludeTag() (key, value string) {
	key, value, _ = SplitAccountTag(s.ExcludeAccountTag)
	return key, value
}

// Load reads the settings through getenv (os.Getenv in a Lambda), each variable of Table by
// its form, an unset one taking its default. The variables named in required must be set;
// every set variable is validated, and all problems are reported at once.
func Load(getenv func(string) string, required ...string) (Settings, error) {
	var errs []error
	bad := func(name, format string, args ...any) { errs = append(errs, input.Errorf(name, format, args...)) }
	for _, name := range required {
		if strings.TrimSpace(getenv(name)) == "" {
			bad(name, "is required")
		}
	}
	var d Deployment
	for _, s := range Table {
		if s.Variable == "" {
			continue
		}
		if s.Default != "" {
			s.set(&d, s.mustParse(s.Default))
		}
		text := strings.TrimSpace(getenv(s.Variable))
		if text == "" {
			continue
		}
		v, err := s.Form.Parse(text)
		if err != nil {
			bad(s.Variable, "%v", err)
			continue
		}
		s.set(&d, v)
	}
	if err := d.Policy.Validate(); err != nil {
		errs = append(errs, renamePolicyFields(err))
	}
	for _, s := range Table {
		if with, ok := Lookup(s.RequiredWith); s.RequiredWith != "" && ok && s.Variable != "" && s.text(&d) == "" && with.text(&d) != "" {
			bad(s.Variable, "is required with %s", with.Variable)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Settings{}, fmt.Errorf("invalid Lambda environment: %w", err)
	}
	return d.Settings, nil
}

// Environ is the inverse of Load: the variables that Load reads back as s, by name. A field
// left empty (or 0) is left out, so Load gives it its default. The CDK app and the local
// runner write every Lambda's environment with it (each function gets the subset that
// Functions names).
func (s Settings) Environ() map[string]string {
	env := map[string]string{}
	d := Deployment{Settings: s}
	for _, setting := range Table {
		if setting.Variable == "" {
			continue
		}
		if v := setting.text(&d); v != "" {
			env[setting.Variable] = v
		}
	}
	return env
}

// policyFieldErrors gives each of the policy's field errors (policy.Config.Validate) to the
// setting of that field: the policy's fields are named as the settings' context keys.
func policyFieldErrors(err error, each func(s Setting, problem string)) []error {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var other []error
	for _, e := range errs {
		var fe *input.FieldError
		if errors.As(e, &fe) {
			field, _, _ := strings.Cut(fe.Field, "[")
			if s, ok := Lookup(field); ok {
				each(s, fe.Problem)
				continue
			}
		}
		other = append(other, e)
	}
	return other
}

// renamePolicyFields reports the policy's field errors under the variables' names.
func renamePolicyFields(err error) error {
	var out []error
	other := policyFieldErrors(err, func(s Setting, problem string) { out = append(out, input.Errorf(s.Variable, "%s", problem)) })
	return errors.Join(append(out, other...)...)
}
