package notify

import (
	"crypto/rand"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// PasswordLength is the length of a zip password: 24 characters from a 56-symbol alphabet,
// about 139 bits.
const PasswordLength = 24

// passwordAlphabet leaves out the characters people confuse when they type a password from
// an email: 0/O/o, 1/l/I.
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"

// NewPassword returns a random zip password of PasswordLength characters from crypto/rand.
func NewPassword() secret.Secret {
	// Bytes at or above the largest multiple of the alphabet size are rejected, so that every
	// symbol is equally likely (a plain modulo would favour the first 256 % 56 symbols).
	const limit = 256 - 256%len(passwordAlphabet)
	password := make([]byte, 0, PasswordLength)
	buf := make([]byte, 2*PasswordLength)
	for len(password) < PasswordLength {
		rand.Read(buf) // never returns an error since Go 1.24; it crashes the program instead
		for _, b := range buf {
			if int(b) < limit && len(password) < PasswordLength {
				password = append(password, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return secret.New(string(password))
}
