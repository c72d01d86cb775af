package history

import (
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// TestEveryNoticeKindHasAUniqueCode: a kind without a code would be written as "KEYID:" and
// dropped on reading, so its notice would be sent again every day (and the action it
// announces would wait forever); two kinds sharing a code would read back as one.
func TestEveryNoticeKindHasAUniqueCode(t *testing.T) {
	kindOf := map[string]policy.NoticeKind{}
	for _, kind := range policy.NoticeKinds {
		code, ok := noticeCodes[kind]
		if !ok || code == "" {
			t.Errorf("notice kind %s has no code in the notices tag", kind)
			continue
		}
		if other, dup := kindOf[code]; dup {
			t.Errorf("notice kinds %s and %s share the code %q", other, kind, code)
		}
		kindOf[code] = kind
		sent := []Sent{{policy.NoticeRef{Kind: kind, AccessKeyID: "AKIAEXAMPLE000000001"}, today.Truncate(24 * time.Hour), AddressDigest("alice@example.com"), false}}
		if got := ParseNotices(FormatNotices(sent)); len(got) != 1 || got[0] != sent[0] {
			t.Errorf("notice kind %s: %v reads back as %v", kind, sent, got)
		}
	}
	if len(noticeCodes) != len(policy.NoticeKinds) {
		t.Errorf("noticeCodes has %d entries for the %d kinds of policy.NoticeKinds", len(noticeCodes), len(policy.NoticeKinds))
	}
}
