package policy

import (
	"slices"
	"time"
)

// KeyStatus is an access key's IAM status.
type KeyStatus string

// The two statuses IAM gives an access key.
const (
	Active   KeyStatus = "Active"
	Inactive KeyStatus = "Inactive"
)

// Key is one access key as IAM reports it.
type Key struct {
	AccessKeyID string    `json:"accessKeyId"`
	Status      KeyStatus `json:"status"`
	CreateDate  time.Time `json:"createDate"`
	// LastUsedDate is nil when the key was never used.
	LastUsedDate *time.Time `json:"lastUsedDate,omitempty"`
	// LastUsedService and LastUsedRegion say with which service and in which region it was
	// (empty when never used or not known): evidence shown to people, not read by any rule.
	LastUsedService string `json:"lastUsedService,omitempty"`
	LastUsedRegion  string `json:"lastUsedRegion,omitempty"`
	// DeactivatedDate is the day the key was first known to be Inactive: the day the rotator
	// deactivated it, or first saw it Inactive (IAM does not say). A key deactivated today is
	// not deleted, nor used to make room, before tomorrow. Nil: unknown, taken as earlier.
	DeactivatedDate *time.Time `json:"deactivatedDate,omitempty"`
	// DeactivatedByRotator says the rotator deactivated the key and promised the owner a
	// KeyDeactivated notice: the key is not deleted before that notice was delivered.
	DeactivatedByRotator bool `json:"deactivatedByRotator,omitempty"`
	// StoreBehind, set on an Active key of a user whose keys go to the application's secret,
	// says why that secret's current value is not the key's successor (an application that
	// wrote its secret over, or deleted it; a successor the owner made and never put there)
	// and the keys' use does not show the application reading the successor (ReadsSuccessor):
	// the key is not deactivated while the application may still read it; its owner is told
	// (DeliveryFailed, also in place of the key's first warning) and the bounded wait decides.
	StoreBehind string `json:"storeBehind,omitempty"`
	// Undelivered marks a key the rotator created whose delivery to the owner is not yet
	// confirmed. It is not a replacement: the key it replaces stays active, and no other key is
	// created, until the delivery is confirmed or the owner's address is given up (User.DeliveryProblem).
	Undelivered bool `json:"undelivered,omitempty"`
}

// ReadsSuccessor reports whether the keys' use shows an application reading succ, not old,
// from its secret since the secret last changed (changed), when the version current since is
// not the one the rotator wrote succ in: succ was used on a later UTC day than changed, and
// old not on changed's day or after. The rotator cannot read the secret's value; IAM's last
// use is what shows which key the application holds, so a secret written again with the same
// key (a new version of the application's own) still counts as holding succ, while one that
// went back to old (old used since, succ not on a later day) does not. False when either
// date is unknown.
func ReadsSuccessor(old, succ Key, changed time.Time) bool {
	if changed.IsZero() || succ.LastUsedDate == nil || !midnight(*succ.LastUsedDate).After(midnight(changed)) {
		return false
	}
	return old.LastUsedDate == nil || midnight(*old.LastUsedDate).Before(midnight(changed))
}

// Usage returns the key's last use.
func (k Key) Usage() Usage {
	return Usage{AccessKeyID: k.AccessKeyID, LastUsedDate: k.LastUsedDate, Service: k.LastUsedService, Region: k.LastUsedRegion}
}

// Usage is a key's last use as IAM recorded it (GetAccessKeyLastUsed, or the credential
// report's last_used columns): when, with which service, in which region.
type Usage struct {
	AccessKeyID  string     `json:"accessKeyId"`
	LastUsedDate *time.Time `json:"lastUsedDate,omitempty"` // nil: never used
	Service      string     `json:"service,omitempty"`
	Region       string     `json:"region,omitempty"`
}

// String says it for people: "last used on 2026-11-24 at 08:05 UTC with s3 in eu-west-1",
// or "never used".
func (u Usage) String() string {
	if u.LastUsedDate == nil {
		return "never used"
	}
	s := "last used on " + u.LastUsedDate.UTC().Format("2006-01-02 at 15:04 UTC")
	if u.Service != "" {
		s += " with " + u.Service
	}
	if u.Region != "" {
		s += " in " + u.Region
	}
	return s
}

// AtRiskDays bounds "at risk": a key used within this many days that is due to be
// deactivated within as many is likely still needed by something that will break.
const AtRiskDays = 2

