package rotate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// A user's tags take slots of IAM's 50-tag quota, and so do the rotator's own (pkg/history).
// A user whose tags leave no room for those the rotator must write before it acts gets no
// write at all (no TagUser that IAM would refuse, no key made, deactivated or deleted), a
// result that says what a person must do, and its owner a TagsFull reminder, at most one a
// day (Leases.Once: IAM has no room to record it). docs/policy.md, "tags full".

// rotatorTags are the tags the rotator keeps on a user.
var rotatorTags = []string{history.DeactivatedTag, history.NoticesTag, history.PendingTag, history.UndeliverableTag}

// tagsShort says how many more free tags the user needs for what the plan records, and which
// of the rotator's tags it would add: 0 when they fit. The rotator holds at once the tags it
// carries and the plan's records (the deactivated tag before a deactivation or for a key
// newly found inactive, the notices tag for a remembered notice; a new key needs both, until
// the key it replaces is deleted), or, while it creates a key, those it carries and the
// pending mark.
func (ur *userRun) tagsShort(up policy.UserPlan) (short int, adds []string) {
	// The rotator's tags that did not verify were taken out of u.Tags (history.Seal), but
	// the user still carries them: they take slots, and writing one replaces it.
	carried := map[string]bool{}
	for _, k := range rotatorTags {
		_, untrusted := ur.untrusted[k]
		if _, _, ok := ur.u.Tags.Lookup(k); ok || untrusted {
			carried[k] = true
		}
	}
	records := map[string]bool{}
	creates := false
	if ur.inactive != nil {
		records[history.DeactivatedTag] = true
	}
	for _, a := range up.Actions {
		switch a.Action {
		case policy.CreateKey:
			creates = true
			records[history.DeactivatedTag], records[history.NoticesTag] = true, true
		case policy.DeactivateKey:
			records[history.DeactivatedTag] = true
		}
	}
	if slices.ContainsFunc(up.Notices, func(n policy.Notice) bool { return n.Kind.KeyRemains() }) {
		records[history.NoticesTag] = true
	}
	held := func(with ...string) int {
		n := len(carried)
		for _, k := range with {
			if !carried[k] {
				n++
			}
		}
		return n
	}
	var recorded []string
	for _, k := range rotatorTags {
		if records[k] {
			recorded = append(recorded, k)
		}
	}
	peak := held(recorded...)
	if creates {
		peak = max(peak, held(history.PendingTag))
	}
	for _, k := range rotatorTags {
		if (records[k] || creates && k == history.PendingTag) && !carried[k] {
			adds = append(adds, k)
		}
	}
	if short = len(ur.u.Tags) + len(ur.untrusted) - len(carried) + peak - policy.MaxTagsPerUser; short <= 0 || len(adds) == 0 {
		return 0, nil // replacing a tag the user carries takes no room
	}
	return short, adds
}

// roomFor reports whether the user's tags leave room for the rotator's tag key: the user
// carries it already (writing it replaces it) or holds fewer than IAM's quota.
func (ur *userRun) roomFor(key string) bool {
	_, untrusted := ur.untrusted[key]
	if _, _, ok := ur.u.Tags.Lookup(key); ok || untrusted {
		return true
	}
	return len(ur.u.Tags)+len(ur.untrusted) < policy.MaxTagsPerUser
}

// TagsFull is a user's failure when its tags leave no room for the rotator's: what a person
// must do about it.
type TagsFull struct {
	UserName    string
	Tags, Short int
	Adds        []string
}

func (f *TagsFull) Error() string {
	return fmt.Sprintf("IAM user %s carries %d tags and IAM allows %d: remove at least %d tags that do not start with key-rotator: "+
		"so that the rotator can record its work (%s); until then nothing is done to the user's keys",
		f.UserName, f.Tags, policy.MaxTagsPerUser, f.Short, strings.Join(f.Adds, ", "))
}

// tagsFull fails a user whose tags leave no room for the rotator's and reminds its owner.
func (ur *userRun) tagsFull(ctx context.Context, up policy.UserPlan, short int, adds []string) {
	e := ur.execution
	full := &TagsFull{UserName: ur.u.UserName, Tags: len(ur.u.Tags), Short: short, Adds: adds}
	ur.ur.Actions, ur.ur.Notices = nil, nil
	if id := actedOn(up); id != "" && up.Email != "" {
		n := policy.Notice{Kind: policy.TagsFull, AccessKeyID: id, Usage: ur.usage(id),
			Message: policy.TagsFullMessage(ur.u.UserName, id, len(ur.u.Tags), short, strings.Join(adds, ", "))}
		if ur.remind(ctx, up.Email, n) {
			ur.ur.Notices = []policy.Notice{n}
			e.res.Counts.Notices++
		}
	}
	e.fail(ctx, ur.ur, full)
}

// actedOn is the key the plan acts on or tells of first ("": none).
func actedOn(up policy.UserPlan) string {
	for _, a := range up.Actions {
		if id := a.AccessKeyID + a.Replaces; id != "" {
			return id
		}
	}
	if len(up.Notices) > 0 {
		return up.Notices[0].AccessKeyID
	}
	return ""
}

// remind queues a notice that no tag records, at most once a day for the user (Leases.Once;
// every time without leases), within the run's notification budget as a user without writes.
// A reminder whose sending then fails is sent again the next day.
func (ur *userRun) remind(ctx context.Context, to string, n policy.Notice) bool {
	e := ur.execution
	if reserved := min(e.cfg.MaxUsers-e.writers, e.usersLeft); e.noticeBudget <= reserved {
		return false
	}
	if e.Leases != nil {
		first, err := e.Leases.Once(ctx, e.acct.AccountID, string(n.Kind)+"/"+ur.u.UserName+"/"+e.run.Now.UTC().Format("2006-01-02"))
		if err != nil {
			e.Log.WarnContext(ctx, "reminder not sent", "account", e.acct.AccountID, "user", ur.u.UserName, "kind", n.Kind, "error", err.Error())
			return false
		}
		if !first {
			return false
		}
	}
	e.noticeBudget--
	e.notifications = append(e.notifications, workflow.Notification{RunID: e.run.RunID, Account: e.acct,
		UserName: ur.u.UserName, Email: to, Notices: []policy.Notice{n}, SendRate: e.run.SendRate, Use: ur.use})
	return true
}

// noRoom names what to do when IAM refused a tag of the rotator for the user's quota (tags
// added since the user was read); other errors pass unchanged.
func noRoom(err error, userName string, keys ...string) error {
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		return err
	}
	return fmt.Errorf("%w: IAM user %s has no room for the rotator's %s (IAM allows %d tags a user): remove a tag whose key does not start with key-rotator: and run again",
		err, userName, strings.Join(keys, ", "), policy.MaxTagsPerUser)
}
