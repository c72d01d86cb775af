package rotate

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// noticeCodes keep the notices tag within IAM's 256-character tag values: two keys with
// three notices each fit.
var noticeCodes = map[policy.NoticeKind]string{
	policy.NewKeyIssued:          "NK",
	policy.DeactivationScheduled: "DS",
	policy.KeyDeactivated:        "KD",
	policy.KeyDeleted:            "KX",
	policy.UnusedKeyDeleted:      "UX",
}

// parseNotices reads the notices tag; an entry it does not understand is dropped (at worst a
// notice is sent again).
func parseNotices(tag string) []policy.NoticeRef {
	var refs []policy.NoticeRef
	for _, entry := range strings.Fields(tag) {
		id, code, ok := strings.Cut(entry, ":")
		if !ok || id == "" {
			continue
		}
		for kind, c := range noticeCodes {
			if c == code {
				refs = append(refs, policy.NoticeRef{Kind: kind, AccessKeyID: id})
			}
		}
	}
	return refs
}

// formatNotices writes the notices tag, oldest entry first, without duplicates.
func formatNotices(refs []policy.NoticeRef) string {
	var entries []string
	for _, r := range refs {
		entry := r.AccessKeyID + ":" + noticeCodes[r.Kind]
		if !slices.Contains(entries, entry) {
			entries = append(entries, entry)
		}
	}
	return strings.Join(entries, " ")
}

// parseDeactivated reads the deactivated tag; an entry it does not understand is dropped (at
// worst a key is deleted a day early, as it would have been without the tag).
func parseDeactivated(tag string) map[string]time.Time {
	out := map[string]time.Time{}
	for _, entry := range strings.Fields(tag) {
		id, day, ok := strings.Cut(entry, ":")
		if t, err := time.Parse(time.DateOnly, day); ok && id != "" && err == nil {
			out[id] = t
		}
	}
	return out
}

// formatDeactivated writes the deactivated tag, sorted by key ID.
func formatDeactivated(days map[string]time.Time) string {
	var entries []string
	for _, id := range slices.Sorted(maps.Keys(days)) {
		entries = append(entries, id+":"+days[id].UTC().Format(time.DateOnly))
	}
	return strings.Join(entries, " ")
}
