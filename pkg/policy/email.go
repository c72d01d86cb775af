package policy

import (
	"fmt"
	"net/mail"
	"strings"
)

// OwnerEmail returns the user's usable address from the first email tag present, or the
// reason why there is none (rule 6). A present but malformed tag is not skipped in favour of
// a later one: the first tag is the owner's declared address and a typo there must surface.
func OwnerEmail(tags Tags, cfg Config) (email, problem string) {
	for _, name := range cfg.EmailTagKeys {
		key, raw, ok := tags.Lookup(name)
		if !ok || strings.TrimSpace(raw) == "" {
			continue
		}
		addr, err := mail.ParseAddress(strings.TrimSpace(raw))
		if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(raw) {
			return "", fmt.Sprintf("tag %s value %q is not a plain email address", key, raw)
		}
		at := strings.LastIndexByte(addr.Address, '@')
		domain := addr.Address[at+1:]
		if !ValidDomain(domain) {
			return "", fmt.Sprintf("tag %s value %q has no valid domain", key, raw)
		}
		if len(cfg.AllowedEmailDomains) > 0 && !domainAllowed(domain, cfg.AllowedEmailDomains) {
			return "", fmt.Sprintf("tag %s address %s is outside the allowed domains (%s)",
				key, addr.Address, strings.Join(cfg.AllowedEmailDomains, ", "))
		}
		return addr.Address, ""
	}
	return "", fmt.Sprintf("no %s tag", strings.Join(cfg.EmailTagKeys, " or "))
}

// domainAllowed matches whole domains, case-insensitively: "example.com" does not allow
// "mail.example.com" nor "badexample.com".
func domainAllowed(domain string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(domain, a) {
			return true
		}
	}
	return false
}

// Exempt reports whether the user carries the exempt tag (its key in any case, as IAM
// compares keys) set to "true" in any case (rule 1). cfg must be defaulted.
func Exempt(tags Tags, cfg Config) bool {
	return strings.EqualFold(strings.TrimSpace(tags.Get(cfg.ExemptTagKey)), "true")
}

// ExemptReason says why an exempt user is left alone, with the tag as the user carries it.
func ExemptReason(tags Tags, cfg Config) string {
	key, value, _ := tags.Lookup(cfg.ExemptTagKey)
	return fmt.Sprintf("tag %s=%s: exempt from rotation", key, value)
}
