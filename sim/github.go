package sim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// GitHub Actions secrets as a machine user's store (World.GitHubStore): the rotator's GitHub
// App, its secret in the rotator's account (config githubAppSecretArn), installed on the
// organizations below; its Lambdas reach the model's GitHub (awsmodel.GitHub) as they reach
// GitHub, the App read from its secret as lambdas/*'s handlers read it.
const (
	gitHubAppID     = 4711
	gitHubAPI       = "https://github.example/api/v3"
	gitHubAppSecret = "key-rotator/github-app"
	// gitHubEnv is every repository's environment; half the GitHub users' keys go there.
	gitHubEnv = "production"
)

// gitHubAllowed are the organizations in allowedGitHubOwners; gitHubForeign has the App
// installed and is not among them (a refused destination, whose owner is told).
var (
	gitHubAllowed = []string{"example-org", "example-tools"}
	gitHubForeign = "elsewhere-org"
)

// gitHubTarget is a GitHub store: a repository's secrets (env "") or one environment's.
type gitHubTarget struct{ owner, repo, env string }

// gitHubOf is o's GitHub store, ok false when o's keys go elsewhere.
func gitHubOf(o *owner) (gitHubTarget, bool) {
	rest, ok := strings.CutPrefix(o.app, appsecret.GitHubScheme)
	if !ok {
		return gitHubTarget{}, false
	}
	rest, env, _ := strings.Cut(rest, "/environments/")
	owner, repo, _ := strings.Cut(rest, "/")
	return gitHubTarget{owner: owner, repo: repo, env: env}, true
}

// gitHubSetUp registers the rotator's App and its secret, and installs the App on the
// organizations (World.GitHubStore > 0). It returns the App's secret ARN.
func (s *sim) gitHubSetUp() string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	gh := s.w.GitHub()
	gh.AddApp(gitHubAppID, &key.PublicKey)
	for _, org := range append(slices.Clone(gitHubAllowed), gitHubForeign) {
		gh.Install(gitHubAppID, org)
	}
	privatePEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	value, err := json.Marshal(appsecret.GitHubAppSecret{AppID: gitHubAppID, PrivateKey: privatePEM, APIURL: gitHubAPI})
	must(err)
	out, err := s.w.Secrets().CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(gitHubAppSecret), SecretString: aws.String(string(value))})
	must(err)
	// The App's private key is a secret too: nothing the Lambdas emit may hold it.
	for _, line := range strings.Split(privatePEM, "\n") {
		if len(line) >= 40 {
			s.secrets = append(s.secrets, line)
		}
	}
	return aws.ToString(out.ARN)
}

// gitHubApp is the rotator's GitHub App as the Lambdas build it (rotate.NewHandler,
// notify.NewHandler): read from its secret when first needed. One for the whole simulation,
// as a warm Lambda keeps its App and its installations' clients between invocations. Its
// retries wait on the simulation's clock.
func (s *sim) gitHubApp() *appsecret.GitHub {
	if s.github == nil {
		s.github = &appsecret.GitHub{SecretARN: s.settings.GitHubAppSecretARN, Secrets: s.w.Secrets(), Allowed: s.settings.AllowedGitHubOwners,
			Transport: gitHubObserved{s: s, next: s.w.GitHub().Transport()},
			Sleep:     func(_ context.Context, d time.Duration) error { s.now = s.now.Add(d); return nil }}
	}
	return s.github
}

// gitHubObserved sees each request of the rotator to GitHub after the model served it, as
// observe sees the AWS calls: a secret written is checked (gitHubWrites).
type gitHubObserved struct {
	s    *sim
	next http.RoundTripper
}

func (t gitHubObserved) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/secrets/") {
		t.s.gitHubWrites()
	}
	return resp, err
}

