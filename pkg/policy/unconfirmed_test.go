package policy

import (
	"slices"
	"testing"
)

// TestUnconfirmedDeliveryFailedHoldsItsDayOnly: a DeliveryFailed notice sent by a run that
// could not see bounces (User.NoticesUnconfirmed) may have been read: the day it gave holds,
// the key does not go before it although the rules' earlier date has come and the owner was
// warned of that (NewKeyIssued). Past its day it holds the key no longer: the key goes by the
// other rules and their own warnings (campaign seed 8 day 46: held past its day for ever, no
// run sending a DeliveryFailed again once the secret held the new key).
func TestUnconfirmedDeliveryFailedHoldsItsDayOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replAge int
		want    []string
	}{
		{"before its day (the rules' date passed)", 15, []string{}},
		{"on its day", 20, []string{"DeactivateKey K1"}},
	} {
		u := warned(withEmail(key("K1", Active, 100, 0), key("K2", Active, tc.replAge, 0)), "K1")
		u.NoticesUnconfirmed = []NoticeRef{{DeliveryFailed, "K1"}}
		p := PlanUser(u, Config{}.WithDefaults(), now)
		if got := actions(p); !slices.Equal(got, tc.want) {
			t.Errorf("%s: actions %v, want %v", tc.name, got, tc.want)
		}
	}
}
