package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// The delivery of machine users' keys to their application's secret (issue 12, item 2).

func TestKeyGoesToTheSecretAndTheOldKeyIsDeactivatedOnItsDay(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got := h.AppReads("ci")
	if got == old || h.Keys("ci")[got] != types.StatusTypeActive {
		t.Fatalf("after the run the application reads %s, want the new active key (keys %v)", got, h.Keys("ci"))
	}
	subjects := h.Subjects("ci")
	if len(subjects) != 1 || !strings.Contains(subjects[0], "is in secret app/ci") || len(h.Received("ci")) != 0 {
		t.Errorf("the owner got %q, want one notice naming the secret and no zip", subjects)
	}
	for day := 1; day < 10; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("the old key %s was deactivated on day %d, before its date 10 days after the new key", old, day)
		}
	}
	h.Day()
	if h.Keys("ci")[old] != types.StatusTypeInactive || h.Keys("ci")[got] != types.StatusTypeActive || h.AppReads("ci") != got {
		t.Errorf("on its day the old key must be inactive and the application's key active: keys %v, application reads %s", h.Keys("ci"), h.AppReads("ci"))
	}
}

// A refused secret: the user gets no new key, the result says why, and its owner, whose
// email is usable, is told why (DeliveryFailed, DESIGN.md invariant 9), also when the
// refusal is AWS denying the member role (AccessDenied).
func TestSecretWithoutOptInIsRefusedBeforeAnyKeyIsMade(t *testing.T) {
	for _, tc := range []struct {
		name   string
		optIn  map[string]string
		onAWS  bool   // the member role's tag condition denies what it does not allow
		reason string // in the result's EmailProblem
	}{
		{"no tag", nil, false, "it lacks the tag key-rotator:user=ci"},
		{"another user's secret", map[string]string{appsecret.OptInTag: "deployer"}, false, `its tag key-rotator:user names "deployer"`},
		{"no tag, denied by the member role", nil, true, "it lacks the tag key-rotator:user=ci, or does not exist, or its resource policy denies the rotator's member role: the member role is denied access to it (AccessDeniedException)"},
		{"another user's secret, seen by the member role", map[string]string{appsecret.OptInTag: "deployer"}, true, `its tag key-rotator:user names "deployer"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			if tc.onAWS {
				h.AppSecrets = h.W.MemberSecretsIn(scenario.Account) // its grant needs the tag key: AccessDenied
			}
			old := h.MachineUser("ci", tc.optIn, 85)[0]
			creates := 0
			h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "CreateAccessKey" || c.Operation == "PutSecretValue" {
					creates++
				}
				return awsmodel.None
			}
			res, notes := h.ScanWith(t.Context())
			h.Notify(notes)
			if creates != 0 || len(h.Keys("ci")) != 1 || h.AppReads("ci") != old {
				t.Fatalf("%d CreateAccessKey/PutSecretValue calls, keys %v, application reads %s: want nothing created", creates, h.Keys("ci"), h.AppReads("ci"))
			}
			if len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, "secret app/ci refuses the keys of ci: "+tc.reason) {
				t.Errorf("the result must report the refusal: %+v", res.Users)
			}
			if len(notes) != 1 || len(notes[0].Notices) != 1 || notes[0].Notices[0].Kind != policy.DeliveryFailed ||
				!strings.Contains(notes[0].Notices[0].Message, tc.reason) || h.ToldOfFailure("ci") != 1 {
				t.Errorf("notifications %+v, owner's emails %q: want one notice of the failed delivery, with its reason", notes, h.Subjects("ci"))
			}
		})
	}
}

// A lost PutSecretValue response, a NotifyUser retried after it succeeded, and SES down for
// the owner's notices: the secret gets one new key, which counts as delivered once written
// (its deletion after the bounded wait would break the application), and the old key waits
// for a warning that reached the owner, or for the bounded wait's end (N days past its date).
func TestSecretDeliveryUnderFaults(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	puts := 0
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		switch c.Operation {
		case "PutSecretValue":
			if puts++; puts == 1 {
				return awsmodel.LostResponse
			}
		case "SendEmail":
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	notes := h.Scan()
	for range 3 { // NotifyUser, retried by the state machine
		h.Notify(notes)
	}
	got := h.AppReads("ci")
	if got == old {
		t.Fatal("the key was not written to the secret")
	}
	for day := 1; day <= 25; day++ {
		h.Day()
		keys := h.Keys("ci")
		switch {
		case h.AppReads("ci") != got:
			t.Fatalf("day %d: the application's key changed from %s to %s: a second new key was written", day, got, h.AppReads("ci"))
		case keys[got] != types.StatusTypeActive:
			t.Fatalf("day %d: the key the application reads is gone or inactive: %v", day, keys)
		case day < 20 && keys[old] != types.StatusTypeActive:
			t.Fatalf("day %d: the old key was deactivated before the owner was warned or the bounded wait ended: %v", day, keys)
		}
	}
	if strings.Contains(h.Logs.String(), "original") {
		t.Error("a secret value reached the logs")
	}
}
