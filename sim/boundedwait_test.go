package sim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// make faults on a696beb, seeds 37 (day 112) and 85 (day 117): an undelivered new key that
// someone deactivated while no run of the rotator completed in the account (its runs failed
// under faults for 12 and 10 days), first found Inactive by the day's fault-free re-run, past
// the bounded wait. The rotator gives the address up and deactivates the old key, but may not
// delete the new key on the day it first finds it Inactive (IAM does not say since when a key
// is Inactive, and no key is deleted on the day it was deactivated: DESIGN.md invariant 2):
// the next run deletes it with its hand-off secret. A key the rotator first recorded Inactive
// on an earlier day, and still waiting, is a violation.
func TestUndeliveredKeyFirstFoundInactiveTodayWaitsADayPastTheBoundedWait(t *testing.T) {
	for _, tc := range []struct {
		name       string
		recordedOn int // days before today the rotator recorded the key Inactive; -1: Active
		want       bool
	}{
		{"first found inactive today", 0, false},
		{"found inactive yesterday", 1, true},
		{"active", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, newID := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
			s.lastPlan = map[string]workflow.UserResult{}
			seal, err := history.NewSeal([]byte("the rotator's tag key of the checker's test"))
			must(err)
			s.seal, s.res.Faults = seal, map[string]int{}
			const acct = "100000000003"
			if tc.recordedOn >= 0 {
				must(s.w.SetKeyStatus(acct, newID, types.StatusTypeInactive))
				since := s.now.AddDate(0, 0, -tc.recordedOn)
				value := history.FormatDeactivated(map[string]history.Inactive{newID: {Since: since}})
				must(s.w.SetTag(acct, "ci", history.DeactivatedTag, seal.Sign(acct, "ci", history.DeactivatedTag, value)))
			}
			due := s.now.AddDate(0, 0, -11).Format(time.DateOnly)
			_, err = s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(config.DefaultHandoffSecretPrefix + acct + "/ci/" + newID), SecretString: aws.String("{}"),
				Tags: []smtypes.Tag{{Key: aws.String(handoff.UserTag), Value: aws.String("ci")}, {Key: aws.String(handoff.DeactivateOnTag), Value: aws.String(due)}}})
			must(err)
			s.check.delivery.boundedWait(true)
			if got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"; got != tc.want || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.want)
			}
		})
	}
}

// The 20-seed campaign on integrate dd6b17f, seed 1 day 24: NotifyUser's PutSecretValue of a
// new key answered 5xx past the SDK's retries, and the application team withdrew the secret's
// opt-in before the retry. The key may be in the secret the member role may no longer
// describe: it waits past the bounded wait (deleting it may take the key the application
// reads), until rule 2 deletes it unused; counted. A key whose write was recorded refused, or
// whose secret can be described, or idle for U days, waiting past the bounded wait is still a
// violation.
func TestKeyWhoseWriteMayBeInASecretTheRotatorCannotDescribeWaitsForRuleTwo(t *testing.T) {
	for _, tc := range []struct {
		name          string
		record        string // the hand-off secret's sent mark
		optIn         bool   // the application's secret carries its opt-in tag
		daysLater     int    // days past the campaign's today (the key made the day before)
		wantViolation bool
	}{
		{"writing, hidden", "writing", false, 0, false},
		{"writing, hidden, idle for U days", "writing", false, 90, true},
		{"refused, hidden", "refused", false, 0, true},
		{"writing, the secret can be described", "writing", true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, newID := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
			s.lastPlan, s.res.Faults = map[string]workflow.UserResult{}, map[string]int{}
			seal, err := history.NewSeal([]byte("the rotator's tag key of the checker's test"))
			must(err)
			s.seal = seal
			const acct = "100000000003"
			if tc.optIn {
				must(s.w.SetAppSecretTag(acct, "app/ci", config.AppSecretOptInTag, "ci"))
			}
			s.now = s.now.AddDate(0, 0, tc.daysLater)
			due := s.now.AddDate(0, 0, -11).Format(time.DateOnly)
			_, err = s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(config.DefaultHandoffSecretPrefix + acct + "/ci/" + newID), SecretString: aws.String("{}"),
				Tags: []smtypes.Tag{{Key: aws.String(handoff.UserTag), Value: aws.String("ci")}, {Key: aws.String(handoff.DeactivateOnTag), Value: aws.String(due)},
					{Key: aws.String(config.HandoffSentTag), Value: aws.String(s.now.AddDate(0, 0, -10).Format(time.RFC3339) + " run-1 " + tc.record)}}})
			must(err)
			s.check.delivery.boundedWait(true)
			got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"
			if got != tc.wantViolation || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.wantViolation)
			}
			if counted := s.res.Faults["delivery-waits-for-a-write-to-a-secret-the-rotator-cannot-describe"] == 1; counted == tc.wantViolation {
				t.Errorf("counted %v, want %v", counted, !tc.wantViolation)
			}
		})
	}
}

