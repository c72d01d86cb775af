package policy

import (
	"maps"
	"slices"
	"strings"
)

// Tags are an IAM user's tags as IAM keeps them: the tag keys of users are "not case
// sensitive, but case is preserved" (IAM User Guide, "Rules for tagging in IAM and AWS
// STS"), so a user carries at most one tag per key in any case, and TagUser with a key that
// differs only in case replaces that tag. Every reader of a user's tags looks them up here
// (Lookup, Get), never by indexing the map with an exact key.
type Tags map[string]string

// MaxTagsPerUser is IAM's quota of tags on one user (TagUser beyond it: LimitExceeded).
const MaxTagsPerUser = 50

// Lookup returns the tag whose key equals key as IAM compares them: the key as the user
// carries it, its value, and whether there is one. A map that holds the key in several cases
// (IAM cannot; a hand-written plan input can, and validateUsers refuses it) gives its exact
// spelling first, else the first in sorted order.
func (t Tags) Lookup(key string) (carried, value string, ok bool) {
	if v, ok := t[key]; ok {
		return key, v, true
	}
	var found []string
	for k := range t {
		if strings.EqualFold(k, key) {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		return "", "", false
	}
	carried = slices.Min(found)
	return carried, t[carried], true
}

// Get returns the value of the tag key (as IAM compares keys), "" when there is none.
func (t Tags) Get(key string) string {
	_, v, _ := t.Lookup(key)
	return v
}

// Set does what TagUser does: the tag replaces any tag whose key differs only in case.
func (t Tags) Set(key, value string) {
	t.Delete(key)
	t[key] = value
}

// Delete does what UntagUser does: it removes the tag key in whichever case it is carried.
func (t Tags) Delete(key string) {
	for k := range t {
		if strings.EqualFold(k, key) {
			delete(t, k)
		}
	}
}

// duplicateKey returns a key the tags hold twice as IAM compares them, "" when none.
func (t Tags) duplicateKey() string {
	seen := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if first, ok := seen[strings.ToLower(k)]; ok {
			return first + " and " + k
		}
		seen[strings.ToLower(k)] = k
	}
	return ""
}
