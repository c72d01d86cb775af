package rotate_test

import (
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the delivery of machine users' keys to GitHub Actions secrets
// (KeyDelivery = github:<owner>/<repo>, pkg/appsecret github.go) on a local GitHub
// (sandbox/ghlocal) dated by the harness's clock.

// withGitHub gives the harness a local GitHub where the rotator's App is installed on
// example-org and outside-org, each with a repository ci (example-org's with an environment
// prod); only example-org is allowed.
func withGitHub(t *testing.T, h *scenario.Harness) *ghlocal.Server {
	t.Helper()
	return withGitHubVia(t, h, nil)
}

// withGitHubVia is withGitHub with the App's requests going through transport (nil:
// http.DefaultTransport).
func withGitHubVia(t *testing.T, h *scenario.Harness, transport http.RoundTripper) *ghlocal.Server {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := ghlocal.New()
	s.Now = func() time.Time { return h.Now }
	s.AddApp(7, &key.PublicKey)
	s.Install(7, "example-org")
	s.Install(7, "outside-org")
	s.AddRepo("example-org", "ci", "prod")
	s.AddRepo("outside-org", "ci")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h.GitHub = appsecret.NewGitHub(7, key, srv.URL+"/api/v3", []string{"example-org"}, transport)
	h.GitHub.MaxWait = time.Second
	return s
}

// gitHubUser makes user ci delivering to to, with a key of age days, and (env "" for the
// repository) the opt-in variable when optIn.
func gitHubUser(h *scenario.Harness, s *ghlocal.Server, to, env string, optIn bool, age int) string {
	old := h.User("ci", map[string]string{appsecret.DeliveryTag: to}, age)[0]
	if optIn {
		owner, _, _ := strings.Cut(strings.TrimPrefix(to, appsecret.GitHubScheme), "/")
		scenario.Must(s.SetVariable(owner, "ci", env, appsecret.GitHubOptInVariable, scenario.Account+"/ci"))
	}
	return old
}

// workflowReads is the key ID a workflow run reads from the secrets, with its secret access
// key opened too.
func workflowReads(t *testing.T, s *ghlocal.Server, env string) string {
	t.Helper()
	id, _, ok := s.Open("example-org", "ci", env, "AWS_ACCESS_KEY_ID")
	secret, _, ok2 := s.Open("example-org", "ci", env, "AWS_SECRET_ACCESS_KEY")
	if !ok || !ok2 || len(secret) < 20 {
		t.Fatalf("the workflow cannot read both secrets (%v %v)", ok, ok2)
	}
	return id
}

// TestGitHubSecretsGetTheKeyAndTheOldKeyWaitsForItsFirstUse: the new key goes to the
// repository's (or environment's) secrets, sealed; the owner is told where, without the key;
// the delivery is confirmed the next day. The old key goes on its date when the workflow used
// the new key; when it did not, the owner is told on the date minus N/2 and the old key stays
// active N days past its date.
func TestGitHubSecretsGetTheKeyAndTheOldKeyWaitsForItsFirstUse(t *testing.T) {
	for _, tc := range []struct {
		name, to, env string
		used          bool
	}{
		{"repository, new key used", "github:example-org/ci", "", true},
		{"environment, new key used", "github:example-org/ci/environments/prod", "prod", true},
		{"repository, new key never used", "github:example-org/ci", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			s := withGitHub(t, h)
			old := gitHubUser(h, s, tc.to, tc.env, true, 80)
			h.Day()
			got := workflowReads(t, s, tc.env)
			if got == old || h.Keys("ci")[got] != types.StatusTypeActive {
				t.Fatalf("after the run the workflow reads %s, want a new active key (keys %v)", got, h.Keys("ci"))
			}
			if subjects := h.Subjects("ci"); len(subjects) != 1 || !strings.Contains(subjects[0], "is in GitHub secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") || len(h.Received("ci")) != 0 {
				t.Errorf("the owner got %q, want one notice naming the secrets and no zip", subjects)
			}
			h.Day()
			if n := len(h.HandoffSecrets("ci")); n != 0 {
				t.Errorf("day 1: %d hand-off secrets remain, want the delivery confirmed by updated_at", n)
			}
			for day := 2; day < 20; day++ {
				if tc.used {
					scenario.Must(h.W.UseKey(scenario.Account, got, h.Now.Add(-time.Hour), "sts", "us-east-1"))
				}
				h.Day()
				want := types.StatusTypeActive
				if tc.used && day >= 10 {
					want = types.StatusTypeInactive
				}
				if h.Keys("ci")[old] != want {
					t.Fatalf("day %d: the old key is %s, want %s (told of failures: %d)", day, h.Keys("ci")[old], want, h.ToldOfFailure("ci"))
				}
				if told := h.ToldOfFailure("ci"); !tc.used && day >= 5 && told != 1 || tc.used && told != 0 {
					t.Fatalf("day %d: the owner was told %d times that the new key is not used, want %v", day, told, !tc.used && day >= 5)
				}
			}
			if !tc.used {
				if day := h.FailureDay("ci"); day == "" {
					t.Error("the owner's notice names no day")
				}
				h.Day()
				if h.Keys("ci")[old] != types.StatusTypeInactive {
					t.Errorf("day 20, N past its date, told: the old key is %s, want Inactive (the bounded wait)", h.Keys("ci")[old])
				}
			}
			if strings.Contains(h.Logs.String(), "SECRET_ACCESS_KEY\":\"") {
				t.Error("a secret reached the logs")
			}
		})
	}
}

