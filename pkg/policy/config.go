package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	// MaxMaxUsers bounds maxUsers below an account's notification limit (550,
	// rotate.DefaultMaxNotifications): every user with writes gets a notification, and the
	// limit keeps room for each of them. (It once kept an account's notifications within one
	// child execution's history; they now run one child execution each, docs/scale.md.)
	MaxMaxUsers = 500
	// MaxLimitDays bounds limitDays at ten years.
	MaxLimitDays = 3650
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
	if c.LimitDays > MaxLimitDays {
		bad("limitDays", "must be at most %d days, got %d", MaxLimitDays, c.LimitDays)
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

// Timeline is the days derived from a limit L and notice period N: rotate-at R = L−N,
// deactivate-at D = L, delete-at X = L+N, unused-at U = L.
type Timeline struct {
	Notice       int `json:"noticePeriod"`
	RotateAt     int `json:"rotateAt"`
	DeactivateAt int `json:"deactivateAt"`
	DeleteAt     int `json:"deleteAt"`
	UnusedAt     int `json:"unusedAt"`
}

// Timeline derives the config's days from LimitDays and NoticePeriod.
func (c Config) Timeline() Timeline {
	return Timeline{
		Notice:       c.NoticePeriod,
		RotateAt:     c.LimitDays - c.NoticePeriod,
		DeactivateAt: c.LimitDays,
		DeleteAt:     c.LimitDays + c.NoticePeriod,
		UnusedAt:     c.LimitDays,
	}
}

// RotationDaysTag is the user tag that gives one user a shorter limit than the
// organization's (docs/policy.md, "Per-user limit").
const RotationDaysTag = "RotationDays"

// shortestLimit is the shortest limit a RotationDays tag can give: three notice periods,
// so that a replacement is still younger than rotate-at (2N) when the key it replaces is
// deleted (N days after its deactivation, 2N after the replacement's creation), and the
// owner never holds two keys due at once. Never longer than the organization's limit.
func (c Config) shortestLimit() int { return min(3*c.NoticePeriod, c.LimitDays) }

// Shortest is c with the shortest limit any RotationDays tag can give: a user whose keys
// this config finds nothing due for has nothing due whatever their tags. cfg must be
// defaulted.
func (c Config) Shortest() Config {
	c.LimitDays = c.shortestLimit()
	return c
}

// ForUser returns the config that applies to a user with these tags: c with LimitDays
// shortened by a RotationDays tag, and, when the tag is ignored or raised to the shortest
// limit, why (for the report). A tag can never lengthen c's limit. c must be defaulted.
func (c Config) ForUser(tags Tags) (Config, string) {
	_, raw, ok := tags.Lookup(RotationDaysTag)
	if !ok {
		return c, ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil || n <= 0:
		return c, fmt.Sprintf("tag %s value %q is not a whole number of days greater than 0: ignored, the limit of %d days applies",
			RotationDaysTag, raw, c.LimitDays)
	case n > c.LimitDays:
		return c, fmt.Sprintf("tag %s=%d is longer than the organization's limit: ignored, the limit of %d days applies",
			RotationDaysTag, n, c.LimitDays)
	case n < c.shortestLimit():
		c.LimitDays = c.shortestLimit()
		return c, fmt.Sprintf("tag %s=%d is shorter than 3 notice periods of %d days: the shortest limit, %d days, applies",
			RotationDaysTag, n, c.NoticePeriod, c.LimitDays)
	}
	c.LimitDays = n
	return c, ""
}
