package stacks

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Config is the validated configuration of the rotator, read from CDK context
// (cdk.json defaults, `-c key=value` overrides).
type Config struct {
	LimitDays           int      // limitDays: key age (days) at which a key is deactivated
	NoticePeriod        int      // noticePeriod: days between new key, deactivation and deletion
	MaxUsers            int      // maxUsers: users with write actions per account per run
	SenderEmail         string   // senderEmail: SES-verified From address
	SupportEmail        string   // supportEmail: receives the consolidated report
	OperatorEmail       string   // operatorEmail: subscribed to the failure topic
	ExcludeAccounts     []string // excludeAccounts: never assumed into
	ExcludeOUs          []string // excludeOus: OUs whose accounts (in any OU below too) are never assumed into
	ExcludeAccountTag   string   // excludeAccountTag: key=value account tag that excludes an account, or "none"
	EmailTagKeys        []string // emailTagKeys: user tag keys holding the owner's email, in order
	ExemptTagKey        string   // exemptTagKey: user tag key that exempts a user when "true"
	AllowedEmailDomains []string // allowedEmailDomains: the domains owners' addresses may belong to
	AllowAnyEmailDomain bool     // allowedEmailDomains is "*": any domain, chosen explicitly
	Schedule            string   // schedule: EventBridge cron(...) or rate(...) expression
	MapConcurrency      int      // mapConcurrency: accounts processed at once
	NotifyConcurrency   int      // notifyConcurrency: notifications sent at once per account
	// SESMaxSendRate (sesMaxSendRate) is the emails per second of a run, all accounts together;
	// 0: SES's maximum send rate, read at the start of each run (ses:GetAccount).
	SESMaxSendRate      int
	MemberRoleName      string // memberRoleName: the role scan-and-rotate assumes in every member account (notify-user: memberRoleName-notify)
	OrganizationID      string // organizationId: o-xxxxxxxxxx
	ManagementAccountID string // managementAccountId: the organization's management account
	RotatorAccountID    string // rotatorAccountId: the provisioning account running the rotator
	// StackSetAdminAccountID (stackSetAdminAccountId) deploys the member-role StackSet:
	// the management account (default) or a delegated administrator for StackSets.
	StackSetAdminAccountID string
	StackSetTargets        []string // stackSetTargets: organization root (r-...) or OU (ou-...) IDs
	ReportRetentionDays    int      // reportRetentionDays: days before a report object expires
	CleanupOnce            bool     // cleanupOnce: schedule input {"cleanup":true} (first deploy only)
}

// Context keys, as written in cdk.json and on `cdk -c key=value`.
const (
	keyLimitDays              = "limitDays"
	keyNoticePeriod           = "noticePeriod"
	keyMaxUsers               = "maxUsers"
	keySenderEmail            = "senderEmail"
	keySupportEmail           = "supportEmail"
	keyOperatorEmail          = "operatorEmail"
	keyExcludeAccounts        = "excludeAccounts"
	keyExcludeOUs             = "excludeOus"
	keyExcludeAccountTag      = "excludeAccountTag"
	keyEmailTagKeys           = "emailTagKeys"
	keyExemptTagKey           = "exemptTagKey"
	keyAllowedEmailDomains    = "allowedEmailDomains"
	keySchedule               = "schedule"
	keyMapConcurrency         = "mapConcurrency"
	keyNotifyConcurrency      = "notifyConcurrency"
	keySESMaxSendRate         = "sesMaxSendRate"
	keyMemberRoleName         = "memberRoleName"
	keyOrganizationID         = "organizationId"
	keyManagementAccountID    = "managementAccountId"
	keyRotatorAccountID       = "rotatorAccountId"
	keyStackSetAdminAccountID = "stackSetAdminAccountId"
	keyStackSetTargets        = "stackSetTargets"
	keyReportRetentionDays    = "reportRetentionDays"
	keyCleanupOnce            = "cleanupOnce"
)

// ContextKeys lists every context key the app reads.
var ContextKeys = []string{
	keyLimitDays, keyNoticePeriod, keyMaxUsers, keySenderEmail, keySupportEmail,
	keyOperatorEmail, keyExcludeAccounts, keyExcludeOUs, keyExcludeAccountTag, keyEmailTagKeys, keyExemptTagKey,
	keyAllowedEmailDomains, keySchedule, keyMapConcurrency, keyNotifyConcurrency, keySESMaxSendRate,
	keyMemberRoleName, keyOrganizationID, keyManagementAccountID, keyRotatorAccountID,
	keyStackSetAdminAccountID, keyStackSetTargets, keyReportRetentionDays, keyCleanupOnce,
}