// KeyUsage is one of a user's keys as the plan saw it: the evidence behind the decision.
type KeyUsage struct {
	Usage
	Status KeyStatus `json:"status"`
	// Replacement is the last use of the newer key that replaces this one (delivered or on
	// its way), if there is one: whether the owner has switched yet.
	Replacement *Usage `json:"replacement,omitempty"`
	// DeactivateOn is the day (YYYY-MM-DD) the rules deactivate this Active key, when they
	// set one: today for a key deactivated by the plan.
	DeactivateOn string `json:"deactivateOn,omitempty"`
	// AtRisk: used within AtRiskDays and due to be deactivated within AtRiskDays.
	AtRisk bool `json:"atRisk,omitempty"`
}

// User is what the policy needs to know about one IAM user.
type User struct {
	UserName string `json:"userName"`
	Tags     Tags   `json:"tags,omitempty"`
	Keys     []Key  `json:"keys"`
	// NoticesSent lists the notices this user was already sent (rule 5: once per key and kind).
	NoticesSent []NoticeRef `json:"noticesSent,omitempty"`
	// NoticesSentToday are those of NoticesSent delivered today: a warning counts before an
	// action only from the next day on, so that a same-day re-run writes nothing.
	NoticesSentToday []NoticeRef `json:"noticesSentToday,omitempty"`
	// NoticesUnconfirmed are notices the user was sent that this run does not count as
	// delivered (it cannot see bounces, or the owner's address bounced since): none warns
	// before an action, but the owner may have read them, so a deletion day one of them gave
	// (KeyDeactivated) still holds: rule 2 does not delete the key before it (invariant 8).
	// Not counting a notice may postpone an action, never hasten one.
	NoticesUnconfirmed []NoticeRef `json:"noticesUnconfirmed,omitempty"`
	// NoticesUnsure says the record of the notices sent was overwritten by someone else (the
	// notices tag did not verify, and is taken as absent): any notice may have been sent, so a
	// deletion day a KeyDeactivated notice gave may hold too, and rule 2 deletes no key the
	// rotator deactivated until a notice on record gives its day again. A forged record only
	// postpones.
	NoticesUnsure bool `json:"noticesUnsure,omitempty"`
	// Unheard, when set, says why the notices of NoticesUnconfirmed, sent to the owner, do not
	// count as delivered in this run (the owner's address is on SES's suppression list since,
	// or the run cannot see bounces; the caller leaves in NoticesSent those that arrived
	// before): none of them warns before an action (a day one gave holds), and no notice sent
	// is planned again (nothing more reaches the address, nor is sent on every re-run). A deactivation that waits for a warning then waits for the
	// bounded wait: the plan's key evidence gives that day (KeyUsage.DeactivateOn), never
	// one already past, and its reason says why the key stays active past the day its owner
	// may have been told.
	Unheard string `json:"unheard,omitempty"`
	// DeliveryProblem, when set, says why the owner's address is given up: delivery to it
	// kept failing past the old key's deactivation date. The owner then has no usable email
	// (rule 6).
	DeliveryProblem string `json:"deliveryProblem,omitempty"`
	// SecretProblem, when set, says why the user's keys cannot be delivered to the
	// application's secret its KeyDelivery tag names (refused, denied, given up): no new key
	// is made, but the owner's email stays usable: the owner is told (DeliveryFailed) before
	// the key due for rotation is deactivated.
	SecretProblem string `json:"secretProblem,omitempty"`
	// AwaitsFirstUse says the user's keys go where nobody can read them back (a GitHub
	// Actions secret: pkg/appsecret's Destination.AwaitsFirstUse): the rotator cannot tell
	// which key the workflow holds, so an Active key is deactivated only once its replacement
	// was used (IAM's last use). A replacement not used by the old key's date minus
	// noticePeriod/2 holds the old key as a secret behind does (Key.StoreBehind): the owner is
	// told by email (DeliveryFailed) the day it goes, noticePeriod days past its date.
	AwaitsFirstUse bool `json:"awaitsFirstUse,omitempty"`
	// Hold, when set, is an operator's hold on the user's keys (pkg/hold, placed by execution
	// input and kept in the report bucket, never in a tag): while it holds, no rule but rule 2
	// (unused keys) deactivates or deletes a key of the user, and no notice that names a day
	// is sent (the day would not be kept).
	Hold *Hold `json:"hold,omitempty"`
}

