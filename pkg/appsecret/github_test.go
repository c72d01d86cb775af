package appsecret

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
)

const (
	ghAccount = "111122223333"
	ghAppID   = 4242
	ghKeyID   = "AKIAGITHUBNEWKEY0001"
	ghSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYGITHUBSECRETKEY"
)

// localGitHub is a local GitHub with the App installed on example-org, whose repository ci
// has an environment prod, and the rotator's App on it.
func localGitHub(t *testing.T) (*ghlocal.Server, *GitHub) {
	s, app := localGitHubApp(t)
	return s, app()
}

// localGitHubApp is localGitHub with a function that makes the App anew (a new process).
func localGitHubApp(t *testing.T) (*ghlocal.Server, func() *GitHub) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := ghlocal.New()
	s.AddApp(ghAppID, &key.PublicKey)
	s.Install(ghAppID, "example-org")
	s.Install(ghAppID, "other-org")
	s.AddRepo("example-org", "ci", "prod")
	s.AddRepo("other-org", "ci")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, func() *GitHub {
		g := NewGitHub(ghAppID, key, srv.URL+"/api/v3", []string{"Example-Org"}, nil)
		g.MaxWait = 2 * time.Second
		return g
	}
}

func ghDest(g *GitHub, to string) Destination {
	return Clients{GitHub: g, AccountID: ghAccount}.Open(to)
}

// TestGitHubDeliveryWritesSealedSecretsAWorkflowCanOpen: a repository's and an environment's
// secrets get the key ID and the secret access key, sealed with their own public keys (the
// local GitHub opens them as a workflow reads them), once the variable names the account and
// user; the write is found by the secrets' updated_at, not before the key's creation.
func TestGitHubDeliveryWritesSealedSecretsAWorkflowCanOpen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		to, env string
		names   [2]string
	}{
		{"github:example-org/ci", "", GitHubNames},
		{"github:example-org/ci/environments/prod", "prod", GitHubNames},
		{"github:example-org/ci@DEPLOY_ID:DEPLOY_SECRET", "", [2]string{"DEPLOY_ID", "DEPLOY_SECRET"}},
	} {
		t.Run(tc.to, func(t *testing.T) {
			s, g := localGitHub(t)
			d := ghDest(g, tc.to)
			var refused *Refused
			if err := d.Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "lacks the Actions variable AWS_KEY_ROTATOR_USER=111122223333/deployer") {
				t.Fatalf("Check without the variable: %v, want a refusal naming it", err)
			}
			if err := s.SetVariable("example-org", "ci", tc.env, GitHubOptInVariable, ghAccount+"/reporter"); err != nil {
				t.Fatal(err)
			}
			if err := d.Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), `names "111122223333/reporter"`) {
				t.Fatalf("Check with another user's variable: %v, want a refusal", err)
			}
			_ = s.SetVariable("example-org", "ci", tc.env, GitHubOptInVariable, ghAccount+"/deployer")
			if err := d.Check(ctx, "deployer"); err != nil {
				t.Fatalf("Check: %v", err)
			}
			created := time.Now().Add(-time.Minute)
			if st, err := d.Find(ctx, ghKeyID, created); st != Absent || err != nil {
				t.Fatalf("Find before the write: %v %v, want Absent", st, err)
			}
			if err := d.Put(ctx, "deployer", ghKeyID, secret.New(ghSecret)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			for i, want := range []string{ghKeyID, ghSecret} {
				if got, _, ok := s.Open("example-org", "ci", tc.env, tc.names[i]); !ok || got != want {
					t.Errorf("secret %s opens to %q (%v), want %q", tc.names[i], got, ok, want)
				}
			}
			if st, err := d.Find(ctx, ghKeyID, created); st != Holds || err != nil {
				t.Errorf("Find after the write: %v %v, want Holds", st, err)
			}
			if st, _ := d.Find(ctx, ghKeyID, time.Now().Add(time.Hour)); st != Absent {
				t.Errorf("Find of a key made after the write: %v, want Absent", st)
			}
			if why, _, err := d.Current(ctx, "deployer", ghKeyID); why != "" || err != nil {
				t.Errorf("Current: %q %v, want \"\"", why, err)
			}
			if !d.AwaitsFirstUse() || d.Tag() != strings.Split(tc.to, "@")[0] {
				t.Errorf("AwaitsFirstUse %v, Tag %q", d.AwaitsFirstUse(), d.Tag())
			}
			s.DeleteSecret("example-org", "ci", tc.env, tc.names[0])
			if why, _, _ := d.Current(ctx, "deployer", ghKeyID); !strings.Contains(why, "does not exist") {
				t.Errorf("Current with a secret deleted: %q", why)
			}
			for _, r := range s.Log() {
				if strings.Contains(r.Path, ghSecret) {
					t.Errorf("the secret in a request path: %s", r.Path)
				}
			}
		})
	}
}

