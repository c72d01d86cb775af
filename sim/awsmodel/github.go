package awsmodel

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"golang.org/x/crypto/nacl/box"
)

// GitHub is the model of the GitHub REST endpoints the rotator's GitHub delivery calls
// (pkg/appsecret github.go), dated by the World's clock, its faults decided by the World's
// Inject (Service "GitHub", the operation, Account the owner), and reached through an
// http.RoundTripper (Transport) instead of a network. Secrets are kept as the plain values
// their sealed boxes open to, as a workflow reads them. It is kept honest by a conformance
// test against the local GitHub of the stand-in (sandbox/ghlocal), which is written from
// GitHub's REST documentation.
type GitHub struct {
	w             *World
	apps          map[int64]*rsa.PublicKey
	installations map[string]*ghInstallation // by owner, lowercase
	tokens        map[string]string          // token → owner, lowercase
	repos         map[string]*ghRepo         // by "owner/name", lowercase
	next          int64
	mux           *http.ServeMux
}

type ghInstallation struct {
	id      int64
	app     int64
	revoked bool
}

type ghRepo struct {
	id     int64
	owner  string
	own    *ghStore
	envs   map[string]*ghStore
	byName string
}

type ghStore struct {
	keyID     string
	pub, priv *[32]byte
	secrets   map[string]GitHubSecret
	variables map[string]string
}

// GitHubSecret is a secret as the model holds it: what a workflow reads, and when it was
// last written.
type GitHubSecret struct {
	Value            string
	Created, Updated time.Time
}

// GitHub returns the World's GitHub, made on first use.
func (w *World) GitHub() *GitHub {
	if w.github == nil {
		g := &GitHub{w: w, apps: map[int64]*rsa.PublicKey{}, installations: map[string]*ghInstallation{},
			tokens: map[string]string{}, repos: map[string]*ghRepo{}, next: 100}
		m := http.NewServeMux()
		m.HandleFunc("POST /app/installations/{id}/access_tokens", g.token)
		m.HandleFunc("GET /repos/{owner}/{repo}/installation", g.installation)
		m.HandleFunc("GET /repos/{owner}/{repo}", g.with(func(w http.ResponseWriter, r *http.Request, repo *ghRepo, _ *ghStore) {
			reply(w, http.StatusOK, map[string]any{"id": repo.id, "name": repo.byName})
		}))
		for _, prefix := range []string{"/repos/{owner}/{repo}/actions", "/repos/{owner}/{repo}/environments/{env}", "/repositories/{id}/environments/{env}"} {
			m.HandleFunc("GET "+prefix+"/secrets/public-key", g.with(g.publicKey))
			m.HandleFunc("GET "+prefix+"/secrets/{name}", g.with(g.getSecret))
			m.HandleFunc("PUT "+prefix+"/secrets/{name}", g.with(g.putSecret))
			m.HandleFunc("GET "+prefix+"/variables/{name}", g.with(g.getVariable))
		}
		g.mux = m
		w.github = g
	}
	return w.github
}

// AddApp registers the rotator's App by its ID and public key.
func (g *GitHub) AddApp(appID int64, key *rsa.PublicKey) { g.apps[appID] = key }

// Install installs App appID on owner.
func (g *GitHub) Install(appID int64, owner string) {
	g.next++
	g.installations[strings.ToLower(owner)] = &ghInstallation{id: g.next, app: appID}
}

// Revoke uninstalls the App from owner: no token is made for it any more, and its tokens fail.
func (g *GitHub) Revoke(owner string) {
	if in := g.installations[strings.ToLower(owner)]; in != nil {
		in.revoked = true
	}
}

// AddRepo creates owner/name and its environments, each with a key pair from the World's
// generator.
func (g *GitHub) AddRepo(owner, name string, environments ...string) {
	r := &ghRepo{id: g.nextID(), owner: strings.ToLower(owner), own: g.store(), envs: map[string]*ghStore{}, byName: name}
	for _, e := range environments {
		r.envs[e] = g.store()
	}
	g.repos[strings.ToLower(owner+"/"+name)] = r
}

func (g *GitHub) nextID() int64 { g.next++; return g.next }

func (g *GitHub) store() *ghStore {
	pub, priv, err := box.GenerateKey(readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(g.w.rand.IntN(256))
		}
		return len(p), nil
	}))
	if err != nil {
		panic(err)
	}
	return &ghStore{keyID: strconv.FormatInt(g.nextID(), 10), pub: pub, priv: priv, secrets: map[string]GitHubSecret{}, variables: map[string]string{}}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (g *GitHub) storeOf(owner, repo, env string) *ghStore {
	r := g.repos[strings.ToLower(owner+"/"+repo)]
	switch {
	case r == nil:
		return nil
	case env == "":
		return r.own
	}
	return r.envs[env]
}

