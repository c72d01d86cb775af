package handoff

import (
	"crypto/rand"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// ZipPasswordLength is the length of a zip password: 24 characters from a 56-symbol alphabet,
// about 139 bits.
const ZipPasswordLength = 24

// passwordAlphabet leaves out the characters people confuse when they type a password from
// an email: 0/O/o, 1/l/I.
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"

// NewZipPassword returns a random zip password of ZipPasswordLength characters from crypto/rand.
func NewZipPassword() secret.Secret {
	// Bytes at or above the largest multiple of the alphabet size are rejected, so that every
	// symbol is equally likely (a plain modulo would favour the first 256 % 56 symbols).
	const limit = 256 - 256%len(passwordAlphabet)
	password := make([]byte, 0, ZipPasswordLength)
	buf := make([]byte, 2*ZipPasswordLength)
	for len(password) < ZipPasswordLength {
		rand.Read(buf) // never returns an error since Go 1.24; it crashes the program instead
		for _, b := range buf {
			if int(b) < limit && len(password) < ZipPasswordLength {
				password = append(password, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return secret.New(string(password))
}
