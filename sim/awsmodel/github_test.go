package awsmodel

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

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	secretvalue "github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
)

// gitHubSide is one GitHub the conformance steps run on: the model, or the local GitHub.
type gitHubSide struct {
	name       string
	app        *appsecret.GitHub
	setVar     func(owner, repo, env, name, value string)
	revoke     func(owner string)
	read       func(owner, repo, env, name string) (string, bool)
	faultOnPut func(status int) // every PUT answers status until cleared (0)
}

// TestGitHubModelConformsToTheLocalGitHub runs the rotator's GitHub destinations through the
// same steps against the model and against the stand-in's local GitHub (written from GitHub's
// REST documentation): the opt-in refused and accepted, a repository's and an environment's
// write, what a workflow reads, the write's confirmation, a failed write, another owner's
// repository, an uninstalled App. Every outcome must be the same.
func TestGitHubModelConformsToTheLocalGitHub(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const account = "111122223333"
	clock := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	allowed := []string{"example-org", "other-org"}

	w := New(func() time.Time { return clock }, 1)
	m := w.GitHub()
	var putFault int
	w.Inject = func(c Call) Fault {
		if putFault != 0 && c.Service == "GitHub" && strings.HasPrefix(c.Operation, "PUT ") {
			return ServerError
		}
		return None
	}
	local := ghlocal.New()
	local.Now = func() time.Time { return clock }
	srv := httptest.NewServer(local)
	defer srv.Close()
	for _, setUp := range []struct {
		addApp  func(int64, *rsa.PublicKey)
		install func(int64, string)
		addRepo func(string, string, ...string)
	}{{m.AddApp, m.Install, m.AddRepo}, {local.AddApp, func(id int64, o string) { local.Install(id, o) }, func(o, n string, e ...string) { local.AddRepo(o, n, e...) }}} {
		setUp.addApp(9, &key.PublicKey)
		setUp.install(9, "example-org")
		setUp.install(9, "other-org")
		setUp.addRepo("example-org", "ci", "prod")
		setUp.addRepo("other-org", "tools")
	}
	model := appsecret.NewGitHub(9, key, "https://github.example/api/v3", allowed, m.Transport())
	model.Attempts = 1 // no sleeping retries on the model's faults
	remote := appsecret.NewGitHub(9, key, srv.URL+"/api/v3", allowed, nil)
	remote.Attempts = 1
	sides := []gitHubSide{
		{"model", model, func(o, r, e, n, v string) { _ = m.SetVariable(o, r, e, n, v) }, m.Revoke,
			func(o, r, e, n string) (string, bool) { s, ok := m.Secret(o, r, e, n); return s.Value, ok },
			func(status int) { putFault = status }},
		{"local GitHub", remote, func(o, r, e, n, v string) { _ = local.SetVariable(o, r, e, n, v) }, local.Revoke,
			func(o, r, e, n string) (string, bool) { v, _, ok := local.Open(o, r, e, n); return v, ok },
			func(status int) {
				local.ClearFaults()
				if status != 0 {
					local.Fail(ghlocal.Fault{Match: "PUT ", Status: status})
				}
			}},
	}
	ctx := context.Background()
	outcome := func(err error) string {
		var refused *appsecret.Refused
		switch {
		case err == nil:
			return "ok"
		case errors.As(err, &refused):
			return "refused: " + refused.Why
		}
		return "error"
	}
	steps := []struct {
		name string
		run  func(s gitHubSide) string
	}{
		{"check without the variable", func(s gitHubSide) string {
			return outcome(dest(s, account, "github:example-org/ci").Check(ctx, "deployer"))
		}},
		{"check with another user's variable", func(s gitHubSide) string {
			s.setVar("example-org", "ci", "", appsecret.GitHubOptInVariable, account+"/other")
			return outcome(dest(s, account, "github:example-org/ci").Check(ctx, "deployer"))
		}},
		{"check and write the repository", func(s gitHubSide) string {
			s.setVar("example-org", "ci", "", appsecret.GitHubOptInVariable, account+"/deployer")
			d := dest(s, account, "github:example-org/ci")
			if err := d.Check(ctx, "deployer"); err != nil {
				return outcome(err)
			}
			err := d.Put(ctx, "deployer", "AKIAMODEL00000000001", secretvalue.New("model-secret-access-key-0000000000000001"))
			id, _ := s.read("example-org", "ci", "", "AWS_ACCESS_KEY_ID")
			sec, _ := s.read("example-org", "ci", "", "AWS_SECRET_ACCESS_KEY")
			return outcome(err) + " reads " + id + " " + sec
		}},
		{"the write found", func(s gitHubSide) string {
			st, err := dest(s, account, "github:example-org/ci").Find(ctx, "AKIAMODEL00000000001", clock.Add(-time.Hour))
			later, _ := dest(s, account, "github:example-org/ci").Find(ctx, "AKIAMODEL00000000001", clock.Add(time.Hour))
			why, _, _ := dest(s, account, "github:example-org/ci").Current(ctx, "deployer", "AKIAMODEL00000000001")
			return outcome(err) + " " + []string{"absent", "holds", "hidden"}[st] + " " + []string{"absent", "holds", "hidden"}[later] + " " + why
		}},
		{"the environment without its variable, then with it", func(s gitHubSide) string {
			d := dest(s, account, "github:example-org/ci/environments/prod")
			before := outcome(d.Check(ctx, "envdeployer"))
			s.setVar("example-org", "ci", "prod", appsecret.GitHubOptInVariable, account+"/envdeployer")
			err := d.Put(ctx, "envdeployer", "AKIAMODEL00000000002", secretvalue.New("model-secret-access-key-0000000000000002"))
			id, _ := s.read("example-org", "ci", "prod", "AWS_ACCESS_KEY_ID")
			return before + " / " + outcome(d.Check(ctx, "envdeployer")) + " " + outcome(err) + " reads " + id
		}},
		{"names of the user's choosing", func(s gitHubSide) string {
			err := dest(s, account, "github:example-org/ci@DEPLOY_ID:DEPLOY_SECRET").Put(ctx, "deployer", "AKIAMODEL00000000003", secretvalue.New("model-secret-access-key-0000000000000003"))
			id, ok := s.read("example-org", "ci", "", "DEPLOY_ID")
			return outcome(err) + " " + id + " " + map[bool]string{true: "found", false: "missing"}[ok]
		}},
		{"a write GitHub fails", func(s gitHubSide) string {
			s.faultOnPut(http.StatusServiceUnavailable)
			defer s.faultOnPut(0)
			return outcome(dest(s, account, "github:example-org/ci").Put(ctx, "deployer", "AKIAMODEL00000000004", secretvalue.New("model-secret-access-key-0000000000000004")))
		}},
		{"an owner not allowed", func(s gitHubSide) string {
			return outcome(dest(s, account, "github:elsewhere/ci").Check(ctx, "deployer"))
		}},
		{"a repository the App cannot see", func(s gitHubSide) string {
			return outcome(dest(s, account, "github:example-org/missing").Check(ctx, "deployer"))
		}},
		{"the App uninstalled", func(s gitHubSide) string {
			s.revoke("other-org")
			s.setVar("other-org", "tools", "", appsecret.GitHubOptInVariable, account+"/tool")
			return outcome(dest(s, account, "github:other-org/tools").Check(ctx, "tool"))
		}},
		{"the App uninstalled after a first use", func(s gitHubSide) string {
			s.revoke("example-org")
			st, _ := dest(s, account, "github:example-org/ci").Find(ctx, "AKIAMODEL00000000001", clock.Add(-time.Hour))
			return outcome(dest(s, account, "github:example-org/ci").Check(ctx, "deployer")) + " " + []string{"absent", "holds", "hidden"}[st]
		}},
	}
	for _, step := range steps {
		got := map[string]string{}
		for _, s := range sides {
			got[s.name] = step.run(s)
		}
		t.Logf("%s: %q", step.name, got["model"])
		if got["model"] != got["local GitHub"] {
			t.Errorf("%s: the model answers %q, the local GitHub %q", step.name, got["model"], got["local GitHub"])
		}
		clock = clock.Add(time.Minute)
	}
}

func dest(s gitHubSide, account, to string) appsecret.Destination {
	return appsecret.Clients{GitHub: s.app, AccountID: account}.Open(to)
}