// Campaign seed 103 at 82ef4ee, day 20: NotifyUser wrote a new key to a GitHub
// environment's secrets, the key ID's PUT losing its response (its 'writing' record stays),
// and the environment's variable was removed before the next attempt. Both secrets were
// written since the key was made, which the rotator's lost write explains as well as the
// application's own, and nobody can read a GitHub secret back: the key waits past the
// bounded wait, until its use confirms it or rule 2 deletes it unused; counted. A key whose
// store still opts in (a write would come and be recorded), or whose secrets were not written
// since, or whose write was recorded refused, or idle for U days, waiting past the bounded
// wait is still a violation.
func TestKeyWhoseWriteMayBeInAGitHubStoreThatOptsInNoMoreWaitsForRuleTwo(t *testing.T) {
	for _, tc := range []struct {
		name          string
		record        string // the hand-off secret's sent mark
		optIn         bool   // the environment's variable still names the user
		written       bool   // both secrets written since the key was made
		daysLater     int    // days past the campaign's today (the key made the day before)
		wantViolation bool
	}{
		{"writing, written, opts in no more", "writing", false, true, 0, false},
		{"writing, written, opts in no more, idle for U days", "writing", false, true, 90, true},
		{"writing, written, still opts in", "writing", true, true, 0, true},
		{"writing, not written", "writing", false, false, 0, true},
		{"refused, written, opts in no more", "refused", false, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, newID := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
			s.lastPlan, s.res.Faults = map[string]workflow.UserResult{}, map[string]int{}
			seal, err := history.NewSeal([]byte("the rotator's tag key of the checker's test"))
			must(err)
			s.seal = seal
			s.settings.AllowedGitHubOwners = []string{"example-org"}
			const acct = "100000000003"
			o := s.owners[acct+"/ci"]
			o.app = appsecret.GitHubScheme + "example-org/app-ci/environments/production"
			gh := s.w.GitHub()
			gh.AddRepo("example-org", "app-ci", "production")
			gh.Install(4711, "example-org")
			if tc.optIn {
				must(gh.SetVariable("example-org", "app-ci", "production", appsecret.GitHubOptInVariable, acct+"/ci"))
			}
			s.now = s.now.AddDate(0, 0, tc.daysLater)
			due := s.now.AddDate(0, 0, -11).Format(time.DateOnly)
			_, err = s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(config.DefaultHandoffSecretPrefix + acct + "/ci/" + newID), SecretString: aws.String("{}"),
				Tags: []smtypes.Tag{{Key: aws.String(handoff.UserTag), Value: aws.String("ci")}, {Key: aws.String(handoff.DeactivateOnTag), Value: aws.String(due)},
					{Key: aws.String(config.HandoffSentTag), Value: aws.String(s.now.AddDate(0, 0, -10).Format(time.RFC3339) + " run-1 " + tc.record)}}})
			must(err)
			if tc.written {
				must(gh.WriteSecret("example-org", "app-ci", "production", appsecret.GitHubNames[1], s.secretOf[newID]))
				must(gh.WriteSecret("example-org", "app-ci", "production", appsecret.GitHubNames[0], newID))
			}
			s.check.delivery.boundedWait(true)
			got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"
			if got != tc.wantViolation || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.wantViolation)
			}
			if counted := s.res.Faults["delivery-waits-for-a-write-to-a-secret-the-rotator-cannot-describe"] == 1; counted == tc.wantViolation {
				t.Errorf("counted %v, want %v", counted, !tc.wantViolation)
			}
		})
	}
}

