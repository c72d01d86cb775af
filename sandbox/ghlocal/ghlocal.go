// Package ghlocal is a local GitHub: the few REST endpoints the rotator's GitHub delivery
// calls (pkg/appsecret's github destination), written from GitHub's REST documentation, for
// unit tests (httptest) and for the stand-in (sandbox), where the Lambdas reach it by URL.
//
// It holds real curve25519 key pairs per repository and environment, so a test can open what
// the rotator sealed (nacl/box OpenAnonymous), as a workflow run would read the secret; it
// verifies the App's JWT (RS256, iss = the App ID) and issues installation tokens, which every
// other endpoint requires; an installation can be revoked (its token creation then answers 404
// and its tokens 401, as GitHub does for an uninstalled App), and any request can be made to
// fail on cue with a 5xx or a secondary rate limit (403 or 429 with retry-after). Secret values
// never leave it except through Open, and its request log holds methods, paths and statuses
// only.
package ghlocal

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"golang.org/x/crypto/nacl/box"
)

// Server is the local GitHub. Use it as an http.Handler (httptest.NewServer(s)).
type Server struct {
	// Now is the clock of created_at and updated_at (time.Now when nil): the stand-in moves
	// it with its own days.
	Now func() time.Time

	mu            sync.Mutex
	mux           *http.ServeMux
	apps          map[int64]*rsa.PublicKey
	installations map[int64]*installation
	tokens        map[string]token
	repos         map[string]*Repo // by "owner/name"
	nextID        int64
	faults        []*Fault
	log           []Request
}

type installation struct {
	id      int64
	appID   int64
	owner   string
	revoked bool
}

type token struct {
	installation int64
	expires      time.Time
}

// Repo is a repository: its Actions public key, secrets and variables, and its environments.
type Repo struct {
	ID           int64
	Owner, Name  string
	store        // the repository's own secrets and variables
	Environments map[string]*store
}

// store is a repository's or an environment's secrets, variables and key pair.
type store struct {
	keyID     string
	public    *[32]byte
	private   *[32]byte
	secrets   map[string]*storedSecret
	variables map[string]variable
}

type storedSecret struct {
	sealed           []byte
	created, updated time.Time
}

type variable struct {
	value            string
	created, updated time.Time
}

// Fault makes requests fail: the next Times requests (0: every one until cleared) whose
// "METHOD path" contains Match answer Status, with Retry-After seconds when RetryAfter > 0 and,
// for 403 or 429, the secondary rate limit's documentation_url.
type Fault struct {
	Match      string
	Status     int
	RetryAfter int
	Times      int
}

// Request is one request as the server logged it: no header, no body.
type Request struct {
	Method, Path string
	Status       int
}

// New is an empty local GitHub.
func New() *Server {
	s := &Server{apps: map[int64]*rsa.PublicKey{}, installations: map[int64]*installation{},
		tokens: map[string]token{}, repos: map[string]*Repo{}, nextID: 1000}
	m := http.NewServeMux()
	m.HandleFunc("POST /app/installations/{id}/access_tokens", s.createToken)
	m.HandleFunc("GET /repos/{owner}/{repo}/installation", s.repoInstallation)
	m.HandleFunc("GET /repos/{owner}/{repo}", s.authed(s.getRepo))
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/public-key", s.authed(s.publicKey))
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/secrets/{name}", s.authed(s.getSecret))
	m.HandleFunc("PUT /repos/{owner}/{repo}/actions/secrets/{name}", s.authed(s.putSecret))
	m.HandleFunc("GET /repos/{owner}/{repo}/actions/variables/{name}", s.authed(s.getVariable))
	m.HandleFunc("GET /repos/{owner}/{repo}/environments/{env}/secrets/public-key", s.authed(s.publicKey))
	m.HandleFunc("GET /repos/{owner}/{repo}/environments/{env}/secrets/{name}", s.authed(s.getSecret))
	m.HandleFunc("PUT /repos/{owner}/{repo}/environments/{env}/secrets/{name}", s.authed(s.putSecret))
	m.HandleFunc("GET /repos/{owner}/{repo}/environments/{env}/variables/{name}", s.authed(s.getVariable))
	// The legacy environment paths by repository ID, which google/go-github calls.
	m.HandleFunc("GET /repositories/{id}/environments/{env}/secrets/public-key", s.authed(s.publicKey))
	m.HandleFunc("GET /repositories/{id}/environments/{env}/secrets/{name}", s.authed(s.getSecret))
	m.HandleFunc("PUT /repositories/{id}/environments/{env}/secrets/{name}", s.authed(s.putSecret))
	s.mux = m
	return s
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// AddApp registers a GitHub App by its ID and public key (the App's private key signs its
// JWTs).
func (s *Server) AddApp(appID int64, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[appID] = key
}

// Install installs App appID on owner (an organization or user login), returning the
// installation's ID.
func (s *Server) Install(appID int64, owner string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.installations[s.nextID] = &installation{id: s.nextID, appID: appID, owner: strings.ToLower(owner)}
	return s.nextID
}

// Revoke uninstalls the App from owner: token creation answers 404, its tokens 401.
func (s *Server) Revoke(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.installations {
		if in.owner == strings.ToLower(owner) {
			in.revoked = true
		}
	}
}

// AddRepo creates owner/name with its key pair, and each named environment with its own.
func (s *Server) AddRepo(owner, name string, environments ...string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	r := &Repo{ID: s.nextID, Owner: owner, Name: name, store: newStore(s.nextID), Environments: map[string]*store{}}
	for _, env := range environments {
		s.nextID++
		st := newStore(s.nextID)
		r.Environments[env] = &st
	}
	s.repos[strings.ToLower(owner+"/"+name)] = r
	return r
}

func newStore(id int64) store {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("curve25519 key pair: %v", err))
	}
	return store{keyID: strconv.FormatInt(id*7919, 10), public: pub, private: priv,
		secrets: map[string]*storedSecret{}, variables: map[string]variable{}}
}

