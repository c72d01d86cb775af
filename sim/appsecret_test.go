package sim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// The delivery of machine users' keys to their application's secret (issue 12, item 2).

// machineUser makes a user whose KeyDelivery tag names the secret app/<name>, and that
// secret, holding the user's first key and tagged with optIn (nil: none); it returns the keys.
func (h *harness) machineUser(name string, optIn map[string]string, ages ...int) []string {
	h.t.Helper()
	ids := h.user(name, map[string]string{appsecret.DeliveryTag: appsecret.Scheme + "app/" + name}, ages...)
	must(h.w.CreateAppSecret(testAccount, "app/"+name, `{"AccessKeyId":"`+ids[0]+`","SecretAccessKey":"original"}`, optIn))
	return ids
}

// appReads is what the application reads from its secret: the key ID of the current value.
func (h *harness) appReads(name string) string {
	h.t.Helper()
	s, ok := h.w.SecretIn(testAccount, "app/"+name)
	var v appKey
	if err := json.Unmarshal([]byte(s.Value), &v); !ok || err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		h.t.Fatalf("secret app/%s (found: %v) does not hold the key JSON", name, ok)
	}
	return v.AccessKeyID
}

// subjects lists the subjects of the emails that reached user.
func (h *harness) subjects(user string) []string {
	var out []string
	for _, m := range h.w.Delivered(user + "@" + domain) {
		if parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw)); err == nil {
			subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
			out = append(out, subject)
		}
	}
	return out
}

func TestKeyGoesToTheSecretAndTheOldKeyIsDeactivatedOnItsDay(t *testing.T) {
	h := newHarness(t)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.day()
	got := h.appReads("ci")
	if got == old || h.keys("ci")[got] != types.StatusTypeActive {
		t.Fatalf("after the run the application reads %s, want the new active key (keys %v)", got, h.keys("ci"))
	}
	subjects := h.subjects("ci")
	if len(subjects) != 1 || !strings.Contains(subjects[0], "is in secret app/ci") || len(h.received("ci")) != 0 {
		t.Errorf("the owner got %q, want one notice naming the secret and no zip", subjects)
	}
	for day := 1; day < 10; day++ {
		h.day()
		if h.keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("the old key %s was deactivated on day %d, before its date 10 days after the new key", old, day)
		}
	}
	h.day()
	if h.keys("ci")[old] != types.StatusTypeInactive || h.keys("ci")[got] != types.StatusTypeActive || h.appReads("ci") != got {
		t.Errorf("on its day the old key must be inactive and the application's key active: keys %v, application reads %s", h.keys("ci"), h.appReads("ci"))
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
			h := newHarness(t)
			if tc.onAWS {
				h.appSecrets = h.w.MemberSecretsIn(testAccount) // its grant needs the tag key: AccessDenied
			}
			old := h.machineUser("ci", tc.optIn, 85)[0]
			creates := 0
			h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "CreateAccessKey" || c.Operation == "PutSecretValue" {
					creates++
				}
				return awsmodel.None
			}
			res, notes := h.scanWith(t.Context())
			h.notify(notes)
			if creates != 0 || len(h.keys("ci")) != 1 || h.appReads("ci") != old {
				t.Fatalf("%d CreateAccessKey/PutSecretValue calls, keys %v, application reads %s: want nothing created", creates, h.keys("ci"), h.appReads("ci"))
			}
			if len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, "secret app/ci refuses the keys of ci: "+tc.reason) {
				t.Errorf("the result must report the refusal: %+v", res.Users)
			}
			if len(notes) != 1 || len(notes[0].Notices) != 1 || notes[0].Notices[0].Kind != policy.DeliveryFailed ||
				!strings.Contains(notes[0].Notices[0].Message, tc.reason) || h.toldOfFailure("ci") != 1 {
				t.Errorf("notifications %+v, owner's emails %q: want one notice of the failed delivery, with its reason", notes, h.subjects("ci"))
			}
		})
	}
}

// A lost PutSecretValue response, a NotifyUser retried after it succeeded, and SES down for
// the owner's notices: the secret gets one new key, which counts as delivered once written
// (its deletion after the bounded wait would break the application), and the old key waits
// for a warning that reached the owner, or for the bounded wait's end (N days past its date).
func TestSecretDeliveryUnderFaults(t *testing.T) {
	h := newHarness(t)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	puts := 0
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
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
	notes := h.scan()
	for range 3 { // NotifyUser, retried by the state machine
		h.notify(notes)
	}
	got := h.appReads("ci")
	if got == old {
		t.Fatal("the key was not written to the secret")
	}
	for day := 1; day <= 25; day++ {
		h.day()
		keys := h.keys("ci")
		switch {
		case h.appReads("ci") != got:
			t.Fatalf("day %d: the application's key changed from %s to %s: a second new key was written", day, got, h.appReads("ci"))
		case keys[got] != types.StatusTypeActive:
			t.Fatalf("day %d: the key the application reads is gone or inactive: %v", day, keys)
		case day < 20 && keys[old] != types.StatusTypeActive:
			t.Fatalf("day %d: the old key was deactivated before the owner was warned or the bounded wait ended: %v", day, keys)
		}
	}
	if strings.Contains(h.logs.String(), "original") {
		t.Error("a secret value reached the logs")
	}
}

// TestUsedKeyWrittenToTheAppSecretIsNotDeletedAsUndeliverable: a new key written to the
// application's secret and used reached its application, whatever the secret holds since
// (the application deleted its secret): the end of the bounded wait does not
// delete it as undelivered (campaign seed 1, day 21: "no active key in use is deleted").
func TestUsedKeyWrittenToTheAppSecretIsNotDeletedAsUndeliverable(t *testing.T) {
	h := newHarness(t)
	old := h.machineUser("uma", map[string]string{appsecret.OptInTag: "uma"}, 85)[0]
	h.day()
	fresh := h.appReads("uma")
	if fresh == old {
		t.Fatalf("day 0 must write a new key to app/uma")
	}
	must(h.w.UseKey(testAccount, fresh, h.now.Add(-time.Hour), "s3", "us-east-1"))
	must(h.w.DeleteAppSecret(testAccount, "app/uma", 7))
	for range 30 {
		h.day()
	}
	if _, ok := h.keys("uma")[fresh]; !ok {
		t.Errorf("the new key %s, used by the application, was deleted as undeliverable (keys %v)", fresh, h.keys("uma"))
	}
}
