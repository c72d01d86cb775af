package sim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// checkerWith makes a simulation's checker over one machine user whose application secret
// app/ci holds appKeyID (secret part appSecret) and no longer opts in, and a new key the
// rotator made for it, whose hand-off secret is gone and whose user has no pending mark.
func checkerWith(t *testing.T, value func(oldID, oldSecret, newID, newSecret string) (string, string)) (*sim, string) {
	t.Helper()
	now := time.Date(2026, 1, 3, 13, 0, 0, 0, time.UTC)
	s := &sim{owners: map[string]*owner{}, rotatorKeys: map[string]string{}, trace: map[string][]string{}, reported: map[string]bool{},
		keyOwner: map[string]*owner{}, secretOf: map[string]string{}, writtenTo: map[string]bool{}, now: now}
	s.w = awsmodel.New(func() time.Time { return now }, 1)
	s.check = newCheckers(s)
	s.policy = policy.Config{AllowedEmailDomains: []string{domain}}.WithDefaults()
	const acct = "100000000003"
	must(s.w.CreateUser(acct, "ci", map[string]string{"EmailID": "ci@" + domain, appsecret.DeliveryTag: appsecret.Scheme + "app/ci"}))
	oldID, oldSecret, err := s.w.AddKey(acct, "ci", now.AddDate(0, 0, -85), types.StatusTypeActive)
	must(err)
	newID, newSecret, err := s.w.AddKey(acct, "ci", now.AddDate(0, 0, -1), types.StatusTypeActive)
	must(err)
	o := &owner{account: acct, user: "ci", app: "app/ci", held: map[string]bool{oldID: true}}
	s.owners[acct+"/ci"] = o
	s.rotatorKeys[newID], s.keyOwner[newID], s.secretOf[newID], s.secretOf[oldID] = oldID, o, newSecret, oldSecret
	id, secret := value(oldID, oldSecret, newID, newSecret)
	// The application team took the opt-in away (nil tags) after the rotator wrote there.
	must(s.w.CreateAppSecret(acct, "app/ci", appValue(id, secret), nil))
	return s, newID
}

// make faults, seeds 109 and 64: a PutSecretValue took effect but its response was lost, the
// opt-in was withdrawn before the retry, and a later run found the key in the secret and
// deleted its hand-off secret. The key is delivered: the application reads it from its
// secret, whatever the secret's tags say now.
func TestKeyFoundInItsApplicationSecretIsDelivered(t *testing.T) {
	s, newID := checkerWith(t, func(_, _, newID, newSecret string) (string, string) { return newID, newSecret })
	s.check.delivery.appSecrets()
	s.check.delivery.accounted()
	if len(s.res.Violations) != 0 {
		t.Errorf("a key its application reads from its secret counted as lost: %v", s.res.Violations)
	}
	if !s.owners["100000000003/ci"].held[newID] {
		t.Error("the key in the application's secret is not held")
	}
}

// The control: the same new key, but the secret still holds the old key: it is lost.
func TestKeyNeitherInItsSecretNorStoredIsLost(t *testing.T) {
	s, _ := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
	s.check.delivery.appSecrets()
	s.check.delivery.accounted()
	if len(s.res.Violations) != 1 || s.res.Violations[0].Invariant != "a created key is never lost" {
		t.Errorf("violations %v, want the new key lost", s.res.Violations)
	}
}

// The bounded wait (DESIGN.md invariant 1): a new key still waiting in its hand-off secret
// after a fault-free re-run more than the notice period and a day past its old key's date
// is a violation (as when a withdrawn opt-in made the user fail every run); within the wait, after
// a day with faults, or for an exempt user (no writes at all), it is not.
func TestUndeliveredKeyPastTheBoundedWaitIsAViolation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		daysPastDue  int
		clean        bool
		exempt, want bool
	}{
		{"past the wait", 12, true, false, true},
		{"on the wait's last day", 10, true, false, false},
		{"past the wait, a day with faults", 12, false, false, false},
		{"past the wait, exempt", 12, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, newID := checkerWith(t, func(oldID, oldSecret, _, _ string) (string, string) { return oldID, oldSecret })
			s.lastPlan = map[string]workflow.UserResult{}
			if tc.exempt {
				must(s.w.SetTag("100000000003", "ci", "Exempt", "true"))
			}
			due := s.now.AddDate(0, 0, -tc.daysPastDue).Format(time.DateOnly)
			_, err := s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
				Name: aws.String(config.DefaultHandoffSecretPrefix + "100000000003/ci/" + newID), SecretString: aws.String("{}"),
				Tags: []smtypes.Tag{{Key: aws.String(handoff.UserTag), Value: aws.String("ci")}, {Key: aws.String(handoff.DeactivateOnTag), Value: aws.String(due)}}})
			must(err)
			s.check.delivery.boundedWait(tc.clean)
			if got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "the wait for a new key's delivery is bounded"; got != tc.want || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the bounded wait's: %v", s.res.Violations, tc.want)
			}
		})
	}
}