// SetVariable sets an Actions variable of the repository (env "") or of its environment, as
// its administrators would.
func (s *Server) SetVariable(owner, repo, env, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.storeOf(owner, repo, env)
	if st == nil {
		return fmt.Errorf("no repository %s/%s environment %q", owner, repo, env)
	}
	now := s.now()
	v, ok := st.variables[strings.ToUpper(name)]
	if !ok {
		v.created = now
	}
	v.value, v.updated = value, now
	st.variables[strings.ToUpper(name)] = v
	return nil
}

// WriteSecret writes a secret's plain value, as the repository's own people or IaC do (not
// through the rotator's App): created or updated now.
func (s *Server) WriteSecret(owner, repo, env, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.storeOf(owner, repo, env)
	if st == nil {
		return fmt.Errorf("no repository %s/%s environment %q", owner, repo, env)
	}
	sealed, err := box.SealAnonymous(nil, []byte(value), st.public, rand.Reader)
	if err != nil {
		return err
	}
	now := s.now()
	sec, ok := st.secrets[strings.ToUpper(name)]
	if !ok {
		sec = &storedSecret{created: now}
		st.secrets[strings.ToUpper(name)] = sec
	}
	sec.sealed, sec.updated = sealed, now
	return nil
}

// DeleteSecret deletes a secret, as an administrator may.
func (s *Server) DeleteSecret(owner, repo, env, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.storeOf(owner, repo, env); st != nil {
		delete(st.secrets, strings.ToUpper(name))
	}
}

// Open is the plain value of a secret, as a workflow reads it; ok false when it does not
// exist.
func (s *Server) Open(owner, repo, env, name string) (value string, updated time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.storeOf(owner, repo, env)
	if st == nil {
		return "", time.Time{}, false
	}
	sec, found := st.secrets[strings.ToUpper(name)]
	if !found {
		return "", time.Time{}, false
	}
	plain, opened := box.OpenAnonymous(nil, sec.sealed, st.public, st.private)
	return string(plain), sec.updated, opened
}

// Fail adds a fault (Fault).
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Log is every request so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) storeOf(owner, repo, env string) *store {
	r := s.repos[strings.ToLower(owner+"/"+repo)]
	switch {
	case r == nil:
		return nil
	case env == "":
		return &r.store
	}
	return r.Environments[env]
}

// statusWriter keeps the status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, Request{Method: r.Method, Path: r.URL.Path, Status: sw.status})
		s.mu.Unlock()
	}()
	path := strings.TrimPrefix(r.URL.Path, "/api/v3") // go-github's enterprise base URL
	r.URL.Path = path
	if f := s.fault(r.Method + " " + path); f != nil {
		if f.RetryAfter > 0 {
			sw.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		msg := "Server Error"
		doc := "https://docs.github.com/rest"
		if f.Status == http.StatusForbidden || f.Status == http.StatusTooManyRequests {
			msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
			doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		}
		writeJSON(sw, f.Status, map[string]string{"message": msg, "documentation_url": doc})
		return
	}
	s.mux.ServeHTTP(sw, r)
}

func (s *Server) fault(req string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.Contains(req, f.Match) {
			continue
		}
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

// bearer is the credential of the Authorization header ("Bearer x" or "token x").
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token "} {
		if v, ok := strings.CutPrefix(h, p); ok {
			return v
		}
	}
	return ""
}

