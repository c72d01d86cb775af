package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// orphanSlack allows for clock skew between the mark's time and IAM's CreateDate; a key
// created more than OrphanWindow after the mark was not made by the marked attempt (the
// mark is written just before the one CreateAccessKey call). A key the owner creates within
// that window after a creation whose outcome is unknown, and has not used by the next run,
// cannot be told from the orphan: IAM does not say who created a key.
const (
	orphanSlack  = time.Minute
	OrphanWindow = 2 * time.Minute
)

// clearOrphans deletes the keys an interrupted CreateAccessKey left behind: created since the
// user's pending mark, without a hand-off secret, never used, still Active (someone who
// deactivated it knows of it: the ordinary rules then apply). A mark that cannot be read, or
// that is too young for IAM to list the key it covers, causes no deletion: the user is left
// for a later run.
func (ur *userRun) clearOrphans(ctx context.Context) error {
	e := ur.execution
	_, mark, marked := ur.u.Tags.Lookup(history.PendingTag)
	if !marked {
		return nil
	}
	since, err := markTime(mark)
	if err != nil {
		return fmt.Errorf("tag %s %q is not an RFC 3339 time: no key is deleted on its account; remove the tag once the user's keys are checked", history.PendingTag, mark)
	}
	if settle := cmp.Or(e.Settle, DefaultSettle); e.now().Sub(since) < settle {
		return &settling{fmt.Sprintf("a key creation started at %s is settling (IAM lists new keys within %s): the user waits for the next run", mark, settle)}
	}
	if e.run.DryRun {
		return nil
	}
	var kept []policy.Key
	for _, k := range ur.u.Keys {
		if _, stored := ur.pending[k.AccessKeyID]; stored || k.LastUsedDate != nil || k.Status != policy.Active ||
			k.CreateDate.Before(since.Add(-orphanSlack)) || k.CreateDate.After(since.Add(OrphanWindow)) {
			kept = append(kept, k)
			continue
		}
		a := workflow.ActionResult{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: k.AccessKeyID, Reason: fmt.Sprintf(
			"key %s was created at %s by a run that was interrupted before storing it for delivery, and never used: delete the orphan",
			k.AccessKeyID, k.CreateDate.Format(time.RFC3339))}}
		if err := ur.deleteKey(ctx, k.AccessKeyID); err != nil {
			return fmt.Errorf("delete orphan key %s of %s: %w", k.AccessKeyID, ur.u.UserName, err)
		}
		a.Done = true
		ur.ur.Actions = append(ur.ur.Actions, a)
		countAction(&e.res.Counts, policy.DeleteKey)
	}
	if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: []string{history.PendingTag}}); err != nil {
		return fmt.Errorf("clear the pending mark of %s: %w", ur.u.UserName, err)
	}
	ur.u.Keys = kept
	ur.u.Tags.Delete(history.PendingTag)
	return nil
}

// markTime is the time a pending mark was set ("RFC3339 runId").
func markTime(mark string) (time.Time, error) {
	return time.Parse(time.RFC3339, strings.Fields(mark + " ")[0])
}

// write makes one planned IAM write; a CreateKey returns the new key.
func (ur *userRun) write(ctx context.Context, up policy.UserPlan, a policy.Action) (*workflow.NewKey, error) {
	switch a.Action {
	case policy.DeleteKey:
		if err := ur.deleteKey(ctx, a.AccessKeyID); err != nil {
			return nil, err
		}
		// A key still waiting for its delivery's confirmation (one sent while bounces were
		// not suppressed, deleted as unused) takes its hand-off secret with it in this run:
		// left for the next run to drop, it would be a same-day re-run's write.
		if p, ok := ur.pending[a.AccessKeyID]; ok {
			if err := handoff.Delete(ctx, ur.Secrets, p.SecretARN); err != nil {
				return nil, fmt.Errorf("delete the hand-off secret of deleted key %s: %w", a.AccessKeyID, err)
			}
			delete(ur.pending, a.AccessKeyID)
		}
		return nil, nil
	case policy.DeactivateKey:
		_, err := ur.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &ur.u.UserName, AccessKeyId: aws.String(a.AccessKeyID), Status: types.StatusTypeInactive})
		return nil, err
	case policy.CreateKey:
		return ur.createKey(ctx, up, a)
	}
	return nil, fmt.Errorf("unknown action %q", a.Action)
}

