package permissions

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Request is one authorization IAM decides: a principal's action on a resource, with the
// request's condition keys.
type Request struct {
	Action   string
	Resource string
	// Principal is the caller's role ARN (arn:…:iam::ACCOUNT:role/NAME), for trust policies.
	Principal string
	Context   map[string][]string
}

func (r Request) String() string {
	s := r.Action + " on " + r.Resource
	if len(r.Context) > 0 {
		s += fmt.Sprintf(" with %v", r.Context)
	}
	return s
}

// Allows reports whether the document allows the request: an Allow statement matches it and
// no Deny statement does. It fails on a condition operator it does not know, rather than
// guess.
func (d Document) Allows(r Request) (bool, error) {
	allowed := false
	for _, s := range d.Statement {
		ok, err := s.matches(r)
		if err != nil {
			return false, err
		}
		switch {
		case ok && s.Effect == "Deny":
			return false, nil
		case ok && s.Effect == "Allow":
			allowed = true
		}
	}
	return allowed, nil
}

func (s Statement) matches(r Request) (bool, error) {
	if !slices.ContainsFunc(s.Action, func(a string) bool { return like(strings.ToLower(a), strings.ToLower(r.Action)) }) {
		return false, nil
	}
	// A trust policy has no Resource: the role it belongs to is the resource.
	if len(s.Resource) > 0 && !slices.ContainsFunc(s.Resource, func(p string) bool { return like(p, r.Resource) }) {
		return false, nil
	}
	if s.Principal != nil && !principalMatches(s.Principal, r.Principal) {
		return false, nil
	}
	for op, keys := range s.Condition {
		for key, want := range keys {
			ok, err := condition(op, want, r.Context[key])
			if err != nil {
				return false, fmt.Errorf("statement %q: %w", s.Sid, err)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

// like matches IAM's wildcards: * any run of characters, ? any one.
func like(pattern, value string) bool {
	// path.Match treats / as a separator; IAM does not.
	const slash = "\x00"
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", slash), strings.ReplaceAll(value, "/", slash))
	return err == nil && ok
}

// principalMatches: a role ARN names the role's sessions; an account (ID or root ARN) names
// every principal of the account.
func principalMatches(want map[string]Strings, principal string) bool {
	for kind, list := range want {
		for _, w := range list {
			switch {
			case w == "*" || w == principal:
				return true
			case kind == "AWS" && strings.HasSuffix(w, ":root") && accountOf(w) == accountOf(principal):
				return true
			case kind == "AWS" && len(w) == 12 && w == accountOf(principal):
				return true
			}
		}
	}
	return false
}

// accountOf is the account field of an ARN.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// condition evaluates one condition operator on one key; got holds the request's values of
// the key (none when absent).
func condition(op string, want Strings, got []string) (bool, error) {
	if op == "Null" {
		if len(want) != 1 || (want[0] != "true" && want[0] != "false") {
			return false, fmt.Errorf("condition Null wants true or false, got %v", want)
		}
		return (len(got) == 0) == (want[0] == "true"), nil
	}
	qualifier, base, qualified := strings.Cut(op, ":")
	if !qualified {
		base = op
	}
	var match func(w, g string) bool
	switch base {
	case "StringEquals", "ArnEquals":
		match = func(w, g string) bool { return w == g }
	case "StringLike", "ArnLike":
		match = like
	default:
		return false, fmt.Errorf("condition operator %s: the evaluator does not know it (add it to permissions.condition)", op)
	}
	anyWant := func(g string) bool { return slices.ContainsFunc(want, func(w string) bool { return match(w, g) }) }
	switch {
	case !qualified:
		return len(got) > 0 && slices.ContainsFunc(got, anyWant), nil
	case qualifier == "ForAllValues":
		return !slices.ContainsFunc(got, func(g string) bool { return !anyWant(g) }), nil
	case qualifier == "ForAnyValue":
		return slices.ContainsFunc(got, anyWant), nil
	}
	return false, fmt.Errorf("condition operator %s: unknown qualifier %s", op, qualifier)
}
