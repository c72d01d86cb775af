package notify

import (
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// TestEveryNoticeKindHasAnEmail: NewKeyIssued goes out as the new key's email (NewKeyMail),
// every other kind as NoticeMail's; a kind without one would fail its owner's notification
// on every run.
func TestEveryNoticeKindHasAnEmail(t *testing.T) {
	for _, kind := range policy.NoticeKinds {
		t.Run(string(kind), func(t *testing.T) {
			n := policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: testActBy, Message: "policy says so"}
			var err error
			if kind == policy.NewKeyIssued {
				_, err = NewKeyMail(testAddressing, "AKIANEWKEY0000000001", n, []byte("zip"))
			} else {
				_, err = NoticeMail(testAddressing, n)
			}
			if err != nil {
				t.Errorf("no email for notice kind %s: %v", kind, err)
			}
		})
	}
	if len(noticeKinds) != len(policy.NoticeKinds)-1 {
		t.Errorf("noticeKinds has %d emails for the %d kinds of policy.NoticeKinds but NewKeyIssued", len(noticeKinds), len(policy.NoticeKinds)-1)
	}
}
