package rotate_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the delivery of machine users' keys to an SSM SecureString parameter
// (KeyDelivery = ssm:<parameter name>, pkg/appsecret ssm.go), the same delivery as to a
// secret, on the AWS model through the member roles' tag-conditioned grants.

func TestKeyGoesToTheParameterAndTheOldKeyIsDeactivatedOnItsDay(t *testing.T) {
	h := scenario.New(t)
	old := h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got := h.ParamReads("ci")
	if got == old || h.Keys("ci")[got] != types.StatusTypeActive {
		t.Fatalf("after the run the application reads %s, want the new active key (keys %v)", got, h.Keys("ci"))
	}
	if p, _ := h.W.AppParameter(scenario.Account, "/app/ci"); p.Type != "SecureString" || p.Version != 2 || p.Tags[appsecret.OptInTag] != "ci" {
		t.Errorf("parameter after the write: %+v, want a SecureString's version 2, its tag kept", p)
	}
	subjects := h.Subjects("ci")
	if len(subjects) != 1 || !strings.Contains(subjects[0], "is in SSM parameter /app/ci") || len(h.Received("ci")) != 0 {
		t.Errorf("the owner got %q, want one notice naming the parameter and no zip", subjects)
	}
	if len(h.HandoffSecrets("ci")) == 0 {
		t.Error("the hand-off secret is gone on the day of the write: its delivery is confirmed only by a later run")
	}
	h.Day()
	if n := len(h.HandoffSecrets("ci")); n != 0 {
		t.Errorf("the next day %d hand-off secrets remain: the parameter's current version holds the key, its delivery is confirmed", n)
	}
	for day := 2; day < 10; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("the old key %s was deactivated on day %d, before its date 10 days after the new key", old, day)
		}
	}
	h.Day()
	if h.Keys("ci")[old] != types.StatusTypeInactive || h.Keys("ci")[got] != types.StatusTypeActive || h.ParamReads("ci") != got {
		t.Errorf("on its day the old key must be inactive and the application's key active: keys %v, application reads %s", h.Keys("ci"), h.ParamReads("ci"))
	}
	if strings.Contains(h.Logs.String(), "original") {
		t.Error("a parameter value reached the logs")
	}
}

// A parameter that does not opt in (no tag: on AWS the member role is denied its tags;
// another user's; a plain String), or does not exist: no key is made, the result says why
// and the owner is told (DeliveryFailed), as for a secret.
func TestParameterWithoutOptInIsRefusedBeforeAnyKeyIsMade(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setUp  func(h *scenario.Harness) string
		reason string
	}{
		{"no tag, denied by the member role", func(h *scenario.Harness) string { return h.ParamUser("ci", nil, 85)[0] },
			"it lacks the tag key-rotator:user=ci, or does not exist: the member role is denied its tags (AccessDeniedException)"},
		{"another user's parameter", func(h *scenario.Harness) string {
			return h.ParamUser("ci", map[string]string{appsecret.OptInTag: "deployer"}, 85)[0]
		}, `its tag key-rotator:user names "deployer"`},
		{"a String parameter", func(h *scenario.Harness) string {
			id := h.User("ci", map[string]string{appsecret.DeliveryTag: "ssm:/app/ci"}, 85)[0]
			scenario.Must(h.W.CreateAppParameter(scenario.Account, "/app/ci", "String", "plain", map[string]string{appsecret.OptInTag: "ci"}))
			return id
		}, "it is a String parameter, not a SecureString"},
		{"missing", func(h *scenario.Harness) string {
			return h.User("ci", map[string]string{appsecret.DeliveryTag: "ssm:/app/ci"}, 85)[0]
		}, "it lacks the tag key-rotator:user=ci, or does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			tc.setUp(h)
			writes := 0
			h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "CreateAccessKey" || c.Operation == "PutParameter" {
					writes++
				}
				return awsmodel.None
			}
			res, notes := h.ScanWith(t.Context())
			h.Notify(notes)
			if writes != 0 || len(h.Keys("ci")) != 1 {
				t.Fatalf("%d CreateAccessKey/PutParameter calls, keys %v: want nothing created", writes, h.Keys("ci"))
			}
			if len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, "parameter /app/ci refuses the keys of ci: "+tc.reason) {
				t.Errorf("the result must report the refusal: %+v", res.Users)
			}
			if len(notes) != 1 || len(notes[0].Notices) != 1 || notes[0].Notices[0].Kind != policy.DeliveryFailed ||
				!strings.Contains(notes[0].Notices[0].Message, tc.reason) || h.ToldOfFailure("ci") != 1 {
				t.Errorf("notifications %+v, owner's emails %q: want one notice of the failed delivery, with its reason", notes, h.Subjects("ci"))
			}
		})
	}
}

