package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Setting is one setting of the rotator, in the one place that describes it: the CDK app
// reads it from context (LoadDeployment), the Lambdas from their environment (Load), the
// stack and the local runner give each function the variables it reads (Functions,
// Settings.Environ), and docs/configuration.md's table is generated from it (DocTable).
type Setting struct {
	// Key is the CDK context key (cdk.json, -c key=value); empty for a variable the stack
	// derives from the resources it creates.
	Key string
	// Variable is the Lambdas' environment variable; empty for a setting only the CDK app reads.
	Variable string
	// Default is the value of an unset key (and variable), as written in context; an
	// optional setting without one is empty.
	Default string
	// DefaultKey: an unset (or empty) key takes the value of this other key.
	DefaultKey string
	// Required: the CDK app fails without the key.
	Required bool
	// RequiredWith: the setting is required when this other key is set.
	RequiredWith string
	// Example is a valid value other than the default, for the tests.
	Example string
	// DefaultDoc is the default column of the docs when the stack sets the variable.
	DefaultDoc string
	// Form is the setting's parser and valid values.
	Form Form
	// Readers are the functions given the variable (statemachine's names); Requirers, of
	// those, the ones that cannot start without it.
	Readers, Requirers []string
	// Meaning is the docs' meaning column (Markdown).
	Meaning string
	// field points at the setting's field in a Deployment (for a variable, in its Settings):
	// an *int, *string, *[]string or *bool.
	field func(*Deployment) any
}

// Deployment is the configuration of a deployment as the CDK app reads it from context:
// the Lambdas' Settings (of which the stack sets the ones no key sets, from its
// resources), and what only the app reads.
type Deployment struct {
	Settings
	OperatorEmail       string
	Schedule            string
	MapConcurrency      int
	NotifyConcurrency   int
	OrganizationID      string
	ManagementAccountID string
	RotatorAccountID    string
	// StackSetAdminAccountID deploys the member-role StackSet: the management account
	// (default) or a delegated administrator for StackSets.
	StackSetAdminAccountID string
	StackSetTargets        []string
	ReportRetentionDays    int
	CleanupOnce            bool
}

// The functions, as the table names them.
const (
	listAccounts  = statemachine.ListAccounts
	scanAndRotate = statemachine.ScanAndRotate
	notifyUser    = statemachine.NotifyUser
	cleanupReport = statemachine.CleanupReport
)

