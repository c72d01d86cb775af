package rotate

import (
	"slices"
	"strings"

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