// gitHubUser makes o's store the GitHub Actions secrets of a repository, or of its
// environment, of an organization (mostly an allowed one), which the application's IaC
// filled with key k: opting in with the variable AWS_KEY_ROTATOR_USER = <account>/<user>
// when optIn names o's user (another user's, or none, otherwise).
func (s *sim) gitHubUser(o *owner, optIn map[string]string) {
	s.happened("machine-user-delivered-to-github")
	org := gitHubAllowed[s.rng.IntN(len(gitHubAllowed))]
	if s.chance(0.1) {
		s.happened("github-owner-not-allowed")
		org = gitHubForeign
	}
	t := gitHubTarget{owner: org, repo: "app-" + o.account + "-" + o.user}
	o.app = appsecret.GitHubScheme + t.owner + "/" + t.repo
	if s.chance(0.5) {
		s.happened("machine-user-delivered-to-github-environment")
		t.env = gitHubEnv
		o.app += "/environments/" + t.env
	}
	gh := s.w.GitHub()
	gh.AddRepo(t.owner, t.repo, gitHubEnv)
	must(s.w.SetTag(o.account, o.user, s.spell(appsecret.DeliveryTag), o.app))
	if user := optIn[appsecret.OptInTag]; user != "" {
		must(gh.SetVariable(t.owner, t.repo, t.env, appsecret.GitHubOptInVariable, o.account+"/"+user))
	}
	s.gitHubWriteKey(t, o.iac)
	s.gitHubSeen(o)
}

// gitHubWriteKey writes a key (appValue's JSON) into t's two secrets as its people do.
func (s *sim) gitHubWriteKey(t gitHubTarget, value string) {
	var k appKey
	must(json.Unmarshal([]byte(value), &k))
	gh := s.w.GitHub()
	must(gh.WriteSecret(t.owner, t.repo, t.env, appsecret.GitHubNames[1], k.SecretAccessKey))
	must(gh.WriteSecret(t.owner, t.repo, t.env, appsecret.GitHubNames[0], k.AccessKeyID))
}

// gitHubStore is o's GitHub store as appStore: the key its two secrets hold (a workflow reads
// both), and the opt-in as the rotator may see it (OptInTag = the user): the variable names
// the user, the App is installed on the owner, and the owner is allowed.
func (s *sim) gitHubStore(o *owner, t gitHubTarget) (appStore, bool) {
	gh := s.w.GitHub()
	id, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[0])
	sec, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[1])
	tags := map[string]string{}
	if v, _ := gh.Variable(t.owner, t.repo, t.env, appsecret.GitHubOptInVariable); v == o.account+"/"+o.user && gh.Installed(t.owner) &&
		slices.ContainsFunc(s.settings.AllowedGitHubOwners, func(a string) bool { return strings.EqualFold(a, t.owner) }) {
		tags[appsecret.OptInTag] = o.user
	}
	return appStore{Value: appValue(id.Value, sec.Value), Tags: tags}, true
}

// gitHubOptIn sets (or with "" removes) the variable that opts o's store in.
func (s *sim) gitHubOptIn(o *owner, t gitHubTarget, user string) {
	gh := s.w.GitHub()
	if user == "" {
		gh.DeleteVariable(t.owner, t.repo, t.env, appsecret.GitHubOptInVariable)
		return
	}
	must(gh.SetVariable(t.owner, t.repo, t.env, appsecret.GitHubOptInVariable, o.account+"/"+user))
}

// gitHubApplication: the application's people act on its GitHub secrets (see application):
// their IaC writes them again with what they hold (updated_at moves), or with the key it was
// made with (the rotator's key overwritten, which the rotator cannot see: GitHub tells no
// value), deletes them, or makes them again.
func (s *sim) gitHubApplication(o *owner, t gitHubTarget) {
	w, gh := s.cfg.World, s.w.GitHub()
	id, ok := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[0])
	sec, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[1])
	switch {
	case !ok:
		if s.chance(w.AppRestoresSecret) {
			s.happened("app-recreates-github-secrets")
			s.gitHubWriteKey(t, o.iac)
		}
	case s.chance(w.AppRewritesSecret):
		s.happened("app-rewrites-github-secrets")
		s.gitHubWriteKey(t, appValue(id.Value, sec.Value))
	case s.chance(w.AppRevertsSecret):
		s.happened("app-reverts-github-secrets")
		s.gitHubWriteKey(t, o.iac)
	case s.chance(w.AppDeletesSecret):
		s.happened("app-deletes-github-secrets")
		gh.DeleteSecret(t.owner, t.repo, t.env, appsecret.GitHubNames[0])
		gh.DeleteSecret(t.owner, t.repo, t.env, appsecret.GitHubNames[1])
	}
	s.gitHubSeen(o)
}

// gitHubInstallations: an organization's administrators uninstall the rotator's App
// (World.GitHubAppRevoked), or install it again (GitHubAppReinstalled), before the daily run.
func (s *sim) gitHubInstallations() {
	w, gh := s.cfg.World, s.w.GitHub()
	for _, org := range append(slices.Clone(gitHubAllowed), gitHubForeign) {
		switch {
		case gh.Installed(org) && s.chance(w.GitHubAppRevoked):
			s.happened("github-app-uninstalled")
			gh.Revoke(org)
		case !gh.Installed(org) && s.chance(w.GitHubAppReinstalled):
			s.happened("github-app-reinstalled")
			gh.Reinstall(gitHubAppID, org)
		}
	}
}