// TestGitHubDestinationRefusedBeforeAnyKeyIsMade: a repository without the variable, an
// owner outside allowedGitHubOwners, and a revoked installation: no key is made, the result
// says why and the owner is told (DeliveryFailed).
func TestGitHubDestinationRefusedBeforeAnyKeyIsMade(t *testing.T) {
	for _, tc := range []struct {
		name, to string
		optIn    bool
		revoke   bool
		reason   string
	}{
		{"no variable", "github:example-org/ci", false, false, "it lacks the Actions variable AWS_KEY_ROTATOR_USER=" + scenario.Account + "/ci"},
		{"owner not allowed", "github:outside-org/ci", true, false, "its owner outside-org is not one of allowedGitHubOwners"},
		{"installation revoked", "github:example-org/ci", true, true, "is not installed on example-org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			s := withGitHub(t, h)
			gitHubUser(h, s, tc.to, "", tc.optIn, 85)
			if tc.revoke {
				s.Revoke("example-org")
			}
			creates := 0
			h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "CreateAccessKey" {
					creates++
				}
				return awsmodel.None
			}
			res, notes := h.ScanWith(t.Context())
			h.Notify(notes)
			if creates != 0 || len(h.Keys("ci")) != 1 {
				t.Fatalf("%d CreateAccessKey calls, keys %v: want nothing created", creates, h.Keys("ci"))
			}
			if len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, tc.reason) {
				t.Errorf("the result must report the refusal %q: %+v", tc.reason, res.Users)
			}
			if len(notes) != 1 || len(notes[0].Notices) != 1 || notes[0].Notices[0].Kind != policy.DeliveryFailed ||
				!strings.Contains(notes[0].Notices[0].Message, tc.reason) || h.ToldOfFailure("ci") != 1 {
				t.Errorf("notifications %+v, owner's emails %q: want one notice of the failed delivery, with its reason", notes, h.Subjects("ci"))
			}
			for _, r := range s.Log() {
				if r.Method == http.MethodPut {
					t.Errorf("a write to GitHub: %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

// TestGitHubOutageIsRetriedAndTheKeyDeliveredOnceItEnds: GitHub answering 503 (and then a
// secondary rate limit) to every write for a day: the write is retried, then reported as a
// failed delivery (the owner told once, with the reason); the key made waits, no second key
// is made, and the next day's run delivers it; the old key stays active meanwhile.
func TestGitHubOutageIsRetriedAndTheKeyDeliveredOnceItEnds(t *testing.T) {
	h := scenario.New(t)
	s := withGitHub(t, h)
	old := gitHubUser(h, s, "github:example-org/ci", "", true, 80)
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusServiceUnavailable})
	h.Day()
	if _, _, ok := s.Open("example-org", "ci", "", "AWS_SECRET_ACCESS_KEY"); ok || len(h.Keys("ci")) != 2 {
		t.Fatalf("during the outage: secret written %v, keys %v; want nothing written and one new key waiting", ok, h.Keys("ci"))
	}
	if h.ToldOfFailure("ci") != 1 || !strings.Contains(h.Logs.String(), "GitHub answered HTTP 503 to the write, also when tried again") {
		t.Errorf("the owner was told %d times, want once that GitHub failed the write", h.ToldOfFailure("ci"))
	}
	s.ClearFaults()
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusTooManyRequests, RetryAfter: 1, Times: 1})
	h.Day()
	got := workflowReads(t, s, "")
	if got == old || len(h.Keys("ci")) != 2 || h.Keys("ci")[got] != types.StatusTypeActive || h.Keys("ci")[old] != types.StatusTypeActive {
		t.Errorf("after the outage the workflow reads %s, keys %v: want the one new key delivered, the old one active", got, h.Keys("ci"))
	}
	if h.ToldOfFailure("ci") != 1 {
		t.Errorf("the owner was told %d times of the failure, want once", h.ToldOfFailure("ci"))
	}
}