// app verifies the request's App JWT (RS256, iss the App ID, iat and exp within ten minutes
// of each other, as GitHub requires), returning the App ID.
func (s *Server) app(r *http.Request) (int64, bool) {
	claims := jwt.RegisteredClaims{}
	parsed, err := jwt.ParseWithClaims(bearer(r), &claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v, want RS256", t.Header["alg"])
		}
		id, err := strconv.ParseInt(claims.Issuer, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("iss %q", claims.Issuer)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		key, ok := s.apps[id]
		if !ok {
			return nil, fmt.Errorf("no App %d", id)
		}
		return key, nil
	})
	if err != nil || !parsed.Valid || claims.ExpiresAt == nil || claims.IssuedAt == nil ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 11*time.Minute {
		return 0, false
	}
	id, _ := strconv.ParseInt(claims.Issuer, 10, 64)
	return id, true
}

// repoInstallation: GET /repos/{owner}/{repo}/installation, with the App's JWT.
func (s *Server) repoInstallation(w http.ResponseWriter, r *http.Request) {
	appID, ok := s.app(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := strings.ToLower(r.PathValue("owner"))
	if s.repos[owner+"/"+strings.ToLower(r.PathValue("repo"))] == nil {
		notFound(w)
		return
	}
	for _, in := range s.installations {
		if in.appID == appID && in.owner == owner && !in.revoked {
			writeJSON(w, http.StatusOK, map[string]any{"id": in.id, "app_id": in.appID,
				"account": map[string]any{"login": r.PathValue("owner")}})
			return
		}
	}
	notFound(w)
}

// createToken: POST /app/installations/{id}/access_tokens, with the App's JWT.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	appID, ok := s.app(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded"})
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installations[id]
	if in == nil || in.appID != appID || in.revoked {
		notFound(w)
		return
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	t := "ghs_" + base64.RawURLEncoding.EncodeToString(raw)
	expires := time.Now().Add(time.Hour).UTC()
	s.tokens[t] = token{installation: id, expires: expires}
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "expires_at": expires.Format(time.RFC3339),
		"permissions": map[string]string{"secrets": "write", "variables": "read", "metadata": "read"}})
}

// authed wraps a handler that needs an installation token of the repository's owner; it
// finds the repository (by owner/repo or ID) and the store the request names.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *Repo, *store)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.tokens[bearer(r)]
		in := s.installations[t.installation]
		if !ok || in == nil || in.revoked || time.Now().After(t.expires) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		var repo *Repo
		if id := r.PathValue("id"); id != "" {
			for _, c := range s.repos {
				if strconv.FormatInt(c.ID, 10) == id {
					repo = c
				}
			}
		} else {
			repo = s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		}
		if repo == nil || strings.ToLower(repo.Owner) != in.owner {
			notFound(w) // GitHub hides what the token may not see
			return
		}
		st := &repo.store
		if env := r.PathValue("env"); env != "" {
			if st = repo.Environments[env]; st == nil {
				notFound(w)
				return
			}
		}
		h(w, r, repo, st)
	}
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request, repo *Repo, _ *store) {
	writeJSON(w, http.StatusOK, map[string]any{"id": repo.ID, "name": repo.Name, "full_name": repo.Owner + "/" + repo.Name,
		"owner": map[string]any{"login": repo.Owner}})
}

func (s *Server) publicKey(w http.ResponseWriter, _ *http.Request, _ *Repo, st *store) {
	writeJSON(w, http.StatusOK, map[string]string{"key_id": st.keyID, "key": base64.StdEncoding.EncodeToString(st.public[:])})
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, _ *Repo, st *store) {
	name := strings.ToUpper(r.PathValue("name"))
	sec, ok := st.secrets[name]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name,
		"created_at": sec.created.Format(time.RFC3339), "updated_at": sec.updated.Format(time.RFC3339)})
}

// putSecret: 201 when created, 204 when updated; 422 for a key_id that is not the current
// public key's, or a value that the key pair does not open (GitHub decrypts it to store it).
func (s *Server) putSecret(w http.ResponseWriter, r *http.Request, _ *Repo, st *store) {
	var body struct {
		EncryptedValue string `json:"encrypted_value"`
		KeyID          string `json:"key_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request."})
		return
	}
	sealed, err := base64.StdEncoding.DecodeString(body.EncryptedValue)
	if body.KeyID != st.keyID || err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Bad request: key_id or encrypted_value"})
		return
	}
	if _, ok := box.OpenAnonymous(nil, sealed, st.public, st.private); !ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Bad request: encrypted_value cannot be decrypted"})
		return
	}
	name := strings.ToUpper(r.PathValue("name"))
	now := s.now()
	sec, ok := st.secrets[name]
	if !ok {
		sec = &storedSecret{created: now}
		st.secrets[name] = sec
	}
	sec.sealed, sec.updated = sealed, now
	if ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{})
}

func (s *Server) getVariable(w http.ResponseWriter, r *http.Request, _ *Repo, st *store) {
	name := strings.ToUpper(r.PathValue("name"))
	v, ok := st.variables[name]
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "value": v.value,
		"created_at": v.created.Format(time.RFC3339), "updated_at": v.updated.Format(time.RFC3339)})
}
