package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// Advance makes it d later for everything the stand-in holds, as if d had passed before the
// next run: the Lambdas read the wall clock, so the state moves back instead. Every access
// key's CreateDate and LastUsedDate (with its service and region), the times the rotator recorded (the pending mark on a
// user, the sent mark on a hand-off secret) move back by d; the days it recorded (delivered
// notices, the day a key was first known inactive, the deactivation day a hand-off secret
// promises, an operator's hold's last day) move back by d's whole days, so a d under
// a day keeps them (the run after it is taken as the same UTC day). The credential reports
// are taken again, as old as the scenario's credentialReportHoursAgo says.
//
// What moto keeps out of reach stays: a secret's CreatedDate, SES's send history; and so do
// the local GitHub's dates (a GitHub secret's updated_at is compared with a hand-off
// secret's CreatedDate). A rotator
// tag it cannot read in the rotator's format, or whose signature it cannot verify with the
// rotator's tag key, is left as it is.
func (sb *Sandbox) Advance(ctx context.Context, d time.Duration) error {
	if sb.Seeded == nil {
		return fmt.Errorf("advance the clock: the stand-in was started without a scenario")
	}
	days := int(d / (24 * time.Hour))
	seal, err := sb.tagSeal(ctx)
	if err != nil {
		return err
	}
	for _, a := range sb.Seeded.Settings.Accounts {
		client, err := sb.IAM(a.Name)
		if err != nil {
			return err
		}
		users, err := sb.Users(ctx, a.Name)
		if err != nil {
			return err
		}
		for _, u := range users {
			for _, k := range u.Keys {
				var used *sandbox.LastUse
				if k.LastUsedDate != nil {
					used = &sandbox.LastUse{Date: k.LastUsedDate.Add(-d), Service: k.LastUsedService, Region: k.LastUsedRegion}
				}
				if err := sandbox.Backdate(ctx, sb.URL, a.ID, u.Name, k.AccessKeyID, k.CreateDate.Add(-d), used); err != nil {
					return fmt.Errorf("advance key %s of %s in %s: %w", k.AccessKeyID, u.Name, a.Name, err)
				}
			}
			var tags []iamtypes.Tag
			for key, value := range u.Tags {
				if seal == nil {
					break // no run signed a tag yet
				}
				opened, signed := seal.Open(a.ID, u.Name, key, value)
				if !signed {
					continue
				}
				if moved, ok := movedHistory(key, opened, d, days); ok && moved != opened {
					tags = append(tags, iamtypes.Tag{Key: aws.String(key), Value: aws.String(seal.Sign(a.ID, u.Name, key, moved))})
				}
			}
			if len(tags) == 0 {
				continue
			}
			if _, err := client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(u.Name), Tags: tags}); err != nil {
				return fmt.Errorf("advance the rotator's tags of %s in %s: %w", u.Name, a.Name, err)
			}
		}
	}
	if err := sb.advanceSecrets(ctx, d, days); err != nil {
		return err
	}
	if err := sb.advanceHolds(ctx, d, days); err != nil {
		return err
	}
	if sb.reportHoursAgo != nil {
		return sandbox.CacheCredentialReports(ctx, sb.URL, *sb.reportHoursAgo)
	}
	return nil
}

// advanceHolds moves back the operators' holds (pkg/hold) in every bucket that keeps them: a
// hold's last day by d's whole days, when it was placed or released by d.
func (sb *Sandbox) advanceHolds(ctx context.Context, d time.Duration, days int) error {
	buckets, err := sb.S3().ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return fmt.Errorf("advance the holds: list buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		store := hold.Store{S3: sb.S3(), Bucket: aws.ToString(b.Name)}
		book, etag, err := store.Read(ctx)
		if err != nil {
			return fmt.Errorf("advance the holds: %w", err)
		}
		if etag == nil {
			continue
		}
		if _, err := store.Update(ctx, func(b *hold.Book) {
			for i := range b.Holds {
				h := &b.Holds[i]
				if until, err := time.Parse(time.DateOnly, h.Until); err == nil {
					h.Until = until.AddDate(0, 0, -days).Format(time.DateOnly)
				}
				h.PlacedAt = h.PlacedAt.Add(-d)
				if h.ReleasedAt != nil {
					at := h.ReleasedAt.Add(-d)
					h.ReleasedAt = &at
				}
			}
		}); err != nil {
			return fmt.Errorf("advance the holds of %d users: %w", len(book.Holds), err)
		}
	}
	return nil
}