// deleteKey deletes a key; one already gone (a retried call whose first response was lost)
// is done.
func (ur *userRun) deleteKey(ctx context.Context, id string) error {
	_, err := ur.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &ur.u.UserName, AccessKeyId: aws.String(id)})
	var gone *types.NoSuchEntityException
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

func countAction(c *workflow.Counts, a policy.ActionName) {
	switch a {
	case policy.CreateKey:
		c.KeysCreated++
	case policy.DeactivateKey:
		c.KeysDeactivated++
	case policy.DeleteKey:
		c.KeysDeleted++
	}
}

// zipPassword is the password of the zip that mails the user's new key, made with the key so
// that a retried NotifyUser mails the same one; a key delivered to a secret is mailed in no
// zip, and has none.
func (ur *userRun) zipPassword() secret.Secret {
	if ur.deliverTo != "" {
		return secret.Secret{}
	}
	return handoff.NewZipPassword()
}

// createKey marks the intent, creates the key, stores it for delivery and clears the mark.
// CreateAccessKey is sent once, without the SDK's retries: a re-sent request whose first
// response was lost would make a second key this call never sees. When the outcome is
// unknown (a lost response, a 5xx), the mark stays and a later run deletes the orphan; when
// IAM refused the call outright, no key was made and the mark goes. A key created but not
// stored is deleted at once.
func (ur *userRun) createKey(ctx context.Context, up policy.UserPlan, a policy.Action) (*workflow.NewKey, error) {
	e := ur.execution
	mark := e.Seal.Sign(e.acct.AccountID, ur.u.UserName, history.PendingTag, e.now().UTC().Format(time.RFC3339)+" "+e.run.RunID)
	if _, err := e.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &ur.u.UserName, Tags: []types.Tag{{Key: aws.String(history.PendingTag), Value: &mark}}}); err != nil {
		return nil, fmt.Errorf("mark the new key's intent: %w", noRoom(err, ur.u.UserName, history.PendingTag))
	}
	out, err := e.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &ur.u.UserName}, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		if refused(err) {
			return nil, errors.Join(fmt.Errorf("create access key: %w", err), ur.clearMark(ctx))
		}
		return nil, fmt.Errorf("create access key (outcome unknown: a later run deletes the key if it was made): %w", err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	name := handoff.Name(e.HandoffPrefix, e.acct.AccountID, ur.u.UserName, id)
	arn, err := handoff.Store(ctx, e.Secrets, name, e.HandoffKMSKeyID,
		handoff.Value{AccessKeyID: id, SecretAccessKey: secret.New(aws.ToString(out.AccessKey.SecretAccessKey)), ZipPassword: ur.zipPassword()},
		handoff.Pending{UserName: ur.u.UserName, AccessKeyID: id, Replaces: a.Replaces, DeactivateOn: a.DeactivateOn, DeliverTo: ur.deliverTo,
			UnwatchedRun: ur.unwatchedRun()})
	if err != nil {
		if delErr := ur.deleteKey(ctx, id); delErr != nil {
			return nil, fmt.Errorf("%w; the undeliverable key %s stays marked for deletion by a later run: %v", err, id, delErr)
		}
		return nil, errors.Join(fmt.Errorf("%w; the undeliverable key %s was deleted", err, id), ur.clearMark(ctx))
	}
	if err := ur.clearMark(ctx); err != nil {
		// The key is stored, so a later run keeps it (it has a secret) and clears the mark.
		e.Log.WarnContext(ctx, "pending mark left in place", "account", e.acct.AccountID, "user", ur.u.UserName, "error", err.Error())
	}
	return &workflow.NewKey{AccessKeyID: id, SecretARN: arn, ReplacesAccessKeyID: a.Replaces, DeactivateOn: a.DeactivateOn,
		Replaced: ur.usage(a.Replaces), DeliverTo: ur.deliverTo}, nil
}

// unwatchedRun is the run's ID when it sends the new key by email while bounces are not
// suppressed (its send can never be confirmed), else "".
func (ur *userRun) unwatchedRun() string {
	if ur.deliverTo != "" || ur.bounceProblem() == "" {
		return ""
	}
	return ur.run.RunID
}

func (ur *userRun) clearMark(ctx context.Context) error {
	if _, err := ur.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: []string{history.PendingTag}}); err != nil {
		return fmt.Errorf("clear the pending mark of %s: %w", ur.u.UserName, err)
	}
	return nil
}

// refused reports whether IAM answered a CreateAccessKey with an error that proves no key
// was made (a client error: quota, no such user, bad input), as opposed to an unknown outcome.
func refused(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient && !workflow.IsRetryable(err)
}