// Defaults of the optional context keys; the others are required. The policy's and the
// Lambdas' defaults come from their packages (pkg/policy, pkg/config): cdk.json sets only
// what is particular to a deployment, and the README's configuration table shows these.
var defaults = map[string]any{
	keyLimitDays:           policy.DefaultLimitDays,
	keyNoticePeriod:        policy.DefaultNoticePeriod,
	keyMaxUsers:            policy.DefaultMaxUsers,
	keyExcludeAccounts:     "",
	keyExcludeOUs:          "",
	keyExcludeAccountTag:   config.DefaultExcludeAccountTag,
	keyEmailTagKeys:        strings.Join(policy.DefaultEmailTagKeys, ","),
	keyExemptTagKey:        policy.DefaultExemptTagKey,
	keySchedule:            "cron(0 13 * * ? *)",
	keyMapConcurrency:      config.DefaultMapConcurrency,
	keyNotifyConcurrency:   2,
	keySESMaxSendRate:      0,
	keyMemberRoleName:      config.DefaultMemberRoleName,
	keyReportRetentionDays: 400,
	keyCleanupOnce:         false,
}

var (
	orgIDRE       = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	targetRE      = regexp.MustCompile(`^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$`)
	scheduleRE    = regexp.MustCompile(`^(cron\(\S+( \S+){5}\)|rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\))$`)
	maxConcurrent = 10000 // Distributed Map's MaxConcurrency limit
	maxSendRate   = 10000 // emails per second: send slots per second (pkg/sendrate)
)

// validMemberRoleName: memberRoleName is an IAM role name, and so is notify-user's role's
// name in member accounts, made from it (config.NotifyMemberRoleName).
func validMemberRoleName(s string) bool {
	return config.ValidIAMName(s) && config.ValidIAMName(config.NotifyMemberRoleName(s))
}

var memberRoleNameRule = fmt.Sprintf("an IAM role name of at most %d characters (notify-user's role in member accounts is named after it, with %s)",
	config.MaxMemberRoleNameLength, config.NotifyRoleSuffix)

// LoadConfig reads and validates every context key through get, which returns nil for a
// key that is not set. It reports every invalid key at once, each error naming its key.
func LoadConfig(get func(key string) any) (Config, error) {
	r := reader{get: get}
	c := Config{
		LimitDays:       r.integer(keyLimitDays, 2, 3650),
		NoticePeriod:    r.integer(keyNoticePeriod, 1, 365),
		MaxUsers:        r.integer(keyMaxUsers, 1, policy.MaxMaxUsers),
		SenderEmail:     r.email(keySenderEmail),
		SupportEmail:    r.email(keySupportEmail),
		OperatorEmail:   r.email(keyOperatorEmail),
		ExcludeAccounts: r.list(keyExcludeAccounts, workflow.ValidAccountID, "a 12-digit account ID"),
		ExcludeOUs:      r.list(keyExcludeOUs, config.OUPattern.MatchString, "an OU ID (ou-...-...)"),
		ExcludeAccountTag: r.match(keyExcludeAccountTag, func(s string) bool { _, _, err := config.SplitAccountTag(s); return err == nil },
			`an account tag key=value, or "`+config.NoExcludeAccountTag+`"`),
		EmailTagKeys:           r.list(keyEmailTagKeys, policy.ValidTagKey, "an IAM tag key"),
		ExemptTagKey:           r.match(keyExemptTagKey, policy.ValidTagKey, "an IAM tag key"),
		Schedule:               r.match(keySchedule, scheduleRE.MatchString, "an EventBridge cron(...) or rate(...) expression"),
		MapConcurrency:         r.integer(keyMapConcurrency, 1, maxConcurrent),
		NotifyConcurrency:      r.integer(keyNotifyConcurrency, 1, 40),
		SESMaxSendRate:         r.integer(keySESMaxSendRate, 0, maxSendRate),
		MemberRoleName:         r.match(keyMemberRoleName, validMemberRoleName, memberRoleNameRule),
		OrganizationID:         r.match(keyOrganizationID, orgIDRE.MatchString, "an organization ID like o-a1b2c3d4e5"),
		ManagementAccountID:    r.match(keyManagementAccountID, workflow.ValidAccountID, "a 12-digit account ID"),
		RotatorAccountID:       r.match(keyRotatorAccountID, workflow.ValidAccountID, "a 12-digit account ID"),
		StackSetAdminAccountID: r.optionalMatch(keyStackSetAdminAccountID, workflow.ValidAccountID, "a 12-digit account ID"),
		StackSetTargets:        r.list(keyStackSetTargets, targetRE.MatchString, "a root ID (r-...) or OU ID (ou-...-...)"),
		ReportRetentionDays:    r.integer(keyReportRetentionDays, 1, 36500),
		CleanupOnce:            r.boolean(keyCleanupOnce),
	}
	if r.ok(keyLimitDays) && r.ok(keyNoticePeriod) && c.LimitDays <= c.NoticePeriod {
		r.fail(keyLimitDays, "must be an integer > noticePeriod (%d), got %d", c.NoticePeriod, c.LimitDays)
	}
	if r.ok(keyEmailTagKeys) && len(c.EmailTagKeys) == 0 {
		r.fail(keyEmailTagKeys, "must name at least one tag key")
	}
	if r.ok(keyStackSetTargets) && len(c.StackSetTargets) == 0 {
		r.fail(keyStackSetTargets, "must name the organization root or at least one OU")
	}
	c.AllowedEmailDomains, c.AllowAnyEmailDomain = r.emailDomains()
	if c.StackSetAdminAccountID == "" {
		c.StackSetAdminAccountID = c.ManagementAccountID
	}
	return c, errors.Join(r.errs...)
}

