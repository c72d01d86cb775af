package rotate

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// recordInactive adds the keys the plan deactivates to the deactivated tag, as deactivated by
// the rotator today: it is written before the deactivation, so that no failure can leave a
// key deactivated today without the record that keeps it from being deleted today.
func (ur *userRun) recordInactive(up policy.UserPlan) {
	for _, a := range up.Actions {
		if a.Action != policy.DeactivateKey {
			continue
		}
		if ur.inactive == nil {
			ur.inactive = history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag))
		}
		ur.inactive[a.AccessKeyID] = history.Inactive{Since: ur.run.Now, ByRotator: true}
	}
}

// writeHistory writes the deactivated tag if it changed.
func (ur *userRun) writeHistory(ctx context.Context) error {
	if ur.inactive == nil {
		return nil
	}
	return ur.setTags(ctx, map[string]string{history.DeactivatedTag: history.FormatDeactivated(ur.inactive)})
}

// prune drops, after the writes, what the history remembers of keys that no longer exist,
// the failed deliveries of keys whose replacement was created since or whose new-key notice
// was delivered after them (history.Superseded), and the
// inactive-since day of keys active again.
func (ur *userRun) prune() map[string]string {
	exists := map[string]bool{}
	for _, k := range ur.u.Keys {
		exists[k.AccessKeyID] = ur.exists(k.AccessKeyID)
	}
	active := map[string]bool{}
	for _, k := range ur.u.Keys {
		active[k.AccessKeyID] = k.Status == policy.Active
	}
	for _, a := range ur.ur.Actions {
		if a.Done && a.Action.Action == policy.DeactivateKey {
			active[a.AccessKeyID] = false
		}
	}
	for _, a := range ur.ur.Actions {
		if a.Done && a.Action.Action == policy.CreateKey {
			ur.replaced[a.Replaces] = true
		}
	}
	all := history.ParseNotices(ur.u.Tags.Get(history.NoticesTag))
	sent := slices.DeleteFunc(slices.Clone(all), func(s history.Sent) bool {
		// A release's notice ends its hold early (policy.Hold.Holds) whichever key it named:
		// it stays while the hold is in force, also once that key is gone.
		released := s.Kind == policy.HoldReleased && ur.u.Hold != nil
		return !exists[s.AccessKeyID] && !released || ur.replacedNotice(s.NoticeRef) || history.Superseded(all, s, ur.run.Now)
	})
	inactive := history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag))
	// A key active again (its owner reactivated it) loses its record: if it is deactivated
	// again, that day is the one that counts.
	maps.DeleteFunc(inactive, func(id string, _ history.Inactive) bool { return !exists[id] || active[id] })
	return map[string]string{history.NoticesTag: history.FormatNotices(sent), history.DeactivatedTag: history.FormatDeactivated(inactive)}
}

// exists reports whether the user's key id exists after this run's writes.
func (ur *userRun) exists(id string) bool {
	return slices.ContainsFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id }) &&
		!slices.ContainsFunc(ur.ur.Actions, func(a workflow.ActionResult) bool {
			return a.Done && a.Action.Action == policy.DeleteKey && a.AccessKeyID == id
		})
}

// setTags writes the given history tags, signed, where they differ from what was read or
// what was read did not verify (an empty value removes the tag), and remembers what it wrote.
// A tag is written and removed under the rotator's own spelling of its key (the member role
// may write no other): IAM compares user tag keys case-insensitively, so TagUser replaces,
// and UntagUser removes, the tag however the user carries it.
//
// A notices record someone else overwrote is left as it is: the rotator's own record would
// list only what this run knows was sent, and the next run, finding it signed, would forget
// that any notice may have been sent (policy.User.NoticesUnsure), so a deletion day a
// KeyDeactivated notice told would no longer hold. NotifyUser replaces it once it records the
// notices sent again, which give those days anew (make faults seed 133 on 9cf1859).
func (ur *userRun) setTags(ctx context.Context, values map[string]string) error {
	values = maps.Clone(values)
	if _, forged := ur.untrusted[history.NoticesTag]; forged {
		delete(values, history.NoticesTag)
	}
	var set []types.Tag
	var unset []string
	for _, key := range slices.Sorted(maps.Keys(values)) {
		// A tag the user carries in another case with the same value is left as it is: the
		// rotator reads it alike, and rewriting it would be a write on every run.
		_, forged := ur.untrusted[key]
		switch value, current := values[key], ur.u.Tags.Get(key); {
		case value == current && !forged:
		case value == "":
			unset = append(unset, key)
		default:
			set = append(set, types.Tag{Key: aws.String(key), Value: aws.String(ur.Seal.Sign(ur.acct.AccountID, ur.u.UserName, key, value))})
		}
	}
	if len(set) > 0 {
		if _, err := ur.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &ur.u.UserName, Tags: set}); err != nil {
			return fmt.Errorf("record the key history of %s: %w", ur.u.UserName, noRoom(err, ur.u.UserName, tagKeys(set)...))
		}
	}
	if len(unset) > 0 {
		if _, err := ur.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: unset}); err != nil {
			return fmt.Errorf("clear the key history of %s: %w", ur.u.UserName, err)
		}
	}
	for key, value := range values {
		delete(ur.untrusted, key)
		if value == "" {
			ur.u.Tags.Delete(key)
		} else {
			ur.u.Tags.Set(key, value)
		}
	}
	return nil
}

func tagKeys(tags []types.Tag) []string {
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		keys = append(keys, aws.ToString(t.Key))
	}
	return keys
}