var (
	arnPattern       = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]{0,12}:.+$`)
	bucketPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	prefixPattern    = regexp.MustCompile(`^[` + SecretNameChars + `]{1,400}/$`)
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	// OUPattern is an organizational unit ID, as Organizations documents it.
	OUPattern    = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	orgIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// gitHubOwnerPattern is a GitHub user or organization login.
	gitHubOwnerPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	targetPattern      = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
	schedulePattern    = regexp.MustCompile(`^(cron\(\S+( \S+){5}\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\))$`)
)

const (
	maxConcurrent = 10000 // Distributed Map's MaxConcurrency limit
	maxSendRate   = 10000 // emails per second: send slots per second (pkg/sendrate)
)

var (
	accountID = Matching(workflow.ValidAccountID, "a 12-digit account ID")
	arn       = func(what string) Form { return Matching(arnPattern.MatchString, what) }
	// memberRoleName is an IAM role name, and so is NotifyUser's role's name in member
	// accounts, made from it (NotifyMemberRoleName).
	memberRoleName = Matching(func(s string) bool { return workflow.ValidIAMName(s) && workflow.ValidIAMName(NotifyMemberRoleName(s)) },
		fmt.Sprintf("an IAM role name of at most %d characters (notify-user's role in member accounts is named after it, with %s)",
			MaxMemberRoleNameLength, NotifyRoleSuffix))
	accountTag = Matching(func(s string) bool { _, _, err := SplitAccountTag(s); return err == nil },
		`an account tag key=value, or "`+NoExcludeAccountTag+`"`)
)

// Table is every setting, in the order docs/configuration.md lists them: first the context
// keys, the required ones first, then the variables the stack derives from its resources.
var Table = []Setting{
	{Key: "rotatorAccountId", Example: "222222222222", Required: true, Form: accountID,
		Meaning: "provisioning account that runs the rotator",
		field:   func(d *Deployment) any { return &d.RotatorAccountID }},
	{Key: "managementAccountId", Example: "111111111111", Required: true, Form: accountID,
		Meaning: "the organization's management account; ListAccounts assumes the stack's role there (`" + ManagementRoleARN + "`)",
		field:   func(d *Deployment) any { return &d.ManagementAccountID }},
	{Key: "organizationId", Example: "o-exampleorg1", Required: true, Form: Matching(orgIDPattern.MatchString, "an organization ID like o-a1b2c3d4e5"),
		Meaning: "`o-...`; every trust policy requires this `aws:PrincipalOrgID`",
		field:   func(d *Deployment) any { return &d.OrganizationID }},
	{Key: "stackSetTargets", Example: "r-exmp,ou-ab12-abcdefgh", Required: true,
		Form:    List(targetPattern.MatchString, "a root ID (r-...) or OU ID (ou-...-...)", "must name the organization root or at least one OU"),
		Meaning: "organization root (`r-...`) or OU IDs (`ou-...`) that get the member role",
		field:   func(d *Deployment) any { return &d.StackSetTargets }},
	{Key: "stackSetAdminAccountId", Example: "333333333333", DefaultKey: "managementAccountId", Form: accountID,
		Meaning: "account that deploys the StackSet (a delegated administrator)",
		field:   func(d *Deployment) any { return &d.StackSetAdminAccountID }},
	{Key: "senderEmail", Example: "rotator@example.com", Variable: SenderEmail, Required: true, Form: Email,
		Readers: []string{notifyUser, cleanupReport}, Requirers: []string{notifyUser, cleanupReport},
		Meaning: "the verified SES identity emails come from",
		field:   func(d *Deployment) any { return &d.SenderEmail }},
	{Key: "supportEmail", Example: "support@example.com", Variable: SupportEmail, Required: true, Form: Email,
		Readers: []string{cleanupReport}, Requirers: []string{cleanupReport},
		Meaning: "who gets the consolidated report",
		field:   func(d *Deployment) any { return &d.SupportEmail }},
	{Key: "operatorEmail", Example: "ops@example.com", Required: true, Form: Email,
		Meaning: "subscribed to the failure topic (confirm the SNS email)",
		field:   func(d *Deployment) any { return &d.OperatorEmail }},
	{Key: "allowedEmailDomains", Example: "example.com,example.org", Variable: AllowedEmailDomains, Required: true, Form: EmailDomains,
		Readers: []string{scanAndRotate},
		Meaning: "domains owners' addresses must belong to; `\"*\"` allows any and must be said explicitly, or anyone who can tag a user could receive its next key",
		field:   func(d *Deployment) any { return &d.Policy.AllowedEmailDomains }},
	{Key: "githubAppSecretArn", Example: "arn:aws:secretsmanager:us-east-1:222222222222:secret:key-rotator/github-app-AbCdEf", Variable: GitHubAppSecretARN,
		Form:    arn("a Secrets Manager secret ARN"),
		Readers: []string{scanAndRotate, notifyUser},
		Meaning: "a secret of the rotator account holding the GitHub App that delivers machine users' keys to GitHub Actions secrets " +
			"(`{\"appId\": ..., \"privateKey\": \"-----BEGIN RSA PRIVATE KEY-----...\"}`, and `apiUrl` for GitHub Enterprise Server); " +
			"only ScanAndRotate and NotifyUser may read it; unset: no GitHub delivery ([machine users](machine-users.md))",
		field: func(d *Deployment) any { return &d.GitHubAppSecretARN }},
	{Key: "allowedGitHubOwners", Example: "example-org,example-user", Variable: AllowedGitHubOwners, RequiredWith: "githubAppSecretArn",
		Form:    List(gitHubOwnerPattern.MatchString, "a GitHub organization or user login", ""),
		Readers: []string{scanAndRotate, notifyUser},
		Meaning: "GitHub organizations and users whose repositories may receive keys (`KeyDelivery = github:<owner>/<repo>`); required with `githubAppSecretArn`, " +
			"or anyone who can tag a user could send its next key to a repository of their own",
		field: func(d *Deployment) any { return &d.AllowedGitHubOwners }},
	{Key: "limitDays", Example: "60", Variable: LimitDays, Default: strconv.Itoa(policy.DefaultLimitDays), Form: Integer(2, policy.MaxLimitDays),
		Readers: []string{scanAndRotate, cleanupReport},
		Meaning: "maximum key age L: new key at L−N, deactivation at L, deletion at L+N, unused keys deleted at L",
		field:   func(d *Deployment) any { return &d.Policy.LimitDays }},
	{Key: "noticePeriod", Example: "7", Variable: NoticePeriod, Default: strconv.Itoa(policy.DefaultNoticePeriod), Form: Integer(1, 365),
		Readers: []string{scanAndRotate, cleanupReport},
		Meaning: "N, the days of notice before each step",
		field:   func(d *Deployment) any { return &d.Policy.NoticePeriod }},
	{Key: "maxUsers", Example: "50", Variable: MaxUsers, Default: strconv.Itoa(policy.DefaultMaxUsers), Form: Integer(1, policy.MaxMaxUsers),
		Readers: []string{scanAndRotate},
		Meaning: "users with writes per account per run, oldest key first; the rest wait",
		field:   func(d *Deployment) any { return &d.Policy.MaxUsers }},
	{Key: "memberRoleName", Example: "key-rotator", Variable: MemberRoleName, Default: DefaultMemberRoleName, Form: memberRoleName,
		Readers: []string{scanAndRotate, notifyUser},
		Meaning: "the role scan-and-rotate assumes in every member account; notify-user assumes `<memberRoleName>" + NotifyRoleSuffix + "` beside it",
		field:   func(d *Deployment) any { return &d.MemberRoleName }},
	{Key: "excludeAccounts", Example: "111122223333,444455556666", Variable: ExcludeAccounts, Form: List(workflow.ValidAccountID, "a 12-digit account ID", ""),
		Readers: []string{listAccounts},
		Meaning: "accounts never assumed into",
		field:   func(d *Deployment) any { return &d.ExcludeAccounts }},
	{Key: "excludeOus", Example: "ou-ab12-cd34ef56,ou-ab12-7890abcd", Variable: ExcludeOUs, Form: List(OUPattern.MatchString, "an OU ID (ou-...-...)", ""),
		Readers: []string{listAccounts},
		Meaning: "OUs whose accounts, and those of every OU below them, are never assumed into",
		field:   func(d *Deployment) any { return &d.ExcludeOUs }},
	{Key: "excludeAccountTag", Example: "lifecycle=migrating", Variable: ExcludeAccountTag, Default: DefaultExcludeAccountTag, Form: accountTag,
		Readers: []string{scanAndRotate},
		Meaning: "an account tagged with this key=value in Organizations (the value in any case) is never assumed into: its own ScanAndRotate reads the tag first " +
			"(through `" + TagReaderRoleARN + "`) and reports it `excluded`, or `failed` when the tag cannot be read; `" + NoExcludeAccountTag +
			"` switches it off (and its one Organizations call per account)",
		field: func(d *Deployment) any { return &d.ExcludeAccountTag }},
	{Key: "emailTagKeys", Example: "Owner,Email", Variable: EmailTagKeys, Default: strings.Join(policy.DefaultEmailTagKeys, ","),
		Form:    List(policy.ValidTagKey, "an IAM tag key", "must name at least one tag key"),
		Readers: []string{scanAndRotate},
		Meaning: "user tags holding the owner's address; the first present wins",
		field:   func(d *Deployment) any { return &d.Policy.EmailTagKeys }},
	{Key: "exemptTagKey", Example: "NoRotate", Variable: ExemptTagKey, Default: policy.DefaultExemptTagKey, Form: Matching(policy.ValidTagKey, "an IAM tag key"),
		Readers: []string{scanAndRotate, notifyUser},
		Meaning: "a user with this tag set to `true` (any case) is never touched",
		field:   func(d *Deployment) any { return &d.Policy.ExemptTagKey }},
	{Key: "schedule", Example: "rate(1 day)", Default: "cron(0 13 * * ? *)", Form: Matching(schedulePattern.MatchString, "an EventBridge cron(...) or rate(...) expression"),
		Meaning: "EventBridge schedule of the daily run (UTC)",
		field:   func(d *Deployment) any { return &d.Schedule }},
	{Key: "mapConcurrency", Example: "3", Default: strconv.Itoa(DefaultMapConcurrency), Form: Integer(1, maxConcurrent),
		Meaning: "accounts processed at once",
		field:   func(d *Deployment) any { return &d.MapConcurrency }},
	{Key: "notifyConcurrency", Example: "4", Default: "2", Form: Integer(1, 40),
		Meaning: "notifications sent at once per account (the send rate below bounds them all)",
		field:   func(d *Deployment) any { return &d.NotifyConcurrency }},
	{Key: "sesMaxSendRate", Example: "14", Variable: SESMaxSendRate, Default: "0", Form: Integer(0, maxSendRate),
		Readers: []string{listAccounts},
		Meaning: "emails per second of a run, all accounts and overlapping runs together: each email first reserves a send slot in the report bucket " +
			"([design](design.md#one-send-rate-for-the-whole-run)); `0`: SES's maximum send rate, read at the start of each run (`ses:GetAccount`)",
		field: func(d *Deployment) any { return &d.SESMaxSendRate }},
	{Key: "summaryToTopic", Example: "true", Variable: SummaryToTopic, Default: "false", Form: Boolean,
		Readers: []string{cleanupReport},
		Meaning: "CleanupReport publishes every run's summary (the support email's figures) on the failure topic too, for a chat channel subscribed to it " +
			"([operations](operations.md#alerts-in-slack-or-microsoft-teams)); failures are published either way",
		field: func(d *Deployment) any { return &d.SummaryToTopic }},
	{Key: "reportRetentionDays", Example: "30", Default: "400", Form: Integer(1, 36500),
		Meaning: "days before report-bucket objects expire",
		field:   func(d *Deployment) any { return &d.ReportRetentionDays }},
	{Key: "cleanupOnce", Example: "true", Default: "false", Form: Boolean,
		Meaning: "first deploy only: the schedule starts the one-time cleanup run, which waits for a canary run to go right ([operations](operations.md#execution-input))",
		field:   func(d *Deployment) any { return &d.CleanupOnce }},

	{Key: "securityHubFindings", Example: "true", Variable: SecurityHubFindings, Default: "false", Form: Boolean,
		Readers: []string{cleanupReport},
		Meaning: "CleanupReport imports a Security Hub finding, in the rotator account, for every user whose keys the rotator cannot rotate, " +
			"and archives it when that ends ([operations](operations.md#security-hub-findings)); Security Hub must be enabled there",
		field: func(d *Deployment) any { return &d.SecurityHubFindings }},

	// Set by the stack from the resources it creates.
	{Variable: ManagementRoleARN, Example: "arn:aws:iam::999988887777:role/iam-access-key-rotator-management", DefaultDoc: "the stack's role in `managementAccountId`", Form: arn("an IAM role ARN"),
		Readers: []string{listAccounts},
		Meaning: "the role ListAccounts assumes to list the organization's accounts; unset, it lists them with its own credentials",
		field:   func(d *Deployment) any { return &d.ManagementRoleARN }},
	{Variable: ReportBucket, Example: "reports-bucket", DefaultDoc: "the stack's bucket", Form: Matching(bucketPattern.MatchString, "an S3 bucket name"),
		Readers: []string{listAccounts, scanAndRotate, notifyUser, cleanupReport}, Requirers: []string{listAccounts, scanAndRotate, notifyUser, cleanupReport},
		Meaning: "run state (`runs/<run>/…`), reports (`reports/<run>/report.{json,csv}`), leases (`leases/`) and send slots (`send-slots/`, expired the next day)",
		field:   func(d *Deployment) any { return &d.ReportBucket }},
	{Variable: HandoffSecretPrefix, Example: "rotator/handoff/", Default: DefaultHandoffSecretPrefix, Form: Matching(prefixPattern.MatchString, "a secret name prefix ending in /"),
		Readers: []string{scanAndRotate},
		Meaning: "where new keys wait in Secrets Manager for NotifyUser",
		field:   func(d *Deployment) any { return &d.HandoffSecretPrefix }},
	{Variable: HandoffKMSKeyID, Example: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", DefaultDoc: "the stack's key", Form: Text,
		Readers: []string{scanAndRotate},
		Meaning: "the KMS key of the hand-off secrets (only NotifyUser may decrypt)",
		field:   func(d *Deployment) any { return &d.HandoffKMSKeyID }},
	{Variable: SESConfigurationSet, Example: "iam-access-key-rotator-configset", DefaultDoc: "the stack's", Form: Text,
		Readers: []string{listAccounts, notifyUser, cleanupReport},
		Meaning: "the SES configuration set emails are sent through; its suppression options (the stack's: BOUNCE and COMPLAINT) decide, with the account's, " +
			"whether a run can see bounces ([operations](operations.md#what-each-message-on-the-failure-topic-means), \"Bounces not suppressed\")",
		field: func(d *Deployment) any { return &d.SESConfigurationSet }},
	{Variable: FailureTopicARN, Example: "arn:aws:sns:us-east-1:123456789012:iam-access-key-rotator-topic", DefaultDoc: "the stack's topic", Form: arn("an SNS topic ARN"),
		Readers: []string{cleanupReport}, Requirers: []string{cleanupReport},
		Meaning: "SNS topic told when an account fails or an owner is not notified",
		field:   func(d *Deployment) any { return &d.FailureTopicARN }},
	{Variable: TagKeySecretARN, Example: "arn:aws:secretsmanager:us-east-1:123456789012:secret:iam-access-key-rotator/tag-key-AbCdEf", DefaultDoc: "the stack's secret", Form: arn("a Secrets Manager secret ARN"),
		Readers: []string{scanAndRotate, notifyUser}, Requirers: []string{scanAndRotate, notifyUser},
		Meaning: "the key (a random secret of the rotator account, readable only by ScanAndRotate and NotifyUser) that signs the rotator's `" +
			RotatorTagKeyPrefix + "*` tags on IAM users; a tag it does not verify is taken as absent ([policy](policy.md#what-the-rotator-trusts-from-tags))",
		field: func(d *Deployment) any { return &d.TagKeySecretARN }},
	{Variable: TagReaderRoleARN, Example: "arn:aws:iam::111122223333:role/iam-access-key-rotator-tag-reader", DefaultDoc: "the stack's role",
		Form:    arn("an IAM role ARN"),
		Readers: []string{scanAndRotate},
		Meaning: "the management account's role through which ScanAndRotate reads its account's exclusion tag: it may only list the tags of the " +
			"organization's accounts, and only ScanAndRotate's role may assume it; unset with `excludeAccountTag` `" + NoExcludeAccountTag + "`",
		field: func(d *Deployment) any { return &d.TagReaderRoleARN }},
	{Variable: Partition, Example: "aws-us-gov", Default: DefaultPartition, DefaultDoc: "the stack's (`AWS::Partition`)",
		Form:    Matching(partitionPattern.MatchString, "an AWS partition (aws, aws-cn, aws-us-gov, ...)"),
		Readers: []string{scanAndRotate, notifyUser},
		Meaning: "the partition (`aws`, `aws-cn`, `aws-us-gov`) of the member-role ARNs the Lambdas assume; `" + DefaultPartition + "` when unset",
		field:   func(d *Deployment) any { return &d.Partition }},
}

