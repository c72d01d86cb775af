package sim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// A key is deactivated on the day its owner was told, not silently later (DESIGN.md
// invariant 8), for machine users whose application reads its key from a secret (found by
// campaign seeds 37, 63, 108, 123 and 151 of `make faults` on main 5e6f548).

// keepsTheDayTold runs days of user until its key goes, before each run calling before (nil:
// nothing) with the day and the date the owner's last delivered email gives for key ("" when
// none), and fails when key is deactivated before that date, or is still Active after a run on
// or after it (sim/checktold.go's rule).
func keepsTheDayTold(h *scenario.Harness, user, key string, days int, before func(day int, told string)) {
	h.T.Helper()
	for day := 0; day <= days; day++ {
		today := h.Now.Format("2006-01-02")
		told := toldDates(h.W.Delivered(user + "@" + domain))[key]
		if before != nil {
			before(day, told)
		}
		h.Day()
		told = toldDates(h.W.Delivered(user + "@" + domain))[key]
		switch status := h.Keys(user)[key]; {
		case told == "":
		case status == types.StatusTypeInactive && today < told:
			h.T.Fatalf("day %d (%s): %s was deactivated, its owner was told %s (emails %q)", day, today, key, told, h.Subjects(user))
		case status == types.StatusTypeActive && today >= told:
			h.T.Fatalf("day %d (%s): %s is still active after the day run, its owner was last told %s (emails %q, bounced %d)",
				day, today, key, told, h.Subjects(user), len(h.W.Bounced(user+"@"+domain)))
		case status == types.StatusTypeInactive:
			return
		}
	}
	h.T.Fatalf("%s was never deactivated (emails %q)", key, h.Subjects(user))
}

// The owner made the second key themselves, and the application's secret still holds the
// first (its IaC's value): the rotator keeps the first active until N days past its date
// (the secret's current value is not its successor), so its warning must name that day and
// why, not the rules' date, which it will not keep. On main the warning named the rules'
// date, and the notice that moved it came on that day itself: an owner whose mailbox is gone
// by then was left believing a day the rotator did not keep (seeds 37, 63, 108, 123).
func TestOwnerOfAMachineUserIsWarnedOfTheDayTheSecretLetsTheKeyGo(t *testing.T) {
	h := scenario.New(t)
	ids := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 80, 5)
	keepsTheDayTold(h, "ci", ids[0], 35, func(_ int, told string) {
		if told == h.Now.Format("2006-01-02") {
			h.W.SetBounce("ci@"+domain, true) // the owner's mailbox is gone on the day told
		}
	})
}

// The new key's write is refused (the secret's KMS key), so the owner is told (DeliveryFailed)
// that the old key goes on the bounded wait's day unless that is fixed; it is fixed, the new
// key delivered, and the rotator then announces the old key's deactivation: on the day the
// failure notice gave, which it keeps, not on the rules' earlier date (seed 151: the
// announcement named the earlier date, which the failure notice's day then overrode).
func TestAnnouncementAfterAFixedDeliveryNamesTheDayTheFailureNoticeGave(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = scenario.DeniedWrites{API: h.W.SecretsIn(scenario.Account), Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	keepsTheDayTold(h, "ci", old, 35, func(day int, _ string) {
		switch day {
		case 8:
			h.AppSecrets = nil // the application team fixes the key policy
			h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "SendEmail" {
					return awsmodel.ServerError // SES fails the new key's email, after its write
				}
				return awsmodel.None
			}
		case 9:
			h.W.Inject = nil
		}
	})
	if n := h.ToldOfFailure("ci"); n != 1 {
		t.Errorf("the owner was told of the failure %d times (%q), want once", n, h.Subjects("ci"))
	}
}

// The application's IaC writes the secret again with the key it holds, the rotator's new key,
// as a new version of its own (World.AppRewritesSecret): the application reads the new key,
// as the keys' use shows (the new key used since, the old one not), so the old key goes on
// the day its owner was told. On main the rotator took any other current version for a
// secret written over and kept the old key N more days, with a notice sent on the day told
// itself, which bounced: the owner's mailbox had gone since the new key's email (seeds 190,
// day 59, and 15 of the 20-seed campaign).
func TestSecretWrittenAgainWithTheNewKeyKeepsTheOldKeysDay(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	keepsTheDayTold(h, "ci", old, 35, func(day int, _ string) {
		must(h.W.UseKey(scenario.Account, h.AppReads("ci"), h.Now.Add(-time.Hour), "s3", "us-east-1")) // the application, every day
		switch day {
		case 5:
			h.W.SetBounce("ci@"+domain, true) // the owner's mailbox is gone
		case 8:
			s, _ := h.W.SecretIn(scenario.Account, "app/ci")
			must(h.W.WriteAppSecret(scenario.Account, "app/ci", s.Value)) // the same key, a new version
		}
	})
}

// The application reverts its secret to the old key on the eve of its day: the new key was
// used that morning, before the revert, and the old key not yet; the day after, the
// application uses the old key again. The old key stays active past its day (the owner is
// told why, and the day it goes): the keys' use counts only from the day after the change
// (IAM records a use some time after it, here after the revert).
func TestSecretRevertedTheDayBeforeKeepsTheOldKeyActive(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	for day := 0; day <= 12; day++ {
		reads := h.AppReads("ci")
		if day == 9 {
			must(h.W.WriteAppSecret(scenario.Account, "app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`))
		}
		// IAM records the use of the key the application read before the revert after it
		must(h.W.UseKey(scenario.Account, reads, h.Now, "s3", "us-east-1"))
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("day %d: the old key %s, which the application reads again, was deactivated (emails %q)", day, old, h.Subjects("ci"))
		}
	}
	if h.ToldOfFailure("ci") != 1 {
		t.Errorf("the owner was told %d times (%q), want once", h.ToldOfFailure("ci"), h.Subjects("ci"))
	}
}