// SetVariable sets an Actions variable of the repository (env "") or of its environment.
func (g *GitHub) SetVariable(owner, repo, env, name, value string) error {
	st := g.storeOf(owner, repo, env)
	if st == nil {
		return fmt.Errorf("no repository %s/%s environment %q", owner, repo, env)
	}
	st.variables[strings.ToUpper(name)] = value
	return nil
}

// Secret is a secret as a workflow reads it.
func (g *GitHub) Secret(owner, repo, env, name string) (GitHubSecret, bool) {
	st := g.storeOf(owner, repo, env)
	if st == nil {
		return GitHubSecret{}, false
	}
	s, ok := st.secrets[strings.ToUpper(name)]
	return s, ok
}

// GitHubRequest is a GitHub call's Input (Call.Input): its method and path, without the
// API's prefix ("/repos/<owner>/<repo>/actions/secrets/<name>").
type GitHubRequest struct{ Method, Path string }

// Transport reaches the model as the rotator's HTTP client would reach GitHub.
func (g *GitHub) Transport() http.RoundTripper { return ghTransport{g} }

type ghTransport struct{ g *GitHub }

// RoundTrip serves one request, after the World's Inject: Throttle answers a secondary
// rate limit (403, no Retry-After), ServerError 503, LostResponse and Retried apply the
// request and lose, or repeat, its answer, CrashBefore crashes.
func (t ghTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.g
	path := strings.TrimPrefix(req.URL.Path, "/api/v3")
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	serve := func() *http.Response {
		r := req.Clone(req.Context())
		r.URL.Path = path
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		g.mux.ServeHTTP(rec, r)
		resp := rec.Result()
		resp.Request = req
		return resp
	}
	f := None
	if g.w.Inject != nil {
		owner := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(path, "/repos/"), "/repositories/"), "/", 2)[0]
		f = g.w.Inject(Call{Service: "GitHub", Operation: req.Method + " " + ghOperation(path), Account: owner, Input: GitHubRequest{Method: req.Method, Path: path}})
	}
	switch f {
	case CrashBefore:
		panic(Crash{Call: Call{Service: "GitHub", Operation: req.Method + " " + ghOperation(path)}})
	case Throttle:
		return fake(req, http.StatusForbidden, nil, map[string]string{"message": "You have exceeded a secondary rate limit.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}), nil
	case ServerError:
		return fake(req, http.StatusServiceUnavailable, nil, map[string]string{"message": "Service Unavailable"}), nil
	case LostResponse:
		serve()
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, io.ErrUnexpectedEOF)
	case Retried:
		serve()
	}
	return serve(), nil
}

// ghOperation names a path's operation by its shape: "repos/actions/secrets/{name}".
func ghOperation(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 4 && parts[0] == "repos":
		return strings.Join(parts[3:], "/")
	case len(parts) >= 3 && parts[0] == "repositories":
		return strings.Join(parts[2:], "/")
	}
	return path
}

func fake(req *http.Request, status int, header http.Header, v any) *http.Response {
	rec := httptest.NewRecorder()
	for k, vs := range header {
		rec.Header()[k] = vs
	}
	reply(rec, status, v)
	resp := rec.Result()
	resp.Request = req
	return resp
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func notFoundGH(w http.ResponseWriter) {
	reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

func bearerOf(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "token "} {
		if v, ok := strings.CutPrefix(h, p); ok {
			return v
		}
	}
	return ""
}

// app verifies the App's JWT (RS256, iss the App ID, at most ten minutes long).
func (g *GitHub) app(r *http.Request) (int64, bool) {
	claims := jwt.RegisteredClaims{}
	tok, err := jwt.ParseWithClaims(bearerOf(r), &claims, func(t *jwt.Token) (any, error) {
		id, _ := strconv.ParseInt(claims.Issuer, 10, 64)
		if key := g.apps[id]; key != nil && t.Method == jwt.SigningMethodRS256 {
			return key, nil
		}
		return nil, fmt.Errorf("no App %q", claims.Issuer)
	})
	if err != nil || !tok.Valid || claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 11*time.Minute {
		return 0, false
	}
	id, _ := strconv.ParseInt(claims.Issuer, 10, 64)
	return id, true
}

func (g *GitHub) installation(w http.ResponseWriter, r *http.Request) {
	app, ok := g.app(r)
	if !ok {
		reply(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	in := g.installations[strings.ToLower(r.PathValue("owner"))]
	if in == nil || in.revoked || in.app != app || g.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))] == nil {
		notFoundGH(w)
		return
	}
	reply(w, http.StatusOK, map[string]any{"id": in.id, "app_id": in.app})
}