// TestGitHubSecretsWrittenByOthersConfirmNoKey: GitHub tells when a secret was last written,
// not by whom. A new key whose write failed (a day of 503s) is not confirmed delivered when
// the application's IaC writes its secrets again the next morning (their updated_at past the
// key's creation): its hand-off secret stays, and the run writes the key (campaign world
// World.GitHubStore, TestGitHubStoresKeepEveryInvariantUnderFaults seed 2 day 52: "a created
// key is never lost").
func TestGitHubSecretsWrittenByOthersConfirmNoKey(t *testing.T) {
	h := scenario.New(t)
	s := withGitHub(t, h)
	old := gitHubUser(h, s, "github:example-org/ci", "", true, 80)
	oldSecret := "the IaC's value of the old key's secret access key"
	scenario.Must(s.WriteSecret("example-org", "ci", "", "AWS_ACCESS_KEY_ID", old))
	scenario.Must(s.WriteSecret("example-org", "ci", "", "AWS_SECRET_ACCESS_KEY", oldSecret))
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusServiceUnavailable})
	h.Day()
	s.ClearFaults()
	h.Now = h.Now.Add(time.Hour)
	scenario.Must(s.WriteSecret("example-org", "ci", "", "AWS_SECRET_ACCESS_KEY", oldSecret))
	scenario.Must(s.WriteSecret("example-org", "ci", "", "AWS_ACCESS_KEY_ID", old))
	h.Day()
	got := workflowReads(t, s, "")
	if got == old && len(h.HandoffSecrets("ci")) == 0 {
		t.Fatalf("the new key is confirmed delivered and its hand-off secret deleted, but the workflow reads the old key %s (keys %v): the key is lost", old, h.Keys("ci"))
	}
	if got == old {
		t.Errorf("the workflow reads the old key %s, want the new key written by the run (keys %v)", old, h.Keys("ci"))
	}
}

// lostResponse is a transport whose requests lose their response (after GitHub served them)
// while lose says so.
type lostResponse struct{ lose func(*http.Request) bool }

func (l lostResponse) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !l.lose(req) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, io.ErrUnexpectedEOF
}

// TestKeyWrittenToGitHubIsNotDeletedAsUndeliverableOnceItsOptInIsWithdrawn: NotifyUser writes
// the new key to an environment's secrets, the secret access key and then the key ID, whose
// response is lost (the write took effect); before the next attempt the environment's
// administrators withdraw the opt-in (the variable names nobody), so that attempt is refused.
// Both secrets were written since the key was made and NotifyUser began the write: the key
// may be what the workflow reads (it is), and nobody can read a GitHub secret back. It is not
// deleted as undeliverable at the end of the bounded wait (campaign seed 103 day 20 at
// 82ef4ee, user046: "no active key in use is deleted").
func TestKeyWrittenToGitHubIsNotDeletedAsUndeliverableOnceItsOptInIsWithdrawn(t *testing.T) {
	h := scenario.New(t)
	lose := false
	s := withGitHubVia(t, h, lostResponse{lose: func(r *http.Request) bool {
		return lose && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/AWS_ACCESS_KEY_ID")
	}})
	old := gitHubUser(h, s, "github:example-org/ci/environments/prod", "prod", true, 85)
	notes := h.Scan()
	lose = true
	h.Notify(notes)
	lose = false
	got := workflowReads(t, s, "prod")
	if got == old {
		t.Fatal("the first attempt did not write the key to the secrets")
	}
	scenario.Must(s.SetVariable("example-org", "ci", "prod", appsecret.GitHubOptInVariable, ""))
	h.Notify(notes) // the retry: refused
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	for day := 1; day <= 25; day++ {
		h.Day()
		if h.Keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the workflow reads, %s, is %q (keys %v, emails %q)", day, got, h.Keys("ci")[got], h.Keys("ci"), h.Subjects("ci"))
		}
	}
}
