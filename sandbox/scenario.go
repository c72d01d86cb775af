package sandbox

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// MaxCredentialReportHoursAgo is the oldest CredentialReportHoursAgo: a week (past 4 hours,
// every age reads the same: IAM makes a new report).
const MaxCredentialReportHoursAgo = 168

// Scenario is an organization to seed into the stand-in: the management account, the
// member accounts with their IAM users, tags and back-dated keys, and the rotator
// settings that go with it.
type Scenario struct {
	ManagementAccount Account `json:"managementAccount"`
	MemberRole        string  `json:"memberRole"`
	SenderEmail       string  `json:"senderEmail"`
	SupportEmail      string  `json:"supportEmail"`
	// AllowedEmailDomains, when set, are the only domains whose owner addresses the
	// rotator may use (docs/policy.md rule 6); carried into the settings.
	AllowedEmailDomains []string `json:"allowedEmailDomains,omitempty"`
	// ExcludeAccounts are account names, ExcludeOUs OU paths (as in Account.OU): the rotator
	// never assumes into them (their IDs are carried into the settings). ExcludeAccountTag,
	// key=value or "none", replaces the rotator's default, key-rotator:exclude=true.
	ExcludeAccounts   []string  `json:"excludeAccounts,omitempty"`
	ExcludeOUs        []string  `json:"excludeOus,omitempty"`
	ExcludeAccountTag string    `json:"excludeAccountTag,omitempty"`
	Accounts          []Account `json:"accounts"`
	// CredentialReportHoursAgo, when set (0 to 168), makes IAM's credential report behave as
	// on AWS: each account's report was generated that many hours before seeding, and
	// GenerateCredentialReport keeps returning it, unchanged, until it is 4 hours old; then
	// it answers STARTED and makes a new one (24: the report of yesterday's daily run).
	// Unset, every GenerateCredentialReport makes a fresh report (kinder than AWS).
	CredentialReportHoursAgo *int `json:"credentialReportHoursAgo,omitempty"`
	// ConsolidatedBilling creates the organization with consolidated billing only
	// (Organizations' feature set CONSOLIDATED_BILLING), as one that has not enabled all
	// features: StackSets then has no trusted access and no member role StackSet is created
	// (service-managed StackSets need both); the seeder still makes the member roles. Off: all
	// features, StackSets' trusted access and the StackSet, as a deployed rotator has them.
	ConsolidatedBilling bool `json:"consolidatedBilling,omitempty"`
	// SESSandbox, when set, makes SES behave as in an account without production access.
	SESSandbox *SESSandbox `json:"sesSandbox,omitempty"`
	// EnforceIAM switches moto's IAM authorization on once the scenario is seeded: every call
	// not signed by the stand-in's operator (sandbox.Config) is then allowed only by the
	// caller's policies, the rotator's roles' being the ones the CDK app synthesizes
	// (sandbox/permissions). Off, moto allows every call (kinder than AWS).
	EnforceIAM bool `json:"enforceIAM,omitempty"`
	// GitHub, when set, is seeded into the local GitHub beside the stand-in, with the
	// rotator's App and its secret (Settings.GitHubAppSecretARN).
	GitHub *GitHub `json:"github,omitempty"`
}

// SESSandbox is SES's sandbox mode: mail goes only to verified identities (the sender
// and VerifiedRecipients); any other recipient is rejected with MessageRejected, as AWS
// does. MaxSendRate, when above 0, is the sending rate (AWS: 1 message per second), over
// which SES answers TooManyRequestsException.
type SESSandbox struct {
	VerifiedRecipients []string `json:"verifiedRecipients,omitempty"`
	MaxSendRate        int      `json:"maxSendRate,omitempty"`
}