// TestGitHubDestinationRefusals: an owner outside allowedGitHubOwners (no request made), no
// App configured, an App not installed, and an installation revoked after a first check are
// each a refusal (no key is made for them); a 5xx or a secondary rate limit is retried, and
// one that lasts is a failed delivery (a refusal of the write: the owner is told, the next
// run tries again).
func TestGitHubDestinationRefusals(t *testing.T) {
	ctx := context.Background()
	s, app := localGitHubApp(t)
	g := app()
	for _, env := range []string{"", "prod"} {
		_ = s.SetVariable("example-org", "ci", env, GitHubOptInVariable, ghAccount+"/deployer")
	}
	_ = s.SetVariable("other-org", "ci", "", GitHubOptInVariable, ghAccount+"/deployer")
	var refused *Refused
	before := len(s.Log())
	if err := ghDest(g, "github:other-org/ci").Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "not one of allowedGitHubOwners") {
		t.Errorf("owner not allowed: %v", err)
	}
	if len(s.Log()) != before {
		t.Errorf("%d requests for an owner not allowed, want none", len(s.Log())-before)
	}
	if err := ghDest(nil, "github:example-org/ci").Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("no App: %v", err)
	}
	g.Allowed = append(g.Allowed, "nobody-org")
	if err := ghDest(g, "github:nobody-org/ci").Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("App not installed: %v", err)
	}

	d := ghDest(g, "github:example-org/ci")
	s.Fail(ghlocal.Fault{Match: "/actions/variables/", Status: http.StatusBadGateway, Times: 1})
	if err := d.Check(ctx, "deployer"); err != nil {
		t.Errorf("a 502 once: %v, want retried", err)
	}
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusForbidden, RetryAfter: 1, Times: 1})
	if err := d.Put(ctx, "deployer", ghKeyID, secret.New(ghSecret)); err != nil {
		t.Errorf("a secondary rate limit once: %v, want retried", err)
	}
	// A lasting outage, and a wait longer than the call's: the write failed, which the owner
	// hears of (a refusal); the next run tries again.
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusServiceUnavailable})
	err := d.Put(ctx, "deployer", ghKeyID, secret.New(ghSecret))
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "GitHub answered HTTP 503 to the write, also when tried again") {
		t.Errorf("a lasting 503: %v, want a failed delivery saying so", err)
	}
	s.ClearFaults()
	// GitHub asks for an hour: not waited, and the client keeps from calling until then.
	s.Fail(ghlocal.Fault{Match: "PUT ", Status: http.StatusTooManyRequests, RetryAfter: 3600})
	if err := d.Put(ctx, "deployer", ghKeyID, secret.New(ghSecret)); !errors.As(err, &refused) || !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("a secondary rate limit for an hour: %v, want a failed delivery saying so", err)
	}
	s.ClearFaults()
	if err != nil && strings.Contains(err.Error(), ghSecret) {
		t.Error("the error holds the secret access key")
	}
	g = app()

	s.Revoke("example-org")
	for _, to := range []string{"github:example-org/ci", "github:example-org/ci/environments/prod"} {
		if err := ghDest(g, to).Check(ctx, "deployer"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "revoked") && !strings.Contains(err.Error(), "not installed") {
			t.Errorf("%s, installation revoked: %v, want a refusal", to, err)
		}
		if st, err := ghDest(g, to).Find(ctx, ghKeyID, time.Now().Add(-time.Hour)); st != Hidden || err != nil {
			t.Errorf("%s, installation revoked: Find %v %v, want Hidden", to, st, err)
		}
	}
}
