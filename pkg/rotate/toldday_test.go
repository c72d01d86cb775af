package rotate_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// ivyWithAnInactiveKey makes an old user, ivy (the credential report dates an Inactive key by
// its user), with an Inactive key 95 days old, last used 89 days ago, and returns the key.
// Under a deactivated record the rotator did not sign, it may be one the rotator
// deactivated, so its owner is told the day it goes.
func ivyWithAnInactiveKey(h *scenario.Harness) string {
	start := h.Now
	h.Now = start.AddDate(0, 0, -200)
	scenario.Must(h.W.CreateUser(scenario.Account, "ivy", map[string]string{"EmailID": "ivy@" + scenario.Domain}))
	h.Now = start
	id, _, err := h.W.AddKey(scenario.Account, "ivy", start.AddDate(0, 0, -95), types.StatusTypeInactive)
	scenario.Must(err)
	scenario.Must(h.W.UseKey(scenario.Account, id, start.AddDate(0, 0, -89), "s3", "us-east-1"))
	return id
}

// TestKeyDeletionDayToldHoldsWhileBouncesAreNotSuppressed: a KeyDeactivated notice that
// reached the owner gave the day an Inactive key is deleted. A later run that cannot see
// bounces counts no notice as delivered, which may postpone an action, never hasten one: the
// key, unused for unused-at days by then, is not deleted by rule 2 before the day told
// (campaign seed 9, day 82: an Inactive key under an unsigned deactivated record, told
// "deleted on 2026-03-27" on 03-22, deleted as unused on 03-23 once bounces were unsuppressed).
func TestKeyDeletionDayToldHoldsWhileBouncesAreNotSuppressed(t *testing.T) {
	h := scenario.New(t)
	start := h.Now
	id := ivyWithAnInactiveKey(h)
	// A second one, 99 days old, is deleted on day 1, the day its notice gives: a destructive
	// plan, which a run that cannot see bounces plans again without the notices.
	other, _, err := h.W.AddKey(scenario.Account, "ivy", start.AddDate(0, 0, -99), types.StatusTypeInactive)
	scenario.Must(err)
	since := start.AddDate(0, 0, -30).Format(time.DateOnly)
	scenario.Must(h.W.SetTag(scenario.Account, "ivy", history.DeactivatedTag, id+":"+since+" "+other+":"+since))
	h.Now = h.Now.Add(time.Minute)
	h.Day()
	told := h.W.Delivered("ivy@" + scenario.Domain)
	if len(told) != 2 {
		t.Fatalf("ivy was sent %d messages on day 0; want the KeyDeactivated notices of her two keys", len(told))
	}
	deleteOn := start.AddDate(0, 0, 5).Format(time.DateOnly) // created 95 days ago, deleted at 100
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	for day := 1; h.DayStart.Format(time.DateOnly) < deleteOn; day++ {
		h.Day()
		if _, ok := h.Keys("ivy")[id]; !ok {
			t.Fatalf("day %d: ivy's key %s was deleted before %s, the day its owner was told", day, id, deleteOn)
		}
	}
}

// make faults -rare, seed 12: after the owner was told the day a key the rotator deactivated
// is deleted, someone allowed iam:TagUser overwrote the rotator's notices tag. The forged
// value does not verify and is taken as absent, which dropped the record of that notice, and
// rule 2 deleted the unused key days before the day told: a forged tag hastened an action.
func TestForgedNoticesTagDoesNotHastenAToldDeletion(t *testing.T) {
	h, id, deleteOn := ivyToldTheDeletionDayThenNoticesForged(t)
	for day := 1; h.DayStart.Format(time.DateOnly) < deleteOn; day++ {
		h.Day()
		if _, ok := h.Keys("ivy")[id]; !ok {
			t.Fatalf("day %d: ivy's key %s was deleted before %s, the day its owner was told", day, id, deleteOn)
		}
	}
}

// make faults seed 133, day 87 (on 9cf1859): after the owner was told the day a key the
// rotator deactivated is deleted, someone overwrote the rotator's notices tag. The run that
// found the forged record took it as absent and waited, as it should, but its own write of
// the record (nothing on record: the tag removed) left no trace that the record had been
// forged; the KeyDeactivated notice it sent again did not reach NotifyUser's record that day,
// and the next run, finding no notices tag and nothing unsure, deleted the unused key three
// days before the day told. Replacing a forged record must not forget that it was forged
// until a notice on record gives the day again.
func TestForgedNoticesRecordStaysUnsureUntilANoticeGivesTheDayAgain(t *testing.T) {
	h, id, deleteOn := ivyToldTheDeletionDayThenNoticesForged(t)
	// Day 1: ScanAndRotate runs; its notification does not reach NotifyUser (a fault).
	h.Scan()
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	if _, ok := h.Keys("ivy")[id]; !ok {
		t.Fatalf("day 1: ivy's key %s was deleted before %s, the day its owner was told", id, deleteOn)
	}
	for day := 2; h.DayStart.Format(time.DateOnly) < deleteOn; day++ {
		h.Day()
		if _, ok := h.Keys("ivy")[id]; !ok {
			t.Fatalf("day %d: ivy's key %s was deleted before %s, the day its owner was told", day, id, deleteOn)
		}
	}
}

// ivyToldTheDeletionDayThenNoticesForged: ivy's key, which the rotator deactivated 3 days
// ago, is announced for deletion on day 0 (a KeyDeactivated notice naming deleteOn); then
// someone overwrites the notices tag with a record that does not verify.
func ivyToldTheDeletionDayThenNoticesForged(t *testing.T) (h *scenario.Harness, id, deleteOn string) {
	t.Helper()
	h = scenario.New(t)
	start := h.Now
	id = ivyWithAnInactiveKey(h)
	scenario.Must(h.W.SetTag(scenario.Account, "ivy", history.DeactivatedTag, id+":"+start.AddDate(0, 0, -3).Format(time.DateOnly)))
	h.Now = h.Now.Add(time.Minute)
	h.Day()
	if told := h.W.Delivered("ivy@" + scenario.Domain); len(told) != 1 {
		t.Fatalf("ivy was sent %d messages on day 0; want the KeyDeactivated notice", len(told))
	}
	deleteOn = start.AddDate(0, 0, 5).Format(time.DateOnly) // created 95 days ago, deleted at 100
	scenario.Must(h.W.SetTag(scenario.Account, "ivy", history.NoticesTag, id+":KD:"+start.Format("20060102")+":0000 forged"))
	return h, id, deleteOn
}