// An early deletion (before the day told, to make a slot) is judged by the next day the
// rotator runs: a missed day (no execution) is no run that failed to create the key (campaign
// seed 16, day 50, after e7cf73c: the deletion's response was lost on day 49, day 50 was
// missed, day 51 made the key). A day it ran without creating one is a violation.
func TestEarlyDeletionIsJudgedByTheNextDayTheRotatorRuns(t *testing.T) {
	now := time.Date(2026, 2, 20, 13, 0, 0, 0, time.UTC)
	s := &sim{reported: map[string]bool{}, owners: map[string]*owner{"100000000000/user037": {account: "100000000000", user: "user037"}}}
	s.w = awsmodel.New(func() time.Time { return now }, 1)
	s.check = newCheckers(s)
	s.check.told.days.earlyDelete["100000000000/user037"] = earlyDelete{day: 49, detail: "user037's key deleted early"}
	s.check.told.days.ranOn, s.day = 49, 50 // day 50 missed
	s.check.told.afterDay(false)
	if len(s.res.Violations) != 0 {
		t.Fatalf("violations after a missed day: %v, want none yet", s.res.Violations)
	}
	s.check.told.days.ranOn, s.day = 51, 51 // day 51 ran, and created no key
	s.check.told.afterDay(false)
	if len(s.res.Violations) != 1 || s.res.Violations[0].Invariant != "a key is deleted on the day its owner was told, not before" {
		t.Errorf("violations %v, want the early deletion once the rotator ran and made no key", s.res.Violations)
	}
}

// A key still Active past the day its owner was told, after a fault-free run, while the
// owner's address is on SES's suppression list (nothing the rotator sends reaches it) is
// allowed, counted, only while the rotator's result gives the key a later day and says why,
// and it is held to the first such day (campaign seeds 35 and 133 on db9fd29); without the
// report, or with the address off the list, or past that day, it is a violation.
func TestKeyKeptPastItsDayIsHeldToTheDayReportedWhileTheAddressIsSuppressed(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		suppressed, reported bool
		daysOn               int // days after the first check
		want                 bool
	}{
		{"reported, address suppressed", true, true, 0, false},
		{"reported, address suppressed, on the day reported", true, true, 6, true},
		{"not reported", true, false, 0, true},
		{"reported, address not suppressed", false, true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 4, 1, 13, 40, 0, 0, time.UTC)
			const acct, addr = "100000000003", "lena@" + domain
			seal, err := history.NewSeal([]byte("the rotator's tag key of this test"))
			must(err)
			s := &sim{reported: map[string]bool{}, owners: map[string]*owner{}, lastPlan: map[string]workflow.UserResult{},
				res: Result{Faults: map[string]int{}}, seal: seal, now: now, day: 90}
			s.w = awsmodel.New(func() time.Time { return s.now }, 1)
			s.check = newCheckers(s)
			s.policy = policy.Config{AllowedEmailDomains: []string{domain}}.WithDefaults()
			must(s.w.CreateUser(acct, "lena", map[string]string{"EmailID": addr}))
			id, _, err := s.w.AddKey(acct, "lena", now.AddDate(0, 0, -94), types.StatusTypeActive)
			must(err)
			_, _, err = s.w.AddKey(acct, "lena", now.AddDate(0, 0, -20), types.StatusTypeActive)
			must(err)
			s.owners[acct+"/lena"] = &owner{account: acct, user: "lena", actedOn: -1, noticesForgedOn: -1}
			s.check.told.days.deactivation[id], s.check.told.days.heardOn[id] = "2026-03-28", 76
			if tc.suppressed {
				s.w.Suppress(addr)
			}
			r := workflow.UserResult{UserName: "lena", Keys: []policy.KeyUsage{{Usage: policy.Usage{AccessKeyID: id}, Status: policy.Active, DeactivateOn: "2026-04-07"}}}
			if tc.reported {
				r.Reason = "key " + id + " stays active past 2026-03-28, the day its owner was told, as no warning counts (…); it is deactivated on 2026-04-07"
			}
			s.lastPlan[acct+"/lena"] = r
			s.check.told.afterDay(true)
			if tc.daysOn > 0 {
				s.now, s.day = s.now.AddDate(0, 0, tc.daysOn), s.day+tc.daysOn
				r.Keys[0].DeactivateOn = "2026-04-09" // a later day reported does not move the first
				s.lastPlan[acct+"/lena"] = r
				s.res.Violations = nil
				s.check.told.afterDay(true)
			}
			got := len(s.res.Violations) == 1 && s.res.Violations[0].Invariant == "a key is deactivated on the day its owner was told, not silently later"
			if got != tc.want || len(s.res.Violations) > 1 {
				t.Errorf("violations %v, want the silently-later one: %v", s.res.Violations, tc.want)
			}
			if counted := s.res.Faults["later-than-told-while-the-address-is-suppressed"] > 0; counted != (tc.suppressed && tc.reported) {
				t.Errorf("counted allowance: %v, want %v", counted, tc.suppressed && tc.reported)
			}
		})
	}
}

// make faults -rare, seed 10: the rotator's first successor of a key, written to the
// application's secret, was deleted (the secret deleted and restored around it), and a second
// successor written there since. The key is deactivated while the secret holds the second:
// the successor deleted before is no successor any more.
func TestDeactivationWhileTheStoreHoldsTheLatestSuccessorIsNoViolation(t *testing.T) {
	s, newID := checkerWith(t, func(_, _, newID, newSecret string) (string, string) { return newID, newSecret })
	oldID := s.rotatorKeys[newID]
	const deleted = "AKIAFIRSTSUCCESSOR01"
	s.rotatorKeys[deleted], s.writtenTo[deleted], s.writtenTo[newID] = oldID, true, true
	s.check.told.before(awsmodel.Call{Service: "iam", Operation: "UpdateAccessKey", Account: "100000000003",
		Input: &iam.UpdateAccessKeyInput{UserName: aws.String("ci"), AccessKeyId: aws.String(oldID), Status: types.StatusTypeInactive}},
		s.owners["100000000003/ci"], s.w.Keys("100000000003", "ci")[0], s.w.Keys("100000000003", "ci"), s.tags(s.owners["100000000003/ci"]))
	for _, v := range s.res.Violations {
		if v.Invariant == "a key delivered to a store is deactivated only while the store's current value is its successor" {
			t.Errorf("the deleted first successor counted: %v", v)
		}
	}
}
