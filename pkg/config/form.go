package config

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// Form is how a setting's value is written and which values are valid: the one parser that
// the CDK app (a context value) and the Lambdas (an environment variable) both use.
type Form struct {
	// Rule says what a valid value is, as the errors and docs/configuration.md say it.
	Rule string
	// list: a comma-separated list (in cdk.json also a JSON array), blanks dropped and each
	// item given once.
	list bool
	// parse turns the value's items (one for a form that is not a list) into the value of
	// the setting's field, or says what is wrong without naming the setting.
	parse func(items []string) (any, error)
	// requiredHint follows "is required: " when the setting is required and unset.
	requiredHint string
}

// Parse reads a value as an environment variable writes it: trimmed, a list comma-separated.
func (f Form) Parse(text string) (any, error) { return f.parse(f.items(text)) }

// items splits text as the form reads it.
func (f Form) items(text string) []string {
	text = strings.TrimSpace(text)
	if !f.list {
		return []string{text}
	}
	var items []string
	for item := range strings.SplitSeq(text, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// Integer is a whole number from min to max.
func Integer(min, max int) Form {
	return Form{Rule: fmt.Sprintf("an integer from %d to %d", min, max), parse: func(items []string) (any, error) {
		n, err := strconv.Atoi(items[0])
		if err != nil || n < min || n > max {
			return nil, fmt.Errorf("must be an integer from %d to %d, got %q", min, max, items[0])
		}
		return n, nil
	}}
}

// Boolean is true or false.
var Boolean = Form{Rule: "true or false", parse: func(items []string) (any, error) {
	b, err := strconv.ParseBool(items[0])
	if err != nil {
		return nil, fmt.Errorf("must be true or false, got %q", items[0])
	}
	return b, nil
}}

// Email is a bare address, without a display name.
var Email = Form{Rule: "a bare email address like ops@example.com", parse: func(items []string) (any, error) {
	s := items[0]
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return nil, fmt.Errorf("must be a bare email address like ops@example.com, got %q", s)
	}
	return s, nil
}}

// Text is any string.
var Text = Form{Rule: "any text", parse: func(items []string) (any, error) { return items[0], nil }}

// Matching is a string for which valid holds; what says what it is ("an S3 bucket name").
func Matching(valid func(string) bool, what string) Form {
	return Form{Rule: what, parse: func(items []string) (any, error) {
		if !valid(items[0]) {
			return nil, fmt.Errorf("must be %s, got %q", what, items[0])
		}
		return items[0], nil
	}}
}

// List is a list of items for which valid holds, each what says; atLeastOne, when not
// empty, is the problem of an empty list.
func List(valid func(string) bool, what, atLeastOne string) Form {
	rule := "a comma-separated list, each " + what
	if atLeastOne != "" {
		rule = "a comma-separated list of at least one " + strings.TrimPrefix(strings.TrimPrefix(what, "an "), "a ")
	}
	return Form{Rule: rule, list: true, parse: func(items []string) (any, error) {
		var out []string
		for _, s := range items {
			if !valid(s) {
				return nil, fmt.Errorf("item %q must be %s", s, what)
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 && atLeastOne != "" {
			return nil, errors.New(atLeastOne)
		}
		return out, nil
	}}
}

// AnyEmailDomain is the allowedEmailDomains value that allows any domain.
const AnyEmailDomain = "*"

// emailDomainsHint says why allowedEmailDomains must be set: without it, anyone allowed to
// tag a user in a member account could point the user's email tag at their own address and
// receive the user's next key. "*" says so explicitly.
const emailDomainsHint = `list the domains owners' addresses may belong to, or set it to "*" to allow any domain`

// EmailDomains is a list of domains, or "*" for any domain, which reads as no list (the
// Lambdas' policy then accepts any).
var EmailDomains = Form{Rule: `a comma-separated list of domain names, or "*" for any domain`, list: true, requiredHint: emailDomainsHint,
	parse: func(items []string) (any, error) {
		anyOrDomain := func(s string) bool { return s == AnyEmailDomain || policy.ValidDomain(s) }
		v, err := List(anyOrDomain, "a domain name or *", "").parse(items)
		if err != nil {
			return nil, err
		}
		domains := v.([]string)
		switch {
		case len(domains) == 0:
			return nil, fmt.Errorf("is empty: %s", emailDomainsHint)
		case slices.Contains(domains, AnyEmailDomain) && len(domains) > 1:
			return nil, fmt.Errorf(`"*" (any domain) cannot be combined with domains, got %q`, strings.Join(domains, ","))
		case slices.Contains(domains, AnyEmailDomain):
			return []string(nil), nil
		}
		return domains, nil
	}}