// gitHubWrites checks what the rotator's write to GitHub changed: each secret written since
// last seen (by value and updated_at) holds a key of the store's own user, which opts in; once
// the key ID is written (the second of the two writes), the pair is the key the rotator wrote
// there (written), with its own secret access key.
func (s *sim) gitHubWrites() {
	for _, o := range s.sortedOwners() {
		t, ok := gitHubOf(o)
		if !ok {
			continue
		}
		gh := s.w.GitHub()
		id, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[0])
		sec, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[1])
		seen := s.gitHubLast[o.app]
		if sec != seen[1] {
			keyID := ""
			for k, v := range s.secretOf {
				if v == sec.Value {
					keyID = k
				}
			}
			if s.keyOwner[keyID] != o {
				s.violate("a key goes only to its user's secret", fmt.Sprintf("%s: a secret access key written to %s is not one of %s's keys the rotator made (key %q)", o.app, appsecret.GitHubNames[1], o.user, keyID))
			} else if !s.deliverable(o) {
				s.violate("a key goes only to a secret that opts in", fmt.Sprintf("%s: the secret access key of %s's key %s written to a repository without %s=%s/%s (or the App uninstalled, or its owner not allowed)",
					o.app, o.user, keyID, appsecret.GitHubOptInVariable, o.account, o.user))
			}
		}
		if id != seen[0] {
			s.note(id.Value, "written to %s with the secret access key of %s", o.app, s.secretKeyOf(sec.Value))
			s.written(o.account, o.app, appValue(id.Value, sec.Value))
			if _, made := s.rotatorKeys[id.Value]; made && s.secretOf[id.Value] == sec.Value {
				s.happened("rotator-writes-key-to-github") // counted for the campaign: the destination is exercised
			}
		}
		s.gitHubSeen(o)
	}
}

// gitHubSeen records o's GitHub secrets as they are now (what gitHubWrites compares with).
func (s *sim) gitHubSeen(o *owner) {
	t, ok := gitHubOf(o)
	if !ok {
		return
	}
	gh := s.w.GitHub()
	id, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[0])
	sec, _ := gh.Secret(t.owner, t.repo, t.env, appsecret.GitHubNames[1])
	s.gitHubLast[o.app] = [2]awsmodel.GitHubSecret{id, sec}
}

// secretKeyOf names the key whose secret access key is value, for a trace.
func (s *sim) secretKeyOf(value string) string {
	for k, v := range s.secretOf {
		if v == value {
			return k
		}
	}
	return "no key"
}

// gitHubOptInWithdrawn: the repository's administrators remove its opt-in variable just as
// the rotator reads it (Faults.OptInWithdrawn).
func (s *sim) gitHubOptInWithdrawn(c awsmodel.Call) {
	in, ok := c.Input.(awsmodel.GitHubRequest)
	if !ok || in.Method != http.MethodGet || !strings.HasSuffix(in.Path, "/variables/"+appsecret.GitHubOptInVariable) {
		return
	}
	for _, o := range s.sortedOwners() {
		if t, ok := gitHubOf(o); ok && strings.HasPrefix(strings.ToLower(in.Path), strings.ToLower("/repos/"+t.owner+"/"+t.repo+"/")) &&
			(t.env == "") == !strings.Contains(in.Path, "/environments/") {
			if _, set := s.w.GitHub().Variable(t.owner, t.repo, t.env, appsecret.GitHubOptInVariable); set {
				s.res.Faults["opt-in-withdrawn"]++
				s.gitHubOptIn(o, t, "")
			}
			return
		}
	}
}

// gitHubHalfWritten reports whether o's GitHub store holds the secret access key of a key
// the rotator made for o beside another key's ID: its two writes half done.
func (s *sim) gitHubHalfWritten(o *owner, app appKey) bool {
	if _, ok := gitHubOf(o); !ok {
		return false
	}
	for id, secret := range s.secretOf {
		if secret == app.SecretAccessKey && id != app.AccessKeyID {
			_, made := s.rotatorKeys[id]
			return made && s.keyOwner[id] == o
		}
	}
	return false
}
