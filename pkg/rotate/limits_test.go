package rotate

import (
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// TestEveryWriterFitsTheNotificationLimit: users with writes always notify, so maxUsers' upper
// bound must stay below an account's notification limit.
func TestEveryWriterFitsTheNotificationLimit(t *testing.T) {
	if policy.MaxMaxUsers >= DefaultMaxNotifications {
		t.Errorf("maxUsers may be %d, not below the notification limit %d", policy.MaxMaxUsers, DefaultMaxNotifications)
	}
}
