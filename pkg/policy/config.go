package policy

import (
	"errors"
	"fmt"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

// Config holds the policy settings; the zero value of a field means "use the default".
type Config struct {
	// LimitDays (L) is the maximum key age: deactivate at L, rotate at L-N, delete at L+N.
	LimitDays int `json:"limitDays"`
	// NoticePeriod (N) is how many days ahead owners are told before each step.
	NoticePeriod int `json:"noticePeriod"`
	// MaxUsers caps the users that get write actions in one account per run (rule 8).
	MaxUsers int `json:"maxUsers"`
	// Cleanup selects the one-time initial cleanup mode (rule 7).
	Cleanup bool `json:"cleanup"`
	// AllowedEmailDomains, when set, restricts usable owner addresses to these domains.
	AllowedEmailDomains []string `json:"allowedEmailDomains,omitempty"`
	// EmailTagKeys are the user tags holding the owner's address, first present wins.
	EmailTagKeys []string `json:"emailTagKeys,omitempty"`
	// ExemptTagKey is the tag that, set to "true" in any case, exempts a user.
	ExemptTagKey string `json:"exemptTagKey,omitempty"`
}

// Defaults of the rotation policy (docs/policy.md); nothing else repeats them.
const (
	DefaultLimitDays    = 90
	DefaultNoticePeriod = 10
	DefaultMaxUsers     = 200
	DefaultExemptTagKey = "Exempt"
	// MaxMaxUsers bounds maxUsers: each written user gets a notification, and one account's
	// notifications run in one child execution of at most 25,000 history events (about 580
	// notifications, statemachine's history test).
	MaxMaxUsers = 500
)

// DefaultEmailTagKeys are looked up in this order.
var DefaultEmailTagKeys = []string{"EmailID", "Email"}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.LimitDays == 0 {
		c.LimitDays = DefaultLimitDays
	}
	if c.NoticePeriod == 0 {
		c.NoticePeriod = DefaultNoticePeriod
	}
	if c.MaxUsers == 0 {
		c.MaxUsers = DefaultMaxUsers
	}
	if len(c.EmailTagKeys) == 0 {
		c.EmailTagKeys = append([]string(nil), DefaultEmailTagKeys...)
	}
	if c.ExemptTagKey == "" {
		c.ExemptTagKey = DefaultExemptTagKey
	}
	return c
}

// Validate reports every invalid field of a defaulted config, each as a *FieldError.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, input.Errorf(field, format, args...)) }
	if c.NoticePeriod <= 0 {
		bad("noticePeriod", "must be greater than 0, got %d", c.NoticePeriod)
	}
	if c.LimitDays <= c.NoticePeriod {
		bad("limitDays", "must be greater than noticePeriod (%d), got %d", c.NoticePeriod, c.LimitDays)
	}
	if c.LimitDays > 3650 {
		bad("limitDays", "must be at most 3650 days, got %d", c.LimitDays)
	}
	if c.MaxUsers <= 0 || c.MaxUsers > MaxMaxUsers {
		bad("maxUsers", "must be from 1 to %d (one account's emails must fit one Step Functions execution), got %d", MaxMaxUsers, c.MaxUsers)
	}
	for i, d := range c.AllowedEmailDomains {
		if !ValidDomain(d) {
			bad(fmt.Sprintf("allowedEmailDomains[%d]", i), "%q is not a domain name", d)
		}
	}
	for i, k := range c.EmailTagKeys {
		if !ValidTagKey(k) {
			bad(fmt.Sprintf("emailTagKeys[%d]", i), "%q is not an IAM tag key", k)
		}
	}
	if !ValidTagKey(c.ExemptTagKey) {
		bad("exemptTagKey", "%q is not an IAM tag key", c.ExemptTagKey)
	}
	return errors.Join(errs...)
}

// days derived from the config: rotate-at R, deactivate-at D, delete-at X, unused-at U.
type thresholds struct{ notice, rotateAt, deactivateAt, deleteAt, unusedAt int }

func (c Config) thresholds() thresholds {
	return thresholds{
		notice:       c.NoticePeriod,
		rotateAt:     c.LimitDays - c.NoticePeriod,
		deactivateAt: c.LimitDays,
		deleteAt:     c.LimitDays + c.NoticePeriod,
		unusedAt:     c.LimitDays,
	}
}
