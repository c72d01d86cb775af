package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// simHold is an operator's hold as the simulation placed it: the simulation day its
// execution ran, and its last day (YYYY-MM-DD; a release moves it to the day of the release).
type simHold struct {
	placed     int
	until      string
	reactivate bool
}

// holdsOn reports whether the hold holds on the simulation's day (date: its YYYY-MM-DD).
func (h simHold) holdsOn(day int, date string) bool { return h.placed <= day && date <= h.until }

// heldOn returns o's hold that holds today, if any.
func (s *sim) heldOn(o *owner) (simHold, bool) {
	today := s.now.Format(time.DateOnly)
	hs := s.opHolds[o.account+"/"+o.user]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].holdsOn(s.day, today) {
			return hs[i], true
		}
	}
	return simHold{}, false
}

// heldThrough reports whether a hold of o covered day (YYYY-MM-DD): placed on or before it,
// its last day not before it.
func (s *sim) heldThrough(o *owner, day string) bool {
	for _, h := range s.opHolds[o.account+"/"+o.user] {
		placed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, h.placed).Format(time.DateOnly)
		if placed <= day && day <= h.until {
			return true
		}
	}
	return false
}

// operator is the operators' part of the morning (World.Hold, HoldReleased): an application
// broke when the rotator deactivated its key, so an operator puts the key's user on hold, the
// key made active again, for 0 to 2 × noticePeriod days; or ends a hold early. The input goes
// with the day's scheduled execution (placeHolds), as an execution started with it would.
func (s *sim) operator() {
	w := s.cfg.World
	if w.Hold == 0 {
		return
	}
	today := s.now.Format(time.DateOnly)
	for _, o := range s.sortedOwners() {
		if _, held := s.heldOn(o); held {
			if s.chance(w.HoldReleased) {
				s.happened("operator-releases-hold")
				s.pendingReleases = append(s.pendingReleases, workflow.ReleaseRequest{Account: o.account, User: o.user})
			}
			continue
		}
		for _, k := range s.w.Keys(o.account, o.user) {
			if day, ok := s.deactivatedOn[k.AccessKeyID]; !ok || k.Status != types.StatusTypeInactive || day < s.day-3 || !s.deactivatedByRotator(k.AccessKeyID) {
				continue
			}
			if s.chance(w.Hold) {
				s.happened("operator-places-hold")
				until := s.now.AddDate(0, 0, s.rng.IntN(2*s.policy.NoticePeriod+1)).Format(time.DateOnly)
				s.pendingHolds = append(s.pendingHolds, workflow.HoldRequest{Account: o.account, User: o.user, Until: until,
					Reason: fmt.Sprintf("INC-%d", s.day), Reactivate: true})
				s.note(k.AccessKeyID, "operator holds %s until %s (placed %s)", o.user, until, today)
				break
			}
		}
	}
}

// placeHolds records the morning's holds and releases as ListAccounts does for the execution
// runID, before it runs (no fault: a ListAccounts that fails fails the execution before any
// account, and the operator starts it again).
func (s *sim) placeHolds(runID string) {
	holds, releases := s.pendingHolds, s.pendingReleases
	s.pendingHolds, s.pendingReleases = nil, nil
	if len(holds)+len(releases) == 0 {
		return
	}
	in := workflow.ExecutionInput{Holds: holds, Releases: releases}
	must(in.CheckHolds(s.now, s.policy.NoticePeriod))
	run := workflow.Run{RunID: runID, Now: s.now}
	_, err := (hold.Store{S3: s.w.S3(), Bucket: reportBucket}).Update(context.Background(), func(b *hold.Book) { b.Apply(run, holds, releases) })
	must(err)
	today := s.now.Format(time.DateOnly)
	for _, r := range releases {
		hs := s.opHolds[r.Account+"/"+r.User]
		for i := range hs {
			if hs[i].until > today {
				hs[i].until = today
			}
		}
	}
	for _, h := range holds {
		key := h.Account + "/" + h.User
		s.opHolds[key] = append(s.opHolds[key], simHold{placed: s.day, until: h.Until, reactivate: h.Reactivate})
	}
}

// reactivationHeld reports whether the rotator's UpdateAccessKey making keyID of o Active is
// the one a hold placed today asks for: a key the rotator deactivated, Inactive.
func (s *sim) reactivationHeld(o *owner, keyID string) bool {
	h, held := s.heldOn(o)
	if !held || h.placed != s.day || !h.reactivate || !s.deactivatedByRotator(keyID) {
		return false
	}
	for _, k := range s.w.Keys(o.account, o.user) {
		if k.AccessKeyID == keyID {
			return k.Status == types.StatusTypeInactive
		}
	}
	return false
}