// Hold is an operator's hold on one user's keys: the last day it holds (UTC) and why. Asked,
// set when a release ended it early (Until is then the release's day), is the last day the
// placing asked for, which its owner was told: the hold keeps holding through it until the
// release's notice (HoldReleased) reached the owner on an earlier day.
type Hold struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	Asked  time.Time `json:"asked,omitzero"`
}

// Holds reports whether the hold holds on now's UTC day for u: from its placing through
// Until, and, released early, through Asked unless u's owner received the release's notice
// before today; never past Until or Asked. A nil hold holds nothing.
func (h *Hold) Holds(u User, now time.Time) bool {
	switch {
	case h == nil:
		return false
	case !midnight(now).After(midnight(h.Until)):
		return true
	case h.Asked.IsZero() || midnight(now).After(midnight(h.Asked)):
		return false
	}
	released := func(r NoticeRef) bool { return r.Kind == HoldReleased }
	return !slices.ContainsFunc(u.NoticesSent, func(r NoticeRef) bool { return released(r) && !slices.Contains(u.NoticesSentToday, r) })
}

// Ends is the first day the rules apply again: the day after Until.
func (h *Hold) Ends() time.Time { return midnight(h.Until).Add(day) }

// ActionName names a write the rotator makes in IAM.
type ActionName string

// The three writes; the names are a contract with the executor and the plan CLI's output.
const (
	CreateKey     ActionName = "CreateKey"
	DeactivateKey ActionName = "DeactivateKey"
	DeleteKey     ActionName = "DeleteKey"
)

// Action is one planned write with the reason a person can read.
type Action struct {
	Action ActionName `json:"action"`
	// AccessKeyID is empty for CreateKey: the new key's ID is known only once IAM made it.
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// Replaces and DeactivateOn (YYYY-MM-DD) are set for CreateKey: the key the new one
	// replaces and the day it is deactivated. The new key's delivery tells the owner both,
	// whatever notices were sent before.
	Replaces     string `json:"replaces,omitempty"`
	DeactivateOn string `json:"deactivateOn,omitempty"`
	Reason       string `json:"reason"`
}

// NoticeKind says what a notice tells the key's owner.
type NoticeKind string

// The notices an owner can receive. Each is sent at most once per key (rule 5).
const (
	// NewKeyIssued: a new key was made for the owner; AccessKeyID is the key it replaces and
	// ActBy the day that old key is deactivated.
	NewKeyIssued NoticeKind = "NewKeyIssued"
	// DeactivationScheduled: the key will be deactivated on ActBy; switch to the other key.
	DeactivationScheduled NoticeKind = "DeactivationScheduled"
	// KeyDeactivated: the key was deactivated today; it is deleted on ActBy.
	KeyDeactivated NoticeKind = "KeyDeactivated"
	// KeyDeleted: the (inactive, expired) key was deleted today.
	KeyDeleted NoticeKind = "KeyDeleted"
	// UnusedKeyDeleted: the key was deleted today because it was not used for the limit.
	UnusedKeyDeleted NoticeKind = "UnusedKeyDeleted"
	// TagsFull: the user's tags leave no room for the ones the rotator must write before it
	// acts on the key, so nothing is done until the owner removes some (TagsFullMessage). It
	// cannot be recorded in the user's tags: at most one a day is sent (pkg/rotate).
	TagsFull NoticeKind = "TagsFull"
	// DeliveryFailed: the replacement of the key cannot be delivered to the application's
	// secret, or the secret no longer holds it (Message says why); the key is deactivated on
	// ActBy unless that is fixed. AccessKeyID is the key the application uses now.
	DeliveryFailed NoticeKind = "DeliveryFailed"
	// HoldPlaced: an operator put the user's keys on hold (User.Hold) and the key was made
	// active again (or was still active): it stays so through the hold's last day. ActBy, when
	// set, is the day after it, on which the rules deactivate the key (HoldPlacedNotice). It
	// is sent by the run that places the hold and not recorded in the user's tags.
	HoldPlaced NoticeKind = "HoldPlaced"
	// HoldReleased: an operator ended the user's hold early; ActBy, when set, is the next day,
	// on which the rules deactivate the key. It is remembered: a hold released early holds
	// through the day first told until it reached the owner (Hold.Holds).
	HoldReleased NoticeKind = "HoldReleased"
)