// reader reads context values, collecting one error per bad key.
type reader struct {
	get  func(key string) any
	errs []error
	bad  map[string]bool
}

func (r *reader) fail(key, format string, args ...any) {
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	r.bad[key] = true
	r.errs = append(r.errs, fmt.Errorf("context %s: "+format, append([]any{key}, args...)...))
}

func (r *reader) ok(key string) bool { return !r.bad[key] }

// value returns the key's value, its default when unset, or nil (and an error) when a
// required key is unset.
func (r *reader) value(key string) any {
	v := r.get(key)
	if v == nil {
		v = defaults[key]
	}
	if v == nil {
		r.fail(key, "is required")
	}
	return v
}

// text returns a string value; CDK context from -c is always a string, from cdk.json it
// may be a JSON number or boolean.
func (r *reader) text(key string) (string, bool) {
	switch v := r.value(key).(type) {
	case nil:
		return "", false
	case string:
		return strings.TrimSpace(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		r.fail(key, "must be a string, got %T", v)
		return "", false
	}
}

func (r *reader) integer(key string, min, max int) int {
	s, ok := r.text(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		r.fail(key, "must be an integer from %d to %d, got %q", min, max, s)
		return 0
	}
	return n
}

func (r *reader) boolean(key string) bool {
	s, ok := r.text(key)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.fail(key, "must be true or false, got %q", s)
	}
	return b
}

func (r *reader) match(key string, valid func(string) bool, what string) string {
	s, ok := r.text(key)
	if !ok {
		return ""
	}
	if !valid(s) {
		r.fail(key, "must be %s, got %q", what, s)
		return ""
	}
	return s
}

func (r *reader) optionalMatch(key string, valid func(string) bool, what string) string {
	if r.get(key) == nil || r.get(key) == "" {
		return ""
	}
	return r.match(key, valid, what)
}

// anyEmailDomain is the allowedEmailDomains value that allows any domain.
const anyEmailDomain = "*"

// emailDomains reads allowedEmailDomains, which must be set: without it, anyone allowed to
// tag a user in a member account could point the user's email tag at their own address and
// receive the user's next key. "*" says so explicitly.
func (r *reader) emailDomains() (domains []string, any bool) {
	const hint = `list the domains owners' addresses may belong to, or set it to "*" to allow any domain`
	if r.get(keyAllowedEmailDomains) == nil {
		r.fail(keyAllowedEmailDomains, "is required: %s", hint)
		return nil, false
	}
	anyOrDomain := func(s string) bool { return s == anyEmailDomain || policy.ValidDomain(s) }
	items := r.list(keyAllowedEmailDomains, anyOrDomain, "a domain name or *")
	switch {
	case !r.ok(keyAllowedEmailDomains):
		return nil, false
	case len(items) == 0:
		r.fail(keyAllowedEmailDomains, "is empty: %s", hint)
		return nil, false
	case slices.Contains(items, anyEmailDomain) && len(items) > 1:
		r.fail(keyAllowedEmailDomains, `"*" (any domain) cannot be combined with domains, got %q`, strings.Join(items, ","))
		return nil, false
	case slices.Contains(items, anyEmailDomain):
		return nil, true
	}
	return items, false
}

func (r *reader) email(key string) string {
	s, ok := r.text(key)
	if !ok {
		return ""
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		r.fail(key, "must be a bare email address like ops@example.com, got %q", s)
		return ""
	}
	return s
}

// list reads a comma-separated string (from -c) or a JSON array (from cdk.json).
func (r *reader) list(key string, valid func(string) bool, what string) []string {
	var items []string
	switch v := r.value(key).(type) {
	case nil:
		return nil
	case []any:
		for _, item := range v {
			s, isString := item.(string)
			if !isString {
				r.fail(key, "must list strings, got %v (%T)", item, item)
				return nil
			}
			items = append(items, strings.TrimSpace(s))
		}
	case []string:
		items = v
	case string:
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		r.fail(key, "must be a comma-separated string or a list, got %T", v)
		return nil
	}
	var out []string
	for _, s := range items {
		if !valid(s) {
			r.fail(key, "item %q must be %s", s, what)
			return nil
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