func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	app, ok := g.app(r)
	if !ok {
		reply(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for owner, in := range g.installations {
		if in.id == id && in.app == app && !in.revoked {
			t := "ghs_" + g.w.randomString(alnum, 36)
			g.tokens[t] = owner
			reply(w, http.StatusCreated, map[string]any{"token": t, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
			return
		}
	}
	notFoundGH(w)
}

// with serves a request that needs a token of the repository's owner.
func (g *GitHub) with(h func(http.ResponseWriter, *http.Request, *ghRepo, *ghStore)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		owner, ok := g.tokens[bearerOf(r)]
		if in := g.installations[owner]; !ok || in == nil || in.revoked {
			reply(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
			return
		}
		var repo *ghRepo
		if id := r.PathValue("id"); id != "" {
			for _, c := range g.repos {
				if strconv.FormatInt(c.id, 10) == id {
					repo = c
				}
			}
		} else {
			repo = g.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		}
		if repo == nil || repo.owner != owner {
			notFoundGH(w)
			return
		}
		st := repo.own
		if env := r.PathValue("env"); env != "" {
			if st = repo.envs[env]; st == nil {
				notFoundGH(w)
				return
			}
		}
		h(w, r, repo, st)
	}
}

func (g *GitHub) publicKey(w http.ResponseWriter, _ *http.Request, _ *ghRepo, st *ghStore) {
	reply(w, http.StatusOK, map[string]string{"key_id": st.keyID, "key": base64.StdEncoding.EncodeToString(st.pub[:])})
}

func (g *GitHub) getSecret(w http.ResponseWriter, r *http.Request, _ *ghRepo, st *ghStore) {
	s, ok := st.secrets[strings.ToUpper(r.PathValue("name"))]
	if !ok {
		notFoundGH(w)
		return
	}
	reply(w, http.StatusOK, map[string]string{"name": strings.ToUpper(r.PathValue("name")),
		"created_at": s.Created.Format(time.RFC3339), "updated_at": s.Updated.Format(time.RFC3339)})
}

func (g *GitHub) putSecret(w http.ResponseWriter, r *http.Request, _ *ghRepo, st *ghStore) {
	var in struct {
		KeyID          string `json:"key_id"`
		EncryptedValue string `json:"encrypted_value"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	sealed, err := base64.StdEncoding.DecodeString(in.EncryptedValue)
	plain, opened := box.OpenAnonymous(nil, sealed, st.pub, st.priv)
	if err != nil || in.KeyID != st.keyID || !opened {
		reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "Bad request"})
		return
	}
	name, now := strings.ToUpper(r.PathValue("name")), g.w.now()
	s, existed := st.secrets[name]
	if !existed {
		s.Created = now
	}
	s.Value, s.Updated = string(plain), now
	st.secrets[name] = s
	if existed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reply(w, http.StatusCreated, map[string]any{})
}

func (g *GitHub) getVariable(w http.ResponseWriter, r *http.Request, _ *ghRepo, st *ghStore) {
	v, ok := st.variables[strings.ToUpper(r.PathValue("name"))]
	if !ok {
		notFoundGH(w)
		return
	}
	reply(w, http.StatusOK, map[string]string{"name": strings.ToUpper(r.PathValue("name")), "value": v})
}

// Reinstall installs App appID on owner again after Revoke (a new installation).
func (g *GitHub) Reinstall(appID int64, owner string) { g.Install(appID, owner) }

// Installed reports whether an App is installed on owner and not revoked.
func (g *GitHub) Installed(owner string) bool {
	in := g.installations[strings.ToLower(owner)]
	return in != nil && !in.revoked
}

// Variable is an Actions variable of the repository (env "") or of its environment.
func (g *GitHub) Variable(owner, repo, env, name string) (string, bool) {
	st := g.storeOf(owner, repo, env)
	if st == nil {
		return "", false
	}
	v, ok := st.variables[strings.ToUpper(name)]
	return v, ok
}

// DeleteVariable removes an Actions variable (its administrators withdraw the opt-in).
func (g *GitHub) DeleteVariable(owner, repo, env, name string) {
	if st := g.storeOf(owner, repo, env); st != nil {
		delete(st.variables, strings.ToUpper(name))
	}
}

// WriteSecret writes a secret as its repository's own people or IaC do (not through the
// rotator's App): created or updated now.
func (g *GitHub) WriteSecret(owner, repo, env, name, value string) error {
	st := g.storeOf(owner, repo, env)
	if st == nil {
		return fmt.Errorf("no repository %s/%s environment %q", owner, repo, env)
	}
	name, now := strings.ToUpper(name), g.w.now()
	s, existed := st.secrets[name]
	if !existed {
		s.Created = now
	}
	s.Value, s.Updated = value, now
	st.secrets[name] = s
	return nil
}

// DeleteSecret deletes a secret as its repository's people do.
func (g *GitHub) DeleteSecret(owner, repo, env, name string) {
	if st := g.storeOf(owner, repo, env); st != nil {
		delete(st.secrets, strings.ToUpper(name))
	}
}