// tagSeal is the rotator's tag key on the stand-in (history.Seal), nil while no run has
// created it: the rotator's history tags are signed, and a moved value is signed again.
func (sb *Sandbox) tagSeal(ctx context.Context) (*history.Seal, error) {
	seal, err := history.LoadSeal(ctx, secretsmanager.NewFromConfig(sb.Config()), config.TagKeySecretName)
	var missing *smtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return nil, nil
	}
	return seal, err
}

// movedHistory is a rotator user tag's value d (days whole days) earlier; ok is false for a
// tag that is not the rotator's history or not in its format.
func movedHistory(key, value string, d time.Duration, days int) (string, bool) {
	switch key {
	case history.PendingTag:
		return movedStamp(value, d)
	case history.NoticesTag:
		sent := history.ParseNotices(value)
		if history.FormatNotices(sent) != value {
			return "", false
		}
		for i := range sent {
			if !sent[i].On.IsZero() {
				sent[i].On = sent[i].On.AddDate(0, 0, -days)
			}
		}
		return history.FormatNotices(sent), true
	case history.DeactivatedTag:
		inactive := history.ParseDeactivated(value)
		if history.FormatDeactivated(inactive) != value {
			return "", false
		}
		for id, in := range inactive {
			in.Since = in.Since.AddDate(0, 0, -days)
			inactive[id] = in
		}
		return history.FormatDeactivated(inactive), true
	}
	return "", false
}

// movedStamp moves the RFC 3339 time that starts a "TIME [run ID]" mark back by d.
func movedStamp(value string, d time.Duration) (string, bool) {
	stamp, rest, _ := strings.Cut(value, " ")
	t, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		return "", false
	}
	moved := t.Add(-d).UTC().Format(time.RFC3339)
	if rest != "" {
		moved += " " + rest
	}
	return moved, true
}

// advanceSecrets moves back the times and days the rotator recorded in the tags of the
// secrets of its account: a hand-off secret's sent mark (a tag value starting with an
// RFC 3339 time) by d, the old key's deactivation day (a YYYY-MM-DD value) by d's whole days.
func (sb *Sandbox) advanceSecrets(ctx context.Context, d time.Duration, days int) error {
	sm := secretsmanager.NewFromConfig(sb.Config())
	// Those scheduled for deletion too: NotifyUser schedules a secret once it sent its key, and
	// its sent mark must move like any other (moto tags such a secret; the end of its recovery
	// window stays, and moto deletes nothing at that end).
	pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("advance the secrets: list: %w", err)
		}
		for _, s := range page.SecretList {
			var tags []smtypes.Tag
			for _, t := range s.Tags {
				value := aws.ToString(t.Value)
				if moved, ok := movedStamp(value, d); ok {
					tags = append(tags, smtypes.Tag{Key: t.Key, Value: aws.String(moved)})
				} else if day, err := time.Parse(time.DateOnly, value); err == nil && days > 0 {
					tags = append(tags, smtypes.Tag{Key: t.Key, Value: aws.String(day.AddDate(0, 0, -days).Format(time.DateOnly))})
				}
			}
			if len(tags) == 0 {
				continue
			}
			if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: s.ARN, Tags: tags}); err != nil {
				return fmt.Errorf("advance the time marks of secret %s: %w", aws.ToString(s.Name), err)
			}
		}
	}
	return nil
}