// set gives the setting's field the value its form parsed.
func (s Setting) set(d *Deployment, v any) {
	reflect.ValueOf(s.field(d)).Elem().Set(reflect.ValueOf(v))
}

// value is the setting's value in d.
func (s Setting) value(d *Deployment) any { return reflect.ValueOf(s.field(d)).Elem().Interface() }

// mustParse parses a value the table itself writes (a default).
func (s Setting) mustParse(text string) any {
	v, err := s.Form.Parse(text)
	if err != nil {
		panic(fmt.Sprintf("config: setting %s: default %q: %v", s.name(), text, err))
	}
	return v
}

// text is the setting's value in d as its variable writes it: empty for a zero value, which
// the Lambdas read as unset.
func (s Setting) text(d *Deployment) string {
	switch p := s.field(d).(type) {
	case *int:
		if *p == 0 {
			return ""
		}
		return strconv.Itoa(*p)
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *bool:
		if !*p {
			return ""
		}
		return strconv.FormatBool(*p)
	}
	panic(fmt.Sprintf("config: setting %s%s: field of type %T", s.Key, s.Variable, s.field(d)))
}

// name is the setting's context key, or its variable when it has none.
func (s Setting) name() string {
	if s.Key != "" {
		return s.Key
	}
	return s.Variable
}

// Lookup returns the setting of a context key or variable.
func Lookup(name string) (Setting, bool) {
	for _, s := range Table {
		if s.Key == name || s.Variable == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Variables lists every variable the Lambdas read, in the order of Table.
var Variables = names(func(s Setting) string { return s.Variable })

// ContextKeys lists every context key the CDK app reads, in the order of Table.
var ContextKeys = names(func(s Setting) string { return s.Key })

// names lists the non-empty names of Table's settings, in its order.
func names(name func(Setting) string) []string {
	var out []string
	for _, s := range Table {
		if n := name(s); n != "" {
			out = append(out, n)
		}
	}
	return out
}
