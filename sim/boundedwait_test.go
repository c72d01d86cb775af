package sim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

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
			s.checkBoundedWait(true)
			if got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"; got != tc.want || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.want)
			}
		})
	}
}