// Account is one AWS account of the scenario, addressed by name: the stand-in chooses
// member account IDs itself.
type Account struct {
	Name string `json:"name"`
	// Email is a member account's root address for CreateAccount; empty means
	// <name>@example.com. Unused for the management account, which exists already.
	Email string `json:"email,omitempty"`
	Users []User `json:"users,omitempty"`
	// NoMemberRole leaves the rotator's memberRole (and NotifyUser's role beside it) out of
	// this account, as in an account where a role of that name existed before the member
	// role's StackSet: its instance there failed (RoleTakenReason), and the rotator cannot
	// assume into it.
	NoMemberRole bool `json:"noMemberRole,omitempty"`
	// State is the account's Organizations State (AccountStates); empty means ACTIVE. A
	// member account can be seeded SUSPENDED, PENDING_CLOSURE or CLOSED, which the rotator
	// must skip; the management account is always ACTIVE.
	State string `json:"state,omitempty"`
	// OU places a member account in an organizational unit, by the path of OU names below
	// the root ("Sandbox/Dev"); the OUs are created as needed. Empty: under the root.
	OU string `json:"ou,omitempty"`
	// Tags are the member account's tags in Organizations.
	Tags map[string]string `json:"tags,omitempty"`
	// Secrets are applications' Secrets Manager secrets in the account, created after its
	// users and keys: the secrets machine users' keys are delivered to (their KeyDelivery tag).
	Secrets []Secret `json:"secrets,omitempty"`
	// Parameters are applications' SSM parameters in the account, created after its secrets:
	// the parameters machine users' keys are delivered to (KeyDelivery = ssm:<name>).
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Parameter is an application's SSM parameter, a SecureString (Type empty) or String: it
// holds what the application reads, as Secret does. One that opts in to receiving a user's
// keys carries the tag key-rotator:user = <user>.
type Parameter struct {
	Name       string            `json:"name"`
	Type       string            `json:"type,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	HoldsKeyOf string            `json:"holdsKeyOf,omitempty"`
	// CustomerManagedKey encrypts the parameter with a KMS key of its own, created in the
	// account (false: SSM's AWS managed key aws/ssm).
	CustomerManagedKey bool `json:"customerManagedKey,omitempty"`
}

// Secret is an application's secret. It holds what the application reads: the first Active
// key of the user HoldsKeyOf, as {"AccessKeyId": ..., "SecretAccessKey": ...} (empty: {}).
// A secret that opts in to receiving a user's keys carries the tag key-rotator:user = <user>.
type Secret struct {
	Name       string            `json:"name"`
	Tags       map[string]string `json:"tags,omitempty"`
	HoldsKeyOf string            `json:"holdsKeyOf,omitempty"`
	// CustomerManagedKey encrypts the secret with a KMS key of its own, created in the
	// account (false: Secrets Manager's AWS managed key), so that a write to it uses that key
	// on the writer's behalf.
	CustomerManagedKey bool `json:"customerManagedKey,omitempty"`
}

// AccountStates are the Organizations account states a scenario account may be in.
var AccountStates = []string{"ACTIVE", "SUSPENDED", "PENDING_CLOSURE", "CLOSED"}

// User is an IAM user with its tags and at most two access keys (the IAM quota).
type User struct {
	Name string            `json:"name"`
	Tags map[string]string `json:"tags,omitempty"`
	Keys []Key             `json:"keys,omitempty"`
}

// Key is an access key, described by its age relative to the moment of seeding.
type Key struct {
	// Status is Active or Inactive.
	Status string `json:"status"`
	// AgeDays is how many whole days ago the key was created.
	AgeDays int `json:"ageDays"`
	// LastUsedDaysAgo is how many days ago the key was last used; nil: never used.
	LastUsedDaysAgo *int `json:"lastUsedDaysAgo,omitempty"`
	// LastUsedService and LastUsedRegion say with which service and in which region it was
	// last used (GetAccessKeyLastUsed's ServiceName and Region), only with lastUsedDaysAgo;
	// by default DefaultLastUsedService in DefaultLastUsedRegion.
	LastUsedService string `json:"lastUsedService,omitempty"`
	LastUsedRegion  string `json:"lastUsedRegion,omitempty"`
}

// Where a scenario key with a last use but no service or region was last used.
const (
	DefaultLastUsedService = "s3"
	DefaultLastUsedRegion  = "us-east-1"
)

// lastUse is when (relative to now), with which service and in which region k was last
// used; nil when never.
func (k Key) lastUse(now time.Time) *LastUse {
	if k.LastUsedDaysAgo == nil {
		return nil
	}
	return &LastUse{Date: now.Add(-time.Duration(*k.LastUsedDaysAgo) * day),
		Service: cmp.Or(k.LastUsedService, DefaultLastUsedService), Region: cmp.Or(k.LastUsedRegion, DefaultLastUsedRegion)}
}

// Key statuses as IAM spells them.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// Limits that IAM or Organizations enforce, checked before anything is created.
const (
	maxKeysPerUser = 2
	maxTagsPerUser = 50
	maxAgeDays     = 36500
	maxAccountName = 50
	maxOUName      = 128
	maxAccountTags = 50
	maxSecretTags  = 50
)

var (
	// accountNameRE is what Organizations allows in an account name (printable ASCII).
	accountNameRE = regexp.MustCompile(`^[\x20-\x7E]+$`)
	// serviceRE and regionRE are an AWS service's endpoint prefix (s3, ec2, sts) and a
	// region name (eu-west-1, us-gov-west-1).
	serviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// secretNameRE is what Secrets Manager allows in a secret name.
	secretNameRE = regexp.MustCompile(`^[\w/+=.@-]{1,512}$`)
)

// LoadScenario reads and validates the scenario file at path.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := DecodeScenario(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// DecodeScenario decodes one JSON scenario strictly (unknown fields and trailing data
// are errors) and validates it.
func DecodeScenario(r io.Reader) (*Scenario, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	var sc Scenario
	if err := input.Decode(raw, &sc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Validate checks the whole scenario and returns every problem found, each a
// *input.FieldError, joined; nil when the scenario can be seeded as it is.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, input.Errorf(field, format, args...)) }

	if !workflow.ValidIAMName(sc.MemberRole) || len(sc.MemberRole) > config.MaxMemberRoleNameLength {
		bad("memberRole", "must be an IAM role name (1-%d of letters, digits, +=,.@_-: NotifyUser's role adds %s), got %q",
			config.MaxMemberRoleNameLength, config.NotifyRoleSuffix, sc.MemberRole)
	}
	checkEmail(bad, "senderEmail", sc.SenderEmail)
	checkEmail(bad, "supportEmail", sc.SupportEmail)
	for i, d := range sc.AllowedEmailDomains {
		if !policy.ValidDomain(d) {
			bad(fmt.Sprintf("allowedEmailDomains[%d]", i), "must be a domain name like example.com, got %q", d)
		}
	}

	seen := map[string]string{}
	checkAccount := func(field string, a Account) {
		switch {
		case a.Name == "":
			bad(field+".name", "required")
		case len(a.Name) > maxAccountName || !accountNameRE.MatchString(a.Name):
			bad(field+".name", "must be 1-%d printable ASCII characters, got %q", maxAccountName, a.Name)
		case seen[a.Name] != "":
			bad(field+".name", "%q is already the name of %s", a.Name, seen[a.Name])
		default:
			seen[a.Name] = field
		}
		if a.Email != "" {
			checkEmail(bad, field+".email", a.Email)
		}
		if a.State != "" && !slices.Contains(AccountStates, a.State) {
			bad(field+".state", "must be one of %s, got %q", strings.Join(AccountStates, ", "), a.State)
		}
		if a.OU != "" && !validOUPath(a.OU) {
			bad(field+".ou", "must be OU names (1-%d printable characters) separated by /, got %q", maxOUName, a.OU)
		}
		checkTags(bad, field+".tags", a.Tags, maxAccountTags)
		users := map[string]int{}
		for j, u := range a.Users {
			uf := fmt.Sprintf("%s.users[%d]", field, j)
			if !workflow.ValidIAMName(u.Name) {
				bad(uf+".name", "must be an IAM user name (1-64 of letters, digits, +=,.@_-), got %q", u.Name)
			} else if prev, dup := users[strings.ToLower(u.Name)]; dup {
				// IAM user names are unique regardless of case.
				bad(uf+".name", "%q is already the name of %s.users[%d]", u.Name, field, prev)
			} else {
				users[strings.ToLower(u.Name)] = j
			}
			checkTags(bad, uf+".tags", u.Tags, maxTagsPerUser)
			if len(u.Keys) > maxKeysPerUser {
				bad(uf+".keys", "at most %d keys per user (IAM quota), got %d", maxKeysPerUser, len(u.Keys))
			}
			for k, key := range u.Keys {
				kf := fmt.Sprintf("%s.keys[%d]", uf, k)
				if key.Status != StatusActive && key.Status != StatusInactive {
					bad(kf+".status", "must be Active or Inactive, got %q", key.Status)
				}
				if key.AgeDays < 0 || key.AgeDays > maxAgeDays {
					bad(kf+".ageDays", "must be 0..%d, got %d", maxAgeDays, key.AgeDays)
				}
				if key.LastUsedDaysAgo != nil {
					if d := *key.LastUsedDaysAgo; d < 0 || d > key.AgeDays {
						bad(kf+".lastUsedDaysAgo", "must be 0..ageDays (%d): a key is used after it is created, got %d", key.AgeDays, d)
					}
				}
				switch {
				case key.LastUsedDaysAgo == nil && (key.LastUsedService != "" || key.LastUsedRegion != ""):
					bad(kf, "lastUsedService and lastUsedRegion need lastUsedDaysAgo: a key never used has neither")
				case key.LastUsedService != "" && !serviceRE.MatchString(key.LastUsedService):
					bad(kf+".lastUsedService", "must be an AWS service name like s3 or ec2, got %q", key.LastUsedService)
				case key.LastUsedRegion != "" && !regionRE.MatchString(key.LastUsedRegion):
					bad(kf+".lastUsedRegion", "must be an AWS region like eu-west-1, got %q", key.LastUsedRegion)
				}
			}
		}
	}
	checkSecrets := func(field string, a Account) {
		names := map[string]bool{}
		for j, sec := range a.Secrets {
			sf := fmt.Sprintf("%s.secrets[%d]", field, j)
			switch {
			case !secretNameRE.MatchString(sec.Name):
				bad(sf+".name", "must be a secret name (1-512 of letters, digits, /_+=.@-), got %q", sec.Name)
			case names[sec.Name]:
				bad(sf+".name", "%q is already the name of a secret of this account", sec.Name)
			}
			names[sec.Name] = true
			if len(sec.Tags) > maxSecretTags {
				bad(sf+".tags", "at most %d tags per secret, got %d", maxSecretTags, len(sec.Tags))
			}
			for _, k := range slices.Sorted(maps.Keys(sec.Tags)) {
				if !policy.ValidTagKey(k) || !policy.ValidTagValue(sec.Tags[k]) {
					bad(fmt.Sprintf("%s.tags[%q]", sf, k), "tag key and value must be letters, digits, spaces or _.:/=+-@ (key 1-%d, value at most %d), key not starting with aws:",
						policy.MaxTagKeyLength, policy.MaxTagValueLength)
				}
			}
			if h := sec.HoldsKeyOf; h != "" && !slices.ContainsFunc(a.Users, func(u User) bool {
				return u.Name == h && slices.ContainsFunc(u.Keys, func(k Key) bool { return k.Status == StatusActive })
			}) {
				bad(sf+".holdsKeyOf", "%q is not a user of this account with an Active key", h)
			}
		}
	}
	checkAccount("managementAccount", sc.ManagementAccount)
	checkSecrets("managementAccount", sc.ManagementAccount)
	if st := sc.ManagementAccount.State; st != "" && st != "ACTIVE" {
		bad("managementAccount.state", "the management account is always ACTIVE, got %q", st)
	}
	if sc.ManagementAccount.OU != "" || len(sc.ManagementAccount.Tags) > 0 {
		bad("managementAccount", "ou and tags are for member accounts")
	}
	for i, a := range sc.Accounts {
		checkAccount(fmt.Sprintf("accounts[%d]", i), a)
		checkSecrets(fmt.Sprintf("accounts[%d]", i), a)
	}

	if sb := sc.SESSandbox; sb != nil {
		for i, r := range sb.VerifiedRecipients {
			checkEmail(bad, fmt.Sprintf("sesSandbox.verifiedRecipients[%d]", i), r)
		}
		if sb.MaxSendRate < 0 {
			bad("sesSandbox.maxSendRate", "must be 0 (no limit) or more messages per second, got %d", sb.MaxSendRate)
		}
	}
	if h := sc.CredentialReportHoursAgo; h != nil && (*h < 0 || *h > MaxCredentialReportHoursAgo) {
		bad("credentialReportHoursAgo", "must be 0 to %d hours (0 to 4: IAM still serves it; more: IAM makes a new one), got %d", MaxCredentialReportHoursAgo, *h)
	}

	excluded := map[string]bool{}
	for i, name := range sc.ExcludeAccounts {
		field := fmt.Sprintf("excludeAccounts[%d]", i)
		switch {
		case !sc.hasMember(name):
			bad(field, "%q is not the name of an account in accounts", name)
		case excluded[name]:
			bad(field, "%q is listed twice", name)
		}
		excluded[name] = true
	}
	for i, path := range sc.ExcludeOUs {
		if !slices.ContainsFunc(sc.Accounts, func(a Account) bool { return a.OU == path || strings.HasPrefix(a.OU, path+"/") }) {
			bad(fmt.Sprintf("excludeOus[%d]", i), "%q is not the OU path of an account in accounts, or above one", path)
		}
	}
	if t := sc.ExcludeAccountTag; t != "" {
		if _, _, err := config.SplitAccountTag(t); err != nil {
			bad("excludeAccountTag", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// validOUPath reports whether p is OU names separated by "/".
func validOUPath(p string) bool {
	for _, name := range strings.Split(p, "/") {
		if name == "" || len(name) > maxOUName || !accountNameRE.MatchString(name) {
			return false
		}
	}
	return true
}

// OUPaths are the OU paths the scenario's accounts need, each after its parent.
func (sc *Scenario) OUPaths() []string {
	var paths []string
	for _, a := range sc.Accounts {
		parts := strings.Split(a.OU, "/")
		for i := range parts {
			if p := strings.Join(parts[:i+1], "/"); a.OU != "" && !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
	}
	return paths
}

func (sc *Scenario) hasMember(name string) bool {
	for _, a := range sc.Accounts {
		if a.Name == name {
			return true
		}
	}
	return false
}

// Excluded reports whether the rotator leaves account a alone: it is in excludeAccounts, in
// or below an OU of excludeOus, or tagged with the exclusion tag (excludeAccountTag, else
// the rotator's default; the value in any case).
func (sc *Scenario) Excluded(a Account) bool {
	key, value, _ := config.SplitAccountTag(cmp.Or(sc.ExcludeAccountTag, config.DefaultExcludeAccountTag))
	tagged := key != "" && strings.EqualFold(strings.TrimSpace(a.Tags[key]), value)
	return tagged || slices.Contains(sc.ExcludeAccounts, a.Name) ||
		slices.ContainsFunc(sc.ExcludeOUs, func(p string) bool { return a.OU == p || strings.HasPrefix(a.OU, p+"/") })
}

func checkEmail(bad func(string, string, ...any), field, value string) {
	if value == "" {
		bad(field, "required")
		return
	}
	addr, err := mail.ParseAddress(value)
	if err != nil || addr.Address != value {
		bad(field, "must be a bare address like name@example.com, got %q", value)
	}
}

func checkTags(bad func(string, string, ...any), field string, tags map[string]string, most int) {
	if len(tags) > most {
		bad(field, "at most %d tags, got %d", most, len(tags))
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		if !policy.ValidTagKey(k) {
			bad(fmt.Sprintf("%s[%q]", field, k), "tag key must be 1-%d letters, digits, spaces or _.:/=+-@ and not start with aws:", policy.MaxTagKeyLength)
		}
		if !policy.ValidTagValue(v) {
			bad(fmt.Sprintf("%s[%q]", field, k), "tag value must be at most %d letters, digits, spaces or _.:/=+-@", policy.MaxTagValueLength)
		}
	}
}
