package appsecret

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// Destination is where a machine user's new keys go: a Secrets Manager secret or an SSM
// SecureString parameter of its member account, or GitHub Actions secrets. Each opts in
// (Check, before any key is made and again before the write: the resource tag OptInTag
// naming the user, or GitHub's Actions variable GitHubOptInVariable), takes the key
// idempotently (Put), and tells, without the rotator ever reading a value back, whether it
// holds the key (Find: the delivery is confirmed) and whether its current value is the key
// (Current: the old key may be deactivated). One that cannot tell which key it holds
// (AwaitsFirstUse) holds the old key until the new one is used.
type Destination interface {
	// Check makes sure the destination exists and opts in to user's keys; a refusal is a
	// *Refused.
	Check(ctx context.Context, user string) error
	// Put writes the key, without checking the opt-in first (Check); a refusal is a *Refused.
	Put(ctx context.Context, user, keyID string, secretAccessKey secret.Secret) error
	// Find tells whether the destination holds the rotator's write of keyID, a key made at
	// created (zero: not known).
	Find(ctx context.Context, keyID string, created time.Time) (State, error)
	// Current says why the destination's current value is not the rotator's write of keyID,
	// "" when it is; changed is when it last changed when known.
	Current(ctx context.Context, user, keyID string) (why string, changed time.Time, err error)
	// Tag is the KeyDelivery tag value that names it.
	Tag() string
	// String names it for people: "secret <name>", "SSM parameter <name>".
	String() string
	// AwaitsFirstUse: the destination cannot tell which key it holds (Current says only
	// whether it is there): the old key waits for the new key's first use
	// (policy.User.AwaitsFirstUse).
	AwaitsFirstUse() bool
}

// Clients are the APIs that the destinations are written through: the member account's, and
// the rotator's GitHub App, for the users of AccountID.
type Clients struct {
	Secrets   API
	Params    ParamAPI
	GitHub    *GitHub
	AccountID string
}

// Open is the destination to (handoff.Pending.DeliverTo, Target): a secret's bare name,
// ParamScheme and a parameter's name, PairScheme and a pair's prefix, or GitHubScheme and a
// repository (with its environment and names).
func (c Clients) Open(to string) Destination {
	if strings.HasPrefix(to, GitHubScheme) {
		return openGitHub(c.GitHub, c.AccountID, to)
	}
	if name, ok := strings.CutPrefix(to, ParamScheme); ok {
		return &parameter{ps: c.Params, name: name}
	}
	if prefix, ok := strings.CutPrefix(to, PairScheme); ok {
		return openPair(c.Params, prefix)
	}
	return &secretDest{sm: c.Secrets, name: to}
}

// Describe names the destination to for people (Destination.String).
func Describe(to string) string { return Clients{}.Open(to).String() }

// TagValue is the KeyDelivery tag value that names to (Destination.Tag).
func TagValue(to string) string { return Clients{}.Open(to).Tag() }

// secretDest is the Secrets Manager secret destination: Check, Put, Find and Current.
type secretDest struct {
	sm   API
	name string
}

func (d *secretDest) Check(ctx context.Context, user string) error {
	return Check(ctx, d.sm, d.name, user)
}
func (d *secretDest) Put(ctx context.Context, user, keyID string, s secret.Secret) error {
	return Put(ctx, d.sm, d.name, user, keyID, s)
}
func (d *secretDest) Find(ctx context.Context, keyID string, _ time.Time) (State, error) {
	return Find(ctx, d.sm, d.name, keyID)
}
func (d *secretDest) Current(ctx context.Context, user, keyID string) (string, time.Time, error) {
	return Current(ctx, d.sm, d.name, user, keyID)
}
func (d *secretDest) Tag() string          { return Scheme + d.name }
func (d *secretDest) AwaitsFirstUse() bool { return false }
func (d *secretDest) String() string       { return fmt.Sprintf("secret %s", d.name) }
