package sandboxtest

import (
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
)

func TestMovedHistory(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name, key, value string
		d                time.Duration
		want             string
		ok               bool
	}{
		{"pending mark by minutes", history.PendingTag, "2027-01-10T13:00:00Z run-1", 10 * time.Minute, "2027-01-10T12:50:00Z run-1", true},
		{"pending mark without run", history.PendingTag, "2027-01-10T13:00:00Z", day, "2027-01-09T13:00:00Z", true},
		{"unreadable pending mark", history.PendingTag, "yesterday", day, "", false},
		{"notices by a day", history.NoticesTag, "AKIA1:NK:20270110 AKIA2:DS", day, "AKIA1:NK:20270109 AKIA2:DS", true},
		{"notices under a day", history.NoticesTag, "AKIA1:NK:20270110", time.Hour, "AKIA1:NK:20270110", true},
		{"notices in no known format", history.NoticesTag, "AKIA1:??:20270110", day, "", false},
		{"deactivated by two days", history.DeactivatedTag, "AKIA1:2027-01-10 AKIA2:2027-01-01:R", 2 * day, "AKIA1:2027-01-08 AKIA2:2026-12-30:R", true},
		{"an owner's tag", "EmailID", "2027-01-10T13:00:00Z", day, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := movedHistory(tt.key, tt.value, tt.d, int(tt.d/day))
			if got != tt.want || ok != tt.ok {
				t.Errorf("movedHistory(%s, %q, %s) = %q, %v; want %q, %v", tt.key, tt.value, tt.d, got, ok, tt.want, tt.ok)
			}
		})
	}
}
