package handoff

import (
	"math"
	"strings"
	"testing"
)

func TestNewPassword(t *testing.T) {
	const n = 2000
	seen := make(map[string]bool, n)
	counts := make(map[rune]int)
	for range n {
		pw := NewZipPassword().Reveal()
		if len(pw) != ZipPasswordLength {
			t.Fatalf("password length %d, want %d", len(pw), ZipPasswordLength)
		}
		for _, c := range pw {
			if !strings.ContainsRune(passwordAlphabet, c) {
				t.Fatalf("password has %q, which is not in the alphabet", c)
			}
			counts[c]++
		}
		if seen[pw] {
			t.Fatalf("password repeated after %d draws", len(seen))
		}
		seen[pw] = true
	}

	// Chi-square over the symbol counts: a uniform draw stays far below the bound (p < 1e-6
	// for 55 degrees of freedom is about 120), while a modulo bias (the first 256 % 56 = 32
	// symbols 25% more likely) gives several hundred.
	expected := float64(n*ZipPasswordLength) / float64(len(passwordAlphabet))
	var chi2 float64
	for _, c := range passwordAlphabet {
		d := float64(counts[c]) - expected
		chi2 += d * d / expected
	}
	if chi2 > 120 || math.IsNaN(chi2) {
		t.Errorf("symbol counts are not uniform: chi-square %.1f over %d symbols", chi2, len(passwordAlphabet))
	}
}

func TestPasswordAlphabet(t *testing.T) {
	for _, c := range "0Oo1lI" {
		if strings.ContainsRune(passwordAlphabet, c) {
			t.Errorf("alphabet has the ambiguous %q", c)
		}
	}
	seen := map[rune]bool{}
	for _, c := range passwordAlphabet {
		if seen[c] {
			t.Errorf("alphabet has %q twice, which would favour it", c)
		}
		seen[c] = true
	}
}
