package ghlocal

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"golang.org/x/crypto/nacl/box"
)

// appJWT is an App's JWT as GitHub documents it: RS256, iss the App ID, iat a minute back,
// exp at most ten minutes on.
func appJWT(t *testing.T, key *rsa.PrivateKey, appID int64, lifetime time.Duration) string {
	t.Helper()
	now := time.Now()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: strconv.FormatInt(appID, 10), IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func call(t *testing.T, srv *httptest.Server, method, path, auth, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// TestLocalGitHubAnswersAsTheRESTDocsSay: installation tokens only for a valid App JWT of an
// installed App (401 for another key or a JWT over ten minutes, 404 once uninstalled); every
// other endpoint only with a live token of the repository's owner; PUT secret 201 then 204,
// 422 for another key_id or a value its key pair does not open; GET secret without its value;
// faults answer with Retry-After and the secondary rate limit's documentation_url.
func TestLocalGitHubAnswersAsTheRESTDocsSay(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	s := New()
	s.AddApp(1, &key.PublicKey)
	id := s.Install(1, "org")
	s.AddRepo("org", "repo")
	s.AddRepo("elsewhere", "repo")
	srv := httptest.NewServer(s)
	defer srv.Close()
	tokenPath := "/app/installations/" + strconv.FormatInt(id, 10) + "/access_tokens"

	for _, tc := range []struct {
		name string
		jwt  string
		want int
	}{
		{"another key", appJWT(t, other, 1, 5*time.Minute), http.StatusUnauthorized},
		{"over ten minutes", appJWT(t, key, 1, time.Hour), http.StatusUnauthorized},
		{"valid", appJWT(t, key, 1, 5*time.Minute), http.StatusCreated},
	} {
		if resp, _ := call(t, srv, "POST", tokenPath, "Bearer "+tc.jwt, ""); resp.StatusCode != tc.want {
			t.Errorf("token with %s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	_, tok := call(t, srv, "POST", tokenPath, "Bearer "+appJWT(t, key, 1, 5*time.Minute), "")
	auth := "token " + tok["token"].(string)
	if resp, _ := call(t, srv, "GET", "/repos/elsewhere/repo/actions/secrets/public-key", auth, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another owner's repository: %d, want 404", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/repos/org/repo/actions/secrets/public-key", "token nope", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bad token: %d, want 401", resp.StatusCode)
	}
	_, pk := call(t, srv, "GET", "/repos/org/repo/actions/secrets/public-key", auth, "")
	raw, _ := base64.StdEncoding.DecodeString(pk["key"].(string))
	var pub [32]byte
	copy(pub[:], raw)
	sealed, _ := box.SealAnonymous(nil, []byte("value"), &pub, rand.Reader)
	put := func(keyID string, value []byte) int {
		body, _ := json.Marshal(map[string]string{"key_id": keyID, "encrypted_value": base64.StdEncoding.EncodeToString(value)})
		resp, _ := call(t, srv, "PUT", "/repos/org/repo/actions/secrets/NAME", auth, string(body))
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"wrong key_id", put("1", sealed)}, {"not sealed for it", put(pk["key_id"].(string), []byte("plain"))},
		{"created", put(pk["key_id"].(string), sealed)}, {"updated", put(pk["key_id"].(string), sealed)},
	} {
		want := map[string]int{"wrong key_id": 422, "not sealed for it": 422, "created": 201, "updated": 204}[tc.name]
		if tc.status != want {
			t.Errorf("PUT secret, %s: %d, want %d", tc.name, tc.status, want)
		}
	}
	if _, got := call(t, srv, "GET", "/repos/org/repo/actions/secrets/NAME", auth, ""); got["updated_at"] == nil || got["value"] != nil {
		t.Errorf("GET secret: %v, want its dates and no value", got)
	}
	if v, _, ok := s.Open("org", "repo", "", "NAME"); !ok || v != "value" {
		t.Errorf("Open: %q %v", v, ok)
	}
	s.Fail(Fault{Match: "GET /repos/org/repo/", Status: http.StatusTooManyRequests, RetryAfter: 7, Times: 1})
	resp, body := call(t, srv, "GET", "/repos/org/repo/actions/secrets/NAME", auth, "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.HasSuffix(body["documentation_url"].(string), "secondary-rate-limits") {
		t.Errorf("a secondary rate limit: %d %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	s.Revoke("org")
	if resp, _ := call(t, srv, "POST", tokenPath, "Bearer "+appJWT(t, key, 1, 5*time.Minute), ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("token once uninstalled: %d, want 404", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/repos/org/repo/actions/secrets/NAME", auth, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token of an uninstalled App: %d, want 401", resp.StatusCode)
	}
	for _, r := range s.Log() {
		if strings.Contains(r.Path, "value") {
			t.Errorf("the log holds a value: %v", r)
		}
	}
}