// A parameter whose KMS key denies NotifyUser's role the write: the key made for it is not
// delivered, the owner is told once with the reason, the old key stays active until the
// bounded wait ends, and the undelivered key is then deleted.
func TestKMSDeniedParameterWriteTellsTheOwnerOnceWithTheReason(t *testing.T) {
	h := scenario.New(t)
	old := h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	scenario.Must(h.W.DenyMemberParamWrites(scenario.Account, "/app/ci", awsmodel.DenyByKMSKey))
	h.Day()
	if h.ParamReads("ci") != old {
		t.Fatal("the parameter was written although its KMS key denies the role")
	}
	subjects := h.Subjects("ci")
	if h.ToldOfFailure("ci") != 1 || !strings.Contains(h.Logs.String(), "its KMS key refuses the write") {
		t.Fatalf("the owner got %q, want one DeliveryFailed notice saying the KMS key refuses", subjects)
	}
	for day := 1; day <= 19; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("day %d: the old key was deactivated while its successor never reached the parameter", day)
		}
	}
	if h.ToldOfFailure("ci") != 1 {
		t.Errorf("the owner was told %d times (%q), want once", h.ToldOfFailure("ci"), h.Subjects("ci"))
	}
	for range 3 {
		h.Day()
	}
	if keys := h.Keys("ci"); len(keys) != 1 || keys[old] == "" {
		t.Errorf("after the bounded wait keys %v: want the undelivered key deleted", keys)
	}
}

// The application writes its parameter over after the rotator's write (its IaC puts the old
// key back, giving no description, so SSM keeps the rotator's on the new version): the
// parameter's current version is not the rotator's, so the old key stays active (until the
// bounded wait ends), and the owner is told once.
func TestOverwrittenParameterKeepsTheOldKeyActive(t *testing.T) {
	h := scenario.New(t)
	old := h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	h.Day() // confirmed
	scenario.Must(h.W.WriteAppParameter(scenario.Account, "/app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`))
	for day := 2; day <= 19; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("day %d: the old key %s was deactivated while its application's parameter holds it again (told %d times: %q)", day, old, h.ToldOfFailure("ci"), h.Subjects("ci"))
		}
	}
	if h.ToldOfFailure("ci") != 1 {
		t.Errorf("the owner was told %d times (%q), want once", h.ToldOfFailure("ci"), h.Subjects("ci"))
	}
}

