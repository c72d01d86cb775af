package appsecret

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// Destination is where a machine user's new keys go in its member account: a Secrets
// Manager secret or an SSM SecureString parameter. Each opts in with the resource tag
// OptInTag naming the user (Check, before any key is made and again before the write), takes
// the key idempotently as {"AccessKeyId": ..., "SecretAccessKey": ...} (Put), and tells,
// without the rotator ever reading a value back, whether it holds the key (Find: the
// delivery is confirmed) and whether its current value is the key (Current: the old key may
// be deactivated).
type Destination interface {
	// Check makes sure the destination exists and opts in to user's keys; a refusal is a
	// *Refused.
	Check(ctx context.Context, user string) error
	// Put writes the key, without checking the opt-in first (Check); a refusal is a *Refused.
	Put(ctx context.Context, user, keyID string, secretAccessKey secret.Secret) error
	// Find tells whether the destination holds the rotator's write of keyID.
	Find(ctx context.Context, keyID string) (State, error)
	// Current says why the destination's current value is not the rotator's write of keyID,
	// "" when it is; changed is when it last changed when known.
	Current(ctx context.Context, user, keyID string) (why string, changed time.Time, err error)
	// Tag is the KeyDelivery tag value that names it.
	Tag() string
	// String names it for people: "secret <name>", "SSM parameter <name>".
	String() string
}

// Clients are the member account's APIs that the destinations are written through.
type Clients struct {
	Secrets API
	Params  ParamAPI
}

// Open is the destination to (handoff.Pending.DeliverTo, Target): a secret's bare name,
// ParamScheme and a parameter's name, or PairScheme and a pair's prefix.
func (c Clients) Open(to string) Destination {
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
func (d *secretDest) Find(ctx context.Context, keyID string) (State, error) {
	return Find(ctx, d.sm, d.name, keyID)
}
func (d *secretDest) Current(ctx context.Context, user, keyID string) (string, time.Time, error) {
	return Current(ctx, d.sm, d.name, user, keyID)
}
func (d *secretDest) Tag() string    { return Scheme + d.name }
func (d *secretDest) String() string { return fmt.Sprintf("secret %s", d.name) }
