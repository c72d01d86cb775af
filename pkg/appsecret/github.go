package appsecret

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v88/github"
	"golang.org/x/crypto/nacl/box"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// GitHubScheme starts DeliveryTag's value that names GitHub Actions secrets:
// "github:<owner>/<repo>" (repository secrets) or "github:<owner>/<repo>/environments/<name>"
// (the secrets of one environment). The rotator writes two secrets there, the key ID and the
// secret access key (NamesTag; GitHubNames by default), each sealed with the repository's or
// environment's public key as GitHub's REST API requires (a libsodium sealed box), through
// the rotator's GitHub App (GitHub).
//
// Both sides opt in: the repository or environment carries the Actions variable
// GitHubOptInVariable = "<account ID>/<user name>", which only its administrators can set,
// and its owner is one of allowedGitHubOwners. Nobody can read a GitHub secret back, the
// rotator included: the write is confirmed by the secrets' updated_at, no earlier than the
// key, and the old key's deactivation waits for the new key's first use
// (policy.User.AwaitsFirstUse).
//
// Limit: as for an SSM pair, two writes are not one. Between them, a workflow reads the key
// ID of one key and the secret access key of another, until the rotator writes again.
const GitHubScheme = "github:"

// NamesTag is the user tag that names the two secrets: "<key ID secret> <secret access key
// secret>" (IAM allows no comma in a tag value: a space, ":" or "/" separates them; a comma
// is taken too).
const NamesTag = "KeyDeliveryNames"

// GitHubOptInVariable is the Actions variable of a repository or environment that opts in to
// a user's keys, "<account ID>/<user name>".
const GitHubOptInVariable = "AWS_KEY_ROTATOR_USER"

// GitHubNames are the secrets' names without NamesTag.
var GitHubNames = [2]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

