package sim

import (
	"fmt"
	"strings"
)

// leakChecks keep "no secret anywhere": no secret access key or zip password in what the
// Lambdas logged or returned.
type leakChecks struct{ *sim }

// all searches everything the Lambdas logged and returned for every secret made.
func (s leakChecks) all() {
	text := s.logs.String() + s.emitted.String()
	for _, secret := range s.secrets {
		if strings.Contains(text, secret) {
			s.violate("no secret anywhere", fmt.Sprintf("a secret of %d characters appears in the logs or payloads", len(secret)))
		}
	}
}
