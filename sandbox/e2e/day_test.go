package e2e

import (
	"testing"
	"time"
)

func TestWaitForADay(t *testing.T) {
	for _, tt := range []struct {
		now  string
		want time.Duration
	}{
		{"2026-11-30T12:00:00Z", 0},
		{"2026-11-30T23:49:59Z", 0},
		{"2026-11-30T23:55:00Z", 5*time.Minute + time.Second},
		{"2026-11-30T23:59:59Z", 2 * time.Second},
		{"2026-12-01T00:00:00Z", 0},
	} {
		now, _ := time.Parse(time.RFC3339, tt.now)
		if got := waitForADay(now, 10*time.Minute); got != tt.want {
			t.Errorf("waitForADay(%s) = %s, want %s", tt.now, got, tt.want)
		}
	}
}