// NoticeKinds lists every notice kind: each has its email (pkg/notify) and its code in the
// user's notices tag (pkg/history), and their tests range over this list.
var NoticeKinds = []NoticeKind{NewKeyIssued, DeactivationScheduled, KeyDeactivated, KeyDeleted, UnusedKeyDeleted, TagsFull, DeliveryFailed, HoldPlaced, HoldReleased}

// KeyRemains reports whether the key a notice of this kind is about still exists once it is
// sent: such notices are remembered, so that each is sent once and the actions they announce
// wait for them. A notice about a deleted key is not (nothing can repeat it), nor TagsFull
// (the user has no room for the record; it announces no action), nor HoldPlaced (sent by the
// run that places the hold, once: pkg/rotate).
func (k NoticeKind) KeyRemains() bool {
	return k != KeyDeleted && k != UnusedKeyDeleted && k != TagsFull && k != HoldPlaced
}

// NoticeRef identifies a notice for de-duplication: one per key and kind.
type NoticeRef struct {
	Kind        NoticeKind `json:"kind"`
	AccessKeyID string     `json:"accessKeyId"`
}

// Notice is one message the owner must receive, with the day they must act by (if any).
type Notice struct {
	Kind        NoticeKind `json:"kind"`
	AccessKeyID string     `json:"accessKeyId"`
	// ActBy is a calendar day (YYYY-MM-DD, UTC); empty when the notice asks for nothing.
	ActBy   string `json:"actBy,omitempty"`
	Message string `json:"message"`
	// Usage is the last use of the key the notice is about, when the decision was made.
	Usage *Usage `json:"usage,omitempty"`
	// Replacement is the last use of the newer key that replaces it, if there is one.
	Replacement *Usage `json:"replacement,omitempty"`
}

// Ref is the notice's de-duplication key.
func (n Notice) Ref() NoticeRef { return NoticeRef{Kind: n.Kind, AccessKeyID: n.AccessKeyID} }

// UserStatus is the headline of a user's plan: the most significant thing that happens.
type UserStatus string

// The user statuses, from most to least significant write.
const (
	StatusRotate     UserStatus = "rotate"     // a new key is created
	StatusDeactivate UserStatus = "deactivate" // a key is deactivated, none created
	StatusDelete     UserStatus = "delete"     // keys are only deleted
	StatusNotify     UserStatus = "notify"     // no write, but a notice is due
	StatusOK         UserStatus = "ok"         // nothing is due
	StatusExempt     UserStatus = "exempt"     // tagged exempt: never touched
	StatusDeferred   UserStatus = "deferred"   // writes were due but maxUsers was reached
	StatusHeld       UserStatus = "held"       // an operator's hold keeps its keys as they are
)

// UserPlan is the decision for one user.
type UserPlan struct {
	UserName string     `json:"userName"`
	Status   UserStatus `json:"status"`
	// Reason explains a plan without actions (exempt, deferred, nothing due).
	Reason string `json:"reason,omitempty"`
	// Email is the owner's usable address; empty when there is none (see EmailProblem).
	Email string `json:"email,omitempty"`
	// EmailProblem says why the user has no usable email (rule 6); such users are reported.
	EmailProblem string `json:"emailProblem,omitempty"`
	// Timeline is the user's own days when a RotationDays tag shortens the limit.
	Timeline *Timeline `json:"timeline,omitempty"`
	// RotationDaysProblem says why a RotationDays tag was ignored or raised to the shortest
	// limit; the report lists it, the owner is not told.
	RotationDaysProblem string   `json:"rotationDaysProblem,omitempty"`
	Actions             []Action `json:"actions"`
	Notices             []Notice `json:"notices"`
	// OldestKeyAgeDays orders users by urgency for maxUsers (rule 8).
	OldestKeyAgeDays int `json:"oldestKeyAgeDays"`
	// Keys are the user's keys, oldest first, with the evidence of their use.
	Keys []KeyUsage `json:"keys"`
	// Held: an operator's hold holds the user's keys today (User.Hold.Holds): no rule but
	// rule 2 deactivates or deletes one. Status says "held" only when nothing else is due.
	Held bool `json:"held,omitempty"`
}

// Plan is the decision for all users of one account (or one plan input).
type Plan struct {
	Users []UserPlan `json:"users"`
}