// Campaign seed 134 on main db9fd29, day 21: a key sent while SES did not suppress bounces
// may have reached its owner (user053 received it on day 1), and its resend that bounced
// (day 14) says nothing of that send. Past the bounded wait the rotator gives the address up
// and keeps the key, stored, until it is used or rule 2 deletes it unused; counted. Kept while
// the address is not given up, or without a send that could not be watched, or used, or idle
// for U days, it is still a violation.
func TestKeySentWhileBouncesWereUnsuppressedWaitsOnlyWhileItsAddressIsGivenUp(t *testing.T) {
	for _, tc := range []struct {
		name          string
		unwatched     bool // the hand-off secret names a run that could not see bounces
		givenUp       bool // the rotator's signed undeliverable tag names the owner's address
		used          bool
		daysLater     int // days past the campaign's today (the key made the day before)
		wantViolation bool
	}{
		{"sent unwatched, address given up", true, true, false, 0, false},
		{"sent unwatched, address not given up", true, false, false, 0, true},
		{"every send watched, address given up", false, true, false, 0, true},
		{"sent unwatched, address given up, key used", true, true, true, 0, true},
		{"sent unwatched, address given up, idle for U days", true, true, false, 90, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, newID := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
			s.lastPlan, s.res.Faults = map[string]workflow.UserResult{}, map[string]int{}
			s.day, s.bouncesOffLast = 50, -100 // bounces are suppressed, and were for long
			seal, err := history.NewSeal([]byte("the rotator's tag key of the checker's test"))
			must(err)
			s.seal = seal
			const acct = "100000000003"
			o := s.owners[acct+"/ci"]
			o.app = "" // the key goes by email
			must(s.w.RemoveTag(acct, "ci", appsecret.DeliveryTag))
			if tc.givenUp {
				must(s.w.SetTag(acct, "ci", history.UndeliverableTag, seal.Sign(acct, "ci", history.UndeliverableTag, "ci@"+domain)))
			}
			s.now = s.now.AddDate(0, 0, tc.daysLater)
			if tc.used {
				must(s.w.UseKey(acct, newID, s.now.Add(-time.Hour), "s3", "us-east-1"))
			}
			due := s.now.AddDate(0, 0, -11).Format(time.DateOnly)
			tags := []smtypes.Tag{{Key: aws.String(handoff.UserTag), Value: aws.String("ci")}, {Key: aws.String(handoff.DeactivateOnTag), Value: aws.String(due)},
				{Key: aws.String(config.HandoffSentTag), Value: aws.String(s.now.AddDate(0, 0, -1).Format(time.RFC3339) + " run-49 ci@" + domain)}}
			if tc.unwatched {
				tags = append(tags, smtypes.Tag{Key: aws.String(handoff.UnwatchedRunTag), Value: aws.String("run-1")})
			}
			_, err = s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(config.DefaultHandoffSecretPrefix + acct + "/ci/" + newID), SecretString: aws.String("{}"), Tags: tags})
			must(err)
			s.check.delivery.boundedWait(true)
			got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"
			if got != tc.wantViolation || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.wantViolation)
			}
			if counted := s.res.Faults["undelivered-key-kept-past-the-wait-after-an-unwatched-send"] == 1; counted == tc.wantViolation {
				t.Errorf("counted %v, want %v", counted, !tc.wantViolation)
			}
		})
	}
}