// A lost PutParameter response (SSM has no request token: the retry makes another version,
// described with its own number), a NotifyUser retried after it succeeded, and SES down for
// the owner's notices: the parameter holds one new key, recognised as the rotator's, and the
// old key waits for a warning that reached the owner or for the bounded wait's end.
func TestParameterDeliveryUnderFaults(t *testing.T) {
	h := scenario.New(t)
	old := h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	puts := 0
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		switch c.Operation {
		case "PutParameter":
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
	got := h.ParamReads("ci")
	if got == old {
		t.Fatal("the key was not written to the parameter")
	}
	for day := 1; day <= 25; day++ {
		h.Day()
		keys := h.Keys("ci")
		switch {
		case h.ParamReads("ci") != got:
			t.Fatalf("day %d: the application's key changed from %s to %s: a second new key was written", day, got, h.ParamReads("ci"))
		case keys[got] != types.StatusTypeActive:
			t.Fatalf("day %d: the key the application reads is gone or inactive: %v", day, keys)
		case day < 20 && keys[old] != types.StatusTypeActive:
			t.Fatalf("day %d: the old key was deactivated before the owner was warned or the bounded wait ended: %v", day, keys)
		}
	}
	if strings.Contains(h.Logs.String(), "original") {
		t.Error("a parameter value reached the logs")
	}
}

// KeyDelivery = ssm-pair:<prefix>: the key ID and the secret access key each in its own
// parameter, checked, written and confirmed as the one parameter is, the old key going on
// its day once both hold the successor.
func TestKeyGoesToTheParameterPairAndTheOldKeyIsDeactivatedOnItsDay(t *testing.T) {
	h := scenario.New(t)
	old := h.PairUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got, secretKey := h.PairReads("ci")
	if got == old || h.Keys("ci")[got] != types.StatusTypeActive || secretKey == "original" || secretKey == "" {
		t.Fatalf("after the run the application reads %s (secret changed: %v), want the new active key (keys %v)", got, secretKey != "original", h.Keys("ci"))
	}
	if p, _ := h.W.AppParameter(scenario.Account, "/app/ci/aws_access_key_id"); p.Type != "String" || p.Version != 2 {
		t.Errorf("the key ID's parameter after the write: %+v, want a String's version 2", p)
	}
	if subjects := h.Subjects("ci"); len(subjects) != 1 || !strings.Contains(subjects[0], "is in SSM parameters /app/ci/aws_access_key_id and /app/ci/aws_secret_access_key") {
		t.Errorf("the owner got %q, want one notice naming the two parameters", subjects)
	}
	for day := 1; day < 10; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("the old key %s was deactivated on day %d, before its date", old, day)
		}
	}
	h.Day()
	if id, _ := h.PairReads("ci"); h.Keys("ci")[old] != types.StatusTypeInactive || id != got {
		t.Errorf("on its day the old key must be inactive and the application's key active: keys %v, application reads %s", h.Keys("ci"), id)
	}
	if strings.Contains(h.Logs.String(), secretKey) {
		t.Error("the secret access key reached the logs")
	}
}

// One parameter of the pair that does not opt in refuses the pair: no key is made, the owner
// is told.
func TestParameterPairWithoutOptInOnOneIsRefused(t *testing.T) {
	h := scenario.New(t)
	h.PairUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)
	scenario.Must(h.W.SetAppParameterTag(scenario.Account, "/app/ci/aws_secret_access_key", appsecret.OptInTag, ""))
	res, notes := h.ScanWith(t.Context())
	h.Notify(notes)
	if len(h.Keys("ci")) != 1 || len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, "parameter /app/ci/aws_secret_access_key refuses the keys of ci") || h.ToldOfFailure("ci") != 1 {
		t.Errorf("keys %v, result %+v, owner told %d times: want no key, the refusal reported and told", h.Keys("ci"), res.Users, h.ToldOfFailure("ci"))
	}
}

// The application deletes its parameter the day after the rotator wrote the new key there,
// before any run could confirm the write (SSM deletes a parameter at once; its IaC makes it
// again weeks later). NotifyUser recorded the write as done: the application may have read
// the new key in between, and hold it since, so the key is delivered, never deleted as
// undeliverable at the end of the bounded wait (campaign seed 180 day 21 on main 9cf1859,
// where the application's key was deleted; DESIGN.md "a machine user's application keeps an
// active key"). The old key waits for the parameter as for any store behind: told, then
// deactivated at the bounded wait's end.
func TestKeyWrittenToAParameterItsApplicationDeletedIsNotDeletedAsUndeliverable(t *testing.T) {
	h := scenario.New(t)
	old := h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got := h.ParamReads("ci")
	if got == old {
		t.Fatal("the new key was not written to the parameter")
	}
	h.W.DeleteAppParameter(scenario.Account, "/app/ci")
	h.Day()
	if n := len(h.HandoffSecrets("ci")); n != 0 {
		t.Errorf("the day after the write %d hand-off secrets remain: NotifyUser's record of the write confirms its delivery", n)
	}
	for day := 2; day <= 40; day++ {
		h.Day()
		if h.Keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: new key %s, written to the parameter, which its application may read since, is gone or inactive (keys %v, undeliverable tag %q)",
				day, got, h.Keys("ci"), h.W.Tags(scenario.Account, "ci")["key-rotator:undeliverable"])
		}
	}
	if h.Keys("ci")[old] == types.StatusTypeActive {
		t.Errorf("the old key %s is still active past the bounded wait (keys %v)", old, h.Keys("ci"))
	}
}