var (
	// gitHubTarget is <owner>/<repo> and an optional /environments/<name>.
	gitHubTarget = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})(?:/environments/([^/@,]{1,255}))?$`)
	// gitHubSecretName is what GitHub allows in a secret's name (no GITHUB_ prefix, not
	// starting with a digit).
	gitHubSecretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// gitHubTarget parses a GitHubScheme value without the scheme, with NamesTag's value (""
// for the default names); ok is false when it names no repository or no valid names.
func parseGitHub(value, names string) (to string, ok bool) {
	if !gitHubTarget.MatchString(value) {
		return "", false
	}
	if names = strings.TrimSpace(names); names == "" {
		return GitHubScheme + value, true
	}
	// IAM allows no comma in a tag value: a space, ":" or "/" separates the names as well.
	both := strings.FieldsFunc(names, func(r rune) bool { return r == ',' || r == ' ' || r == ':' || r == '/' })
	if len(both) != 2 {
		return "", false
	}
	id, sec := strings.ToUpper(both[0]), strings.ToUpper(both[1])
	if id == sec || !validGitHubSecretName(id) || !validGitHubSecretName(sec) {
		return "", false
	}
	return GitHubScheme + value + namesMark + id + ":" + sec, true
}

// namesMark follows the repository in a Target value that names the secrets: what a tag of
// the hand-off secret (Secrets Manager) and of the user (IAM) may hold, and no repository or
// environment name does.
const namesMark = "@"

func validGitHubSecretName(name string) bool {
	return gitHubSecretName.MatchString(name) && !strings.HasPrefix(name, "GITHUB_")
}

// gitHubTargetOf is Target for a GitHubScheme value: the tag's value with the names the user's
// NamesTag gives.
func gitHubTargetOf(tags policy.Tags, key, value string) (string, error) {
	_, names, _ := tags.Lookup(NamesTag)
	to, ok := parseGitHub(strings.TrimPrefix(value, GitHubScheme), names)
	if !ok {
		return "", fmt.Errorf("tag %s %q is not %s<owner>/<repo> or %s<owner>/<repo>/environments/<name>, or tag %s %q is not <key ID secret> <secret access key secret>: no key is delivered to it",
			key, value, GitHubScheme, GitHubScheme, NamesTag, names)
	}
	return to, nil
}

// GitHubAppSecret is the content of the rotator account's secret that holds the GitHub App
// (config githubAppSecretArn).
type GitHubAppSecret struct {
	AppID      int64  `json:"appId"`
	PrivateKey string `json:"privateKey"` // PEM
	// APIURL is GitHub Enterprise Server's API (https://host/api/v3); empty: github.com.
	APIURL string `json:"apiUrl,omitempty"`
}

// SecretValueAPI reads the App's secret.
type SecretValueAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// GitHub is the rotator's GitHub App, through which keys reach GitHub Actions secrets: read
// once from its secret (config githubAppSecretArn) when first needed, each owner's
// installation found and its token made (and renewed) by bradleyfalzon/ghinstallation.
type GitHub struct {
	// SecretARN is the App's secret, read through Secrets; empty: GitHub delivery is not
	// configured, and every GitHub destination refuses.
	SecretARN string
	Secrets   SecretValueAPI
	// Allowed are the owners whose repositories may receive keys (config allowedGitHubOwners).
	Allowed []string
	// Transport is the HTTP transport (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// MaxWait bounds a wait GitHub asks for (Retry-After) before a retry, and Attempts the
	// tries of a request answered 5xx or with a secondary rate limit (0: 10 s and 3). A longer
	// wait is not waited: a write that still fails is a failed delivery (a *Refused the owner
	// is told of), and the next run tries again.
	MaxWait  time.Duration
	Attempts int
	// Sleep waits d before a retry, or until ctx ends (nil: a timer; the simulation's clock
	// in the fault simulation). MaxWait, Attempts and Sleep are read at each request, so a
	// caller may set them after NewGitHub.
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	app     *ghinstallation.AppsTransport
	base    string
	clients map[string]*github.Client // by owner, lowercase
}

// errNotConfigured: no App secret.
var errNotConfigured = errors.New("GitHub delivery is not configured (githubAppSecretArn)")

// appTransport is the App's JWT transport, the App's secret read on first use.
func (g *GitHub) appTransport(ctx context.Context) (*ghinstallation.AppsTransport, error) {
	if g == nil {
		return nil, errNotConfigured
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.app != nil {
		return g.app, nil
	}
	if g.SecretARN == "" || g.Secrets == nil {
		return nil, errNotConfigured
	}
	out, err := g.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(g.SecretARN)})
	if err != nil {
		return nil, fmt.Errorf("read the GitHub App's secret %s: %w", g.SecretARN, err)
	}
	var s GitHubAppSecret
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &s); err != nil || s.AppID == 0 || s.PrivateKey == "" {
		return nil, fmt.Errorf("the GitHub App's secret %s is not {\"appId\": ..., \"privateKey\": ...}", g.SecretARN) // no detail: it holds the key
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(s.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("the GitHub App's secret %s: its privateKey is not an RSA private key in PEM", g.SecretARN)
	}
	g.app = ghinstallation.NewAppsTransportFromPrivateKey(g.transport(), s.AppID, key)
	g.base = strings.TrimRight(s.APIURL, "/")
	if g.base != "" {
		g.app.BaseURL = g.base
	}
	return g.app, nil
}

// NewGitHub is the App with its ID, key and API URL given (tests, the simulation), not read
// from a secret.
func NewGitHub(appID int64, key *rsa.PrivateKey, apiURL string, allowed []string, transport http.RoundTripper) *GitHub {
	g := &GitHub{Allowed: allowed, Transport: transport, SecretARN: "(given)"}
	g.app = ghinstallation.NewAppsTransportFromPrivateKey(g.transport(), appID, key)
	g.base = strings.TrimRight(apiURL, "/")
	if g.base != "" {
		g.app.BaseURL = g.base
	}
	return g
}

func (g *GitHub) transport() http.RoundTripper {
	t := g.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return &retrying{next: t, g: g}
}

// sleep waits d, or until ctx ends.
func (g *GitHub) sleep(ctx context.Context, d time.Duration) error {
	if g.Sleep != nil {
		return g.Sleep(ctx, d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// newClient is a go-github client on transport t and the App's API URL.
func (g *GitHub) newClient(t http.RoundTripper) (*github.Client, error) {
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&http.Client{Transport: t, Timeout: 30 * time.Second})}
	if g.base != "" {
		opts = append(opts, github.WithEnterpriseURLs(g.base+"/", g.base+"/"))
	}
	return github.NewClient(opts...)
}

// installation is the client of the App's installation on owner, which must see repo; a
// *notInstalled when there is none.
func (g *GitHub) installation(ctx context.Context, owner, repo string) (*github.Client, error) {
	atr, err := g.appTransport(ctx)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	c := g.clients[strings.ToLower(owner)]
	g.mu.Unlock()
	if c != nil {
		return c, nil
	}
	appClient, err := g.newClient(atr)
	if err != nil {
		return nil, err
	}
	in, _, err := appClient.Apps.GetRepositoryInstallation(ctx, owner, repo)
	switch {
	case status(err) == http.StatusNotFound:
		return nil, &notInstalled{owner: owner, repo: repo}
	case err != nil:
		return nil, fmt.Errorf("find the GitHub App's installation on %s/%s: %w", owner, repo, err)
	}
	c, err = g.newClient(ghinstallation.NewFromAppsTransport(atr, in.GetID()))
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clients == nil {
		g.clients = map[string]*github.Client{}
	}
	g.clients[strings.ToLower(owner)] = c
	return c, nil
}

// forget drops owner's installation client (its installation revoked, or its token refused).
func (g *GitHub) forget(owner string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.clients, strings.ToLower(owner))
}

type notInstalled struct{ owner, repo string }

func (e *notInstalled) Error() string {
	return fmt.Sprintf("the rotator's GitHub App is not installed on %s (or was uninstalled, or cannot see %s)", e.owner, e.repo)
}

// status is the HTTP status of a failed GitHub call, 0 when it has none: an answer of the API
// (go-github's ErrorResponse and rate limit errors), or of the installation token's creation
// (ghinstallation's HTTPError: 404 once the App is uninstalled).
func status(err error) int {
	var apiErr *github.ErrorResponse
	var tokenErr *ghinstallation.HTTPError
	var abuse *github.AbuseRateLimitError
	var rate *github.RateLimitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &tokenErr) && tokenErr.Response != nil:
		return tokenErr.Response.StatusCode
	case errors.As(err, &apiErr) && apiErr.Response != nil:
		return apiErr.Response.StatusCode
	case errors.As(err, &abuse) && abuse.Response != nil:
		return abuse.Response.StatusCode
	case errors.As(err, &rate) && rate.Response != nil:
		return rate.Response.StatusCode
	}
	return 0
}

// retrying retries a request GitHub answers 5xx, or 403/429 with Retry-After (a secondary
// rate limit), waiting what it asks up to maxWait; a longer wait is not waited.
type retrying struct {
	next http.RoundTripper
	g    *GitHub // its MaxWait, Attempts and Sleep
}

func (r *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := r.next.RoundTrip(req)
		if err != nil || attempt >= cmp.Or(r.g.Attempts, 3) {
			return resp, err
		}
		wait, again := r.retryAfter(resp, attempt)
		if !again || req.Body != nil && req.GetBody == nil {
			return resp, nil
		}
		resp.Body.Close()
		if err := r.g.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// retryAfter says whether resp is worth another try, and after how long.
func (r *retrying) retryAfter(resp *http.Response, attempt int) (time.Duration, bool) {
	backoff := time.Duration(attempt) * 200 * time.Millisecond
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	switch {
	case resp.StatusCode >= 500:
		return backoff, true
	case resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests:
		return 0, false
	case err == nil && time.Duration(secs)*time.Second <= cmp.Or(r.g.MaxWait, 10*time.Second):
		return time.Duration(secs) * time.Second, true
	case resp.Header.Get("X-RateLimit-Remaining") == "0" || err == nil:
		return 0, false // a primary limit, or a wait longer than ours
	}
	return 0, false
}

// OpenGitHub is the GitHub destination to (a Target value starting with GitHubScheme) for
// accountID's users, through g.
func openGitHub(g *GitHub, accountID, to string) *gitHubDest {
	d := &gitHubDest{gh: g, accountID: accountID, names: GitHubNames}
	rest, names, _ := strings.Cut(strings.TrimPrefix(to, GitHubScheme), namesMark)
	if id, sec, ok := strings.Cut(names, ":"); ok {
		d.names = [2]string{id, sec}
	}
	if m := gitHubTarget.FindStringSubmatch(rest); m != nil {
		d.owner, d.repo, d.env = m[1], m[2], m[3]
	} else {
		d.owner, d.repo = rest, ""
	}
	return d
}

// gitHubDest is the GitHub Actions secrets destination: a repository's, or one environment's.
type gitHubDest struct {
	gh               *GitHub
	accountID        string
	owner, repo, env string
	names            [2]string
}

func (d *gitHubDest) Tag() string {
	t := GitHubScheme + d.owner + "/" + d.repo
	if d.env != "" {
		t += "/environments/" + d.env
	}
	return t
}

func (d *gitHubDest) String() string {
	if d.env != "" {
		return fmt.Sprintf("GitHub secrets %s and %s of environment %s of %s/%s", d.names[0], d.names[1], d.env, d.owner, d.repo)
	}
	return fmt.Sprintf("GitHub secrets %s and %s of %s/%s", d.names[0], d.names[1], d.owner, d.repo)
}

// AwaitsFirstUse: nobody can read a GitHub secret back.
func (d *gitHubDest) AwaitsFirstUse() bool { return true }

func (d *gitHubDest) refused(user, why string) *Refused {
	what := "GitHub repository"
	name := d.owner + "/" + d.repo
	if d.env != "" {
		what, name = "GitHub environment", name+" environment "+d.env
	}
	return &Refused{What: what, Secret: name, User: user, Why: why}
}

// optIn is the variable's value that lets user's keys in.
func (d *gitHubDest) optIn(user string) string { return d.accountID + "/" + user }

// client is the installation's client; refused says why there is none that may be used for
// user's keys (owner not allowed, App not configured or not installed).
func (d *gitHubDest) client(ctx context.Context, user string) (*github.Client, error) {
	if d.gh == nil || d.gh.SecretARN == "" {
		return nil, d.refused(user, errNotConfigured.Error())
	}
	if !slices.ContainsFunc(d.gh.allowed(), func(o string) bool { return strings.EqualFold(o, d.owner) }) {
		return nil, d.refused(user, fmt.Sprintf("its owner %s is not one of allowedGitHubOwners", d.owner))
	}
	c, err := d.gh.installation(ctx, d.owner, d.repo)
	var missing *notInstalled
	switch {
	case errors.Is(err, errNotConfigured):
		return nil, d.refused(user, err.Error())
	case errors.As(err, &missing):
		return nil, d.refused(user, missing.Error())
	}
	return c, err
}

func (g *GitHub) allowed() []string {
	if g == nil {
		return nil
	}
	return g.Allowed
}

// gone maps the answers that mean the installation may no longer be used (its token refused,
// 401, or not renewed, 404 from the token's creation) to a refusal, forgetting the client.
func (d *gitHubDest) gone(err error, user string) error {
	var tokenErr *ghinstallation.HTTPError
	if s := status(err); s == http.StatusUnauthorized || errors.As(err, &tokenErr) && (s == http.StatusNotFound || s == http.StatusForbidden) {
		d.gh.forget(d.owner)
		return d.refused(user, fmt.Sprintf("the rotator's GitHub App's installation on %s was revoked or suspended (HTTP %d)", d.owner, s))
	}
	return nil
}

// Check makes sure the owner is allowed, the App installed on it, and the repository or
// environment carries the variable GitHubOptInVariable = "<account ID>/<user>".
func (d *gitHubDest) Check(ctx context.Context, user string) error {
	if d.repo == "" {
		return d.refused(user, "it is not <owner>/<repo>")
	}
	c, err := d.client(ctx, user)
	if err != nil {
		return err
	}
	var v *github.ActionsVariable
	if d.env != "" {
		v, _, err = c.Actions.GetEnvVariable(ctx, d.owner, d.repo, d.env, GitHubOptInVariable)
	} else {
		v, _, err = c.Actions.GetRepoVariable(ctx, d.owner, d.repo, GitHubOptInVariable)
	}
	if gone := d.gone(err, user); gone != nil {
		return gone
	}
	switch {
	case status(err) == http.StatusNotFound:
		return d.refused(user, fmt.Sprintf("it lacks the Actions variable %s=%s (or does not exist, or the App cannot see it)", GitHubOptInVariable, d.optIn(user)))
	case err != nil:
		return fmt.Errorf("read the variable %s of %s for %s: %w", GitHubOptInVariable, d.Tag(), user, err)
	case strings.TrimSpace(v.Value) != d.optIn(user):
		return d.refused(user, fmt.Sprintf("its Actions variable %s names %q, not %s", GitHubOptInVariable, v.Value, d.optIn(user)))
	}
	return nil
}

// publicKey is the repository's or environment's public key; for an environment, go-github
// addresses it by the repository's ID.
func (d *gitHubDest) publicKey(ctx context.Context, c *github.Client) (*github.PublicKey, int, error) {
	if d.env == "" {
		k, _, err := c.Actions.GetRepoPublicKey(ctx, d.owner, d.repo)
		return k, 0, err
	}
	r, _, err := c.Repositories.Get(ctx, d.owner, d.repo)
	if err != nil {
		return nil, 0, err
	}
	k, _, err := c.Actions.GetEnvPublicKey(ctx, int(r.GetID()), d.env)
	return k, int(r.GetID()), err
}

// Put seals the key ID and the secret access key with the public key and writes them, the
// secret access key first.
func (d *gitHubDest) Put(ctx context.Context, user, keyID string, secretAccessKey secret.Secret) error {
	c, err := d.client(ctx, user)
	if err != nil {
		return err
	}
	failed := func(err error) error {
		if gone := d.gone(err, user); gone != nil {
			return gone
		}
		switch s := status(err); {
		case s == http.StatusNotFound:
			return d.refused(user, "it does not exist, or the App cannot see it")
		case s >= 500, s == http.StatusTooManyRequests, s == http.StatusForbidden:
			// Retried within the call already (retrying): a failed delivery the owner hears
			// of now, and the next run tries again (the key waits, within the bounded wait).
			return d.refused(user, fmt.Sprintf("GitHub answered HTTP %d to the write, also when tried again (an outage, a rate limit, or the App lacks the Secrets write permission)", s))
		}
		return fmt.Errorf("write key %s of %s to %s: %w", keyID, user, d, err)
	}
	key, repoID, err := d.publicKey(ctx, c)
	if err != nil {
		return failed(err)
	}
	raw, err := base64.StdEncoding.DecodeString(key.GetKey())
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("write key %s of %s to %s: its public key is not a curve25519 key", keyID, user, d)
	}
	var pub [32]byte
	copy(pub[:], raw)
	for _, w := range []struct{ name, value string }{{d.names[1], secretAccessKey.Reveal()}, {d.names[0], keyID}} {
		sealed, err := box.SealAnonymous(nil, []byte(w.value), &pub, rand.Reader)
		if err != nil {
			return fmt.Errorf("seal key %s of %s for %s: %w", keyID, user, d, err)
		}
		es := &github.EncryptedSecret{Name: w.name, KeyID: key.GetKeyID(), EncryptedValue: base64.StdEncoding.EncodeToString(sealed)}
		if d.env == "" {
			_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, d.owner, d.repo, es)
		} else {
			_, err = c.Actions.CreateOrUpdateEnvSecret(ctx, repoID, d.env, es)
		}
		if err != nil {
			return failed(err)
		}
	}
	return nil
}

// updated is when each of the two secrets was last written, zero for one that does not exist.
func (d *gitHubDest) updated(ctx context.Context, c *github.Client) ([2]time.Time, error) {
	var out [2]time.Time
	repoID := 0
	if d.env != "" {
		r, _, err := c.Repositories.Get(ctx, d.owner, d.repo)
		if err != nil {
			return out, err
		}
		repoID = int(r.GetID())
	}
	for i, name := range d.names {
		var s *github.Secret
		var err error
		if d.env == "" {
			s, _, err = c.Actions.GetRepoSecret(ctx, d.owner, d.repo, name)
		} else {
			s, _, err = c.Actions.GetEnvSecret(ctx, repoID, d.env, name)
		}
		switch {
		case status(err) == http.StatusNotFound:
		case err != nil:
			return out, err
		default:
			out[i] = s.UpdatedAt.Time
		}
	}
	return out, nil
}

// Find: the secrets hold the rotator's write of keyID when both were written since the key
// was made (written: its hand-off secret's creation), the confirmation GitHub allows (it
// tells no value, nor any version). Zero written, or an installation that is gone, cannot
// tell: Hidden.
func (d *gitHubDest) Find(ctx context.Context, keyID string, written time.Time) (State, error) {
	if written.IsZero() {
		return Hidden, nil
	}
	c, err := d.client(ctx, "")
	var refused *Refused
	if errors.As(err, &refused) {
		return Hidden, nil
	} else if err != nil {
		return Absent, err
	}
	at, err := d.updated(ctx, c)
	if gone := d.gone(err, ""); gone != nil {
		return Hidden, nil
	}
	if err != nil {
		return Absent, fmt.Errorf("read %s for key %s: %w", d, keyID, err)
	}
	since := written.Truncate(time.Second)
	if at[0].Before(since) || at[1].Before(since) {
		return Absent, nil
	}
	return Holds, nil
}

// Current: "" while both secrets exist; which one is missing otherwise. Which key they hold,
// GitHub does not tell: the keys' use does (policy.User.AwaitsFirstUse).
func (d *gitHubDest) Current(ctx context.Context, user, keyID string) (string, time.Time, error) {
	c, err := d.client(ctx, user)
	var refused *Refused
	if errors.As(err, &refused) {
		return refused.Error(), time.Time{}, nil
	} else if err != nil {
		return "", time.Time{}, err
	}
	at, err := d.updated(ctx, c)
	if gone := d.gone(err, user); gone != nil {
		return gone.Error(), time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read %s for key %s: %w", d, keyID, err)
	}
	for i, t := range at {
		if t.IsZero() {
			return fmt.Sprintf("GitHub secret %s of %s does not exist: it was deleted since the rotator wrote key %s", d.names[i], d.Tag(), keyID), time.Time{}, nil
		}
	}
	return "", time.Time{}, nil
}
