package policy

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// The one home of the rules for IAM tags and email domains: the Lambdas (Config.Validate,
// OwnerEmail), the CDK app's context and the stand-in's scenarios all check with these.
const (
	MaxTagKeyLength   = 128 // characters, as IAM counts them
	MaxTagValueLength = 256
)

// tagText is the characters IAM allows in user tag keys and values.
var tagText = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// ValidTagKey reports whether k is a user tag key IAM accepts, and not a blank one: 1 to 128
// letters, digits, spaces or _.:/=+-@, not all spaces, not starting with the reserved "aws:"
// in any case.
func ValidTagKey(k string) bool {
	return strings.TrimSpace(k) != "" && utf8.RuneCountInString(k) <= MaxTagKeyLength && tagText.MatchString(k) &&
		!strings.HasPrefix(strings.ToLower(k), "aws:")
}

// ValidTagValue reports whether IAM accepts v as a user tag value.
func ValidTagValue(v string) bool {
	return utf8.RuneCountInString(v) <= MaxTagValueLength && tagText.MatchString(v)
}

// ValidDomain accepts DNS names of at least two labels, in any case (domains are compared
// case-insensitively everywhere).
func ValidDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}
