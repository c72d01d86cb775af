package sandbox

import (
	"slices"
	"testing"
)

func TestUniqueAddressesKeepsFirstOfEach(t *testing.T) {
	got := UniqueAddresses([]string{"a@example.com", "b@example.com", "a@example.com"})
	if !slices.Equal(got, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("UniqueAddresses = %v", got)
	}
}
