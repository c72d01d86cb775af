package appsecret

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// PairScheme starts DeliveryTag's value that names a pair of SSM parameters:
// "ssm-pair:<prefix>" delivers the key ID to <prefix>/aws_access_key_id (a String or a
// SecureString) and the secret access key to <prefix>/aws_secret_access_key (a
// SecureString), as many applications read them. Each parameter is one of ParamScheme's,
// opting in, written and recognised alike; the pair holds the key only while both do.
//
// Limit: two writes are not one. Between them, or when the second fails after the first
// took effect (its KMS key denies NotifyUser's role, its opt-in withdrawn in between), the
// application reads a key ID and a secret access key of two different keys, until the
// rotator writes again (a retry, or the next run: the key is not delivered meanwhile). The
// rotator writes the secret access key first and checks both parameters before either write;
// an application that can, reads the JSON form (ParamScheme).
const PairScheme = "ssm-pair:"

// The names of a pair's parameters under its prefix.
const (
	PairKeyIDName  = "aws_access_key_id"
	PairSecretName = "aws_secret_access_key"
)

// validPairPrefix reports whether prefix names a pair: a hierarchy (starting with "/") whose
// two parameter names are valid.
func validPairPrefix(prefix string) bool {
	return strings.HasPrefix(prefix, "/") && validParamName(prefix+"/"+PairSecretName)
}

// pair is the ssm-pair destination.
type pair struct {
	prefix        string
	keyID, secret *parameter
}

func openPair(ps ParamAPI, prefix string) *pair {
	return &pair{prefix: prefix,
		keyID:  &parameter{ps: ps, name: prefix + "/" + PairKeyIDName, plain: true, value: func(id string, _ secret.Secret) string { return id }},
		secret: &parameter{ps: ps, name: prefix + "/" + PairSecretName, value: func(_ string, s secret.Secret) string { return s.Reveal() }},
	}
}

func (p *pair) Tag() string          { return PairScheme + p.prefix }
func (p *pair) AwaitsFirstUse() bool { return false }
func (p *pair) String() string {
	return fmt.Sprintf("SSM parameters %s and %s", p.keyID.name, p.secret.name)
}

// both is the two parameters, the secret access key's first.
func (p *pair) both() []*parameter { return []*parameter{p.secret, p.keyID} }

func (p *pair) Check(ctx context.Context, user string) error {
	for _, q := range p.both() {
		if err := q.Check(ctx, user); err != nil {
			return err
		}
	}
	return nil
}

func (p *pair) Put(ctx context.Context, user, keyID string, secretAccessKey secret.Secret) error {
	for _, q := range p.both() {
		if err := q.Put(ctx, user, keyID, secretAccessKey); err != nil {
			return err
		}
	}
	return nil
}

// Find: Holds only when both parameters hold the rotator's write of keyID.
func (p *pair) Find(ctx context.Context, keyID string, created time.Time) (State, error) {
	for _, q := range p.both() {
		if st, err := q.Find(ctx, keyID, created); err != nil || st != Holds {
			return Absent, err
		}
	}
	return Holds, nil
}

// Current: "" only when both parameters' current versions are the rotator's write of keyID;
// otherwise why the first that is not, and when it changed.
func (p *pair) Current(ctx context.Context, user, keyID string) (string, time.Time, error) {
	for _, q := range p.both() {
		if why, changed, err := q.Current(ctx, user, keyID); why != "" || err != nil {
			return why, changed, err
		}
	}
	return "", time.Time{}, nil
}
