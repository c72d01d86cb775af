package bench

import (
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
)

// requestCounter sits between the workflow (its Lambdas, and the runner's Task states, which
// call with the state machine's role) and the stand-in and counts the requests it forwards
// by AWS service (the SigV4 credential scope's service: iam, sts, secretsmanager, ses, s3,
// ...), leaving out those signed with the key of the runner's and the seeder's own clients:
// what the rotator asked of AWS, whatever the SDK counts.
type requestCounter struct {
	url    string
	server *http.Server
	mu     sync.Mutex
	counts map[string]int
}

// runnerKey is the access key of sandbox.Config, the runner's own client.
const runnerKey = "AKIAKEYROTATORSANDBOX"

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request`)

func startCounter(target string) (*requestCounter, error) {
	to, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &requestCounter{url: "http://" + ln.Addr().String(), counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(to)
	c.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil && m[1] != runnerKey {
			c.mu.Lock()
			c.counts[m[2]]++
			c.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = c.server.Serve(ln) }()
	return c, nil
}

// byService returns the requests counted so far, by service.
func (c *requestCounter) byService() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

func (c *requestCounter) close() { _ = c.server.Close() }
