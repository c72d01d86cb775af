package rotate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// readHolds reads the operators' holds of the account (pkg/hold) once per run: a run that
// cannot read them acts on no user, since it might act against a hold.
func (e *execution) readHolds(ctx context.Context) error {
	e.holds = map[string]hold.Hold{}
	if e.Holds == nil {
		return nil
	}
	book, _, err := e.Holds.Read(ctx)
	if err != nil {
		return fmt.Errorf("account %s: %w", e.acct.AccountID, err)
	}
	e.holds = book.Account(e.acct.AccountID, e.run.Now)
	return nil
}

// placedNow lists the users whose hold this run placed or released, by name: each is read,
// whatever its keys, to reactivate its key and tell its owner.
func (e *execution) placedNow() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(e.holds)) {
		if e.holds[name].Changed(e.run.RunID) {
			out = append(out, name)
		}
	}
	return out
}

// applyHold gives the user its hold, if one holds today, and, in the run that placed it, makes
// its key active again when asked (reactivate) before anything else is read from the user's
// history: the key the hold names, else the one the rotator deactivated most recently (the
// deactivated tag, signed: a forged record is not read). A key deleted meanwhile cannot come
// back; the report says so.
func (ur *userRun) applyHold(ctx context.Context) error {
	h, held := ur.holds[ur.u.UserName]
	if !held {
		return nil
	}
	ur.u.Hold = h.Policy()
	if !h.Changed(ur.run.RunID) {
		return nil
	}
	ur.placed = &h
	ur.heldKey = policy.OldestActive(ur.u.Keys) // the owner is told of the key that is active, unless one is reactivated
	if h.ReleasedBy == ur.run.RunID {
		ur.holdNote = "released by this run"
		return nil
	}
	id := h.AccessKeyID
	if id == "" && h.Reactivate {
		id = ur.lastDeactivated()
	}
	i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id })
	switch {
	case id == "" && h.Reactivate:
		ur.holdNote = "no key the rotator deactivated is on record: nothing made active again"
	case id == "":
	case i < 0:
		ur.holdNote = fmt.Sprintf("key %s does not exist (deleted): it cannot be made active again", id)
		id = ""
	case ur.u.Keys[i].Status == policy.Inactive && policy.UnusedKey(ur.u.Keys[i], ur.u.Tags, ur.cfg, unusedBy(h, ur.cfg, ur.run.Now)):
		// Unused, rule 2 would delete it, which a hold never postpones, once active before
		// the day its owner was told it is deleted (a KeyDeactivated notice names a day at
		// most noticePeriod days after the deactivation, which came before the hold) or the
		// hold's end: it stays as it is, and goes on the day told.
		ur.holdNote = fmt.Sprintf("key %s was not used for (nearly) the unused limit: rule 2 would delete it, so it is not made active again", id)
		id = ""
	default:
		ur.heldKey = id
	}
	if ur.run.DryRun {
		return nil
	}
	// A new hold starts afresh: an earlier hold's release no longer counts (policy.Hold.Holds).
	forget := func(s history.Sent) bool { return s.Kind == policy.HoldReleased }
	inactive := history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag))
	if id != "" && h.Reactivate {
		if ur.u.Keys[i].Status == policy.Inactive {
			if _, err := ur.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &ur.u.UserName, AccessKeyId: &id, Status: types.StatusTypeActive}); err != nil {
				return fmt.Errorf("reactivate %s for %s (hold %s): %w", id, ur.u.UserName, h.Reason, err)
			}
			ur.Log.InfoContext(ctx, "key reactivated under a hold", "account", ur.acct.AccountID, "user", ur.u.UserName, "accessKeyId", id,
				"until", h.Until, "reason", h.Reason, "placedBy", h.PlacedBy)
			ur.holdNote = fmt.Sprintf("key %s made active again", id)
		}
		ur.u.Keys[i].Status = policy.Active
		// The key's deactivation is over: its record and its KeyDeactivated notice are
		// forgotten, so that a deactivation after the hold is recorded on its own day and told
		// anew with the day the key is then deleted (also on a retry, once the key is active).
		delete(inactive, id)
		forget = func(s history.Sent) bool {
			return s.Kind == policy.HoldReleased || s.AccessKeyID == id && s.Kind == policy.KeyDeactivated
		}
	}
	sent := slices.DeleteFunc(history.ParseNotices(ur.u.Tags.Get(history.NoticesTag)), forget)
	return ur.setTags(ctx, map[string]string{history.DeactivatedTag: history.FormatDeactivated(inactive), history.NoticesTag: history.FormatNotices(sent)})
}

// unusedBy is the day by which a key made active again must not have reached the unused
// limit: the day after the hold and the day after noticePeriod days, whichever is later.
func unusedBy(h hold.Hold, cfg policy.Config, now time.Time) time.Time {
	after := h.Policy().Ends()
	if soon := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, cfg.NoticePeriod+1); soon.After(after) {
		after = soon
	}
	return after
}

// lastDeactivated is the key the rotator deactivated most recently, as its signed
// deactivated tag records, among the user's keys; "" when none. A key it only may have
// deactivated (recorded when its record was forged: history.Inactive.Unsure) is not one: its
// owner may have deactivated it (make faults -rare seed 11).
func (ur *userRun) lastDeactivated() string {
	id, latest := "", history.Inactive{}
	for k, in := range history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag)) {
		exists := slices.ContainsFunc(ur.u.Keys, func(key policy.Key) bool { return key.AccessKeyID == k })
		if in.ByRotator && !in.Unsure && exists && (id == "" || in.Since.After(latest.Since) || in.Since.Equal(latest.Since) && k > id) {
			id, latest = k, in
		}
	}
	return id
}

// holdPlacedNotice is the owner's HoldPlaced notice of the hold this run placed, once (a
// retry of the run sends none: Leases.Once), or nil.
func (ur *userRun) holdPlacedNotice(ctx context.Context, up policy.UserPlan) *policy.Notice {
	if ur.placed == nil || ur.heldKey == "" || up.Email == "" || ur.run.DryRun {
		return nil
	}
	if ur.Leases != nil {
		first, err := ur.Leases.Once(ctx, ur.acct.AccountID, string(policy.HoldPlaced)+"/"+ur.u.UserName+"/"+ur.run.RunID)
		if err != nil || !first {
			return nil
		}
	}
	n := policy.HoldPlacedNotice(ur.u, ur.cfg, ur.run.Now, ur.heldKey)
	return &n
}
