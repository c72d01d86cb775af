package history

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Seal signs the values of the rotator's tags on IAM users, and verifies them when they are
// read: anyone allowed iam:TagUser in a member account can write a key-rotator:* tag, and the
// rotator trusts only what it wrote itself (docs/policy.md, "What the rotator trusts from
// tags"). The MAC is HMAC-SHA256, under a key only the rotator's Lambdas can read (a secret
// of the rotator account, SealKeySecret), over the account, the user name (lower-cased: IAM
// user names are unique whatever their case), the tag key (lower-cased: IAM compares tag
// keys so) and the value; its first 96 bits are appended to the value as " @" and 16
// base64url characters, which IAM allows in a tag value and which keep the longest value
// the rotator writes (the notices of two keys, 227 characters) within IAM's 256.
//
// A value whose MAC does not verify is treated as absent, which only ever postpones: no
// notice counts as delivered, every Inactive key counts as first seen today and deactivated
// by the rotator (its deletion waits a day and for its KeyDeactivated notice), a pending mark
// deletes nothing, an address is not given up.
type Seal struct{ key []byte }

// SealKeyMinBytes is the shortest key NewSeal accepts.
const SealKeyMinBytes = 32

// macSep starts the MAC in a signed value; macChars is the MAC's length in base64url.
const (
	macSep   = " @"
	macBytes = 12
)

var macChars = base64.RawURLEncoding.EncodedLen(macBytes)

// NewSeal makes a Seal from the key's bytes.
func NewSeal(key []byte) (*Seal, error) {
	if len(key) < SealKeyMinBytes {
		return nil, fmt.Errorf("the rotator's tag key has %d bytes, need at least %d", len(key), SealKeyMinBytes)
	}
	return &Seal{key: append([]byte(nil), key...)}, nil
}

// SealKeyAPI is the call that reads the tag key.
type SealKeyAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadSeal reads the tag key from its secret (config.TagKeySecretARN), once per Lambda start.
func LoadSeal(ctx context.Context, sm SealKeyAPI, secretID string) (*Seal, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return nil, fmt.Errorf("read the rotator's tag key %s: %w", secretID, err)
	}
	return NewSeal([]byte(aws.ToString(out.SecretString)))
}

func (s *Seal) mac(account, user, key, value string) string {
	h := hmac.New(sha256.New, s.key)
	for _, part := range []string{"key-rotator-tag-v1", account, strings.ToLower(user), strings.ToLower(key), value} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:macBytes])
}

// Sign is the tag value that carries value for the user's tag key in account. An empty value
// stays empty: the tag is removed, not written.
func (s *Seal) Sign(account, user, key, value string) string {
	if value == "" {
		return ""
	}
	return value + macSep + s.mac(account, user, key, value)
}

// Open returns the value a signed tag value carries, and whether its MAC verifies for the
// account, user and tag key.
func (s *Seal) Open(account, user, key, signed string) (string, bool) {
	i := len(signed) - len(macSep) - macChars
	if i < 1 || signed[i:i+len(macSep)] != macSep {
		return "", false
	}
	value, got := signed[:i], signed[i+len(macSep):]
	return value, hmac.Equal([]byte(got), []byte(s.mac(account, user, key, value)))
}

// Signed are the rotator's tags whose values it signs.
var Signed = []string{NoticesTag, PendingTag, DeactivatedTag, UndeliverableTag}

// OpenTags replaces, in a user's tags, the value of each rotator tag by the value it carries
// (under the tag's key as the rotator spells it), and removes each whose MAC does not verify;
// it returns those, by the rotator's spelling of their keys, with their values as read.
func (s *Seal) OpenTags(account, user string, tags map[string]string) (untrusted map[string]string) {
	for _, key := range slices.Collect(maps.Keys(tags)) {
		value, canonical := tags[key], signedKey(key)
		if canonical == "" {
			continue
		}
		delete(tags, key)
		if opened, ok := s.Open(account, user, canonical, value); ok {
			tags[canonical] = opened
			continue
		}
		if untrusted == nil {
			untrusted = map[string]string{}
		}
		untrusted[canonical] = value
	}
	return untrusted
}

// signedKey is the signed rotator tag that key names, as IAM compares tag keys; "" for any
// other tag.
func signedKey(key string) string {
	for _, k := range Signed {
		if strings.EqualFold(k, key) {
			return k
		}
	}
	return ""
}
