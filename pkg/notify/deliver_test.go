package notify

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
)

// TestRecordOnlyPolicy: in a member account NotifyUser may read tags and write the notices
// tag, nothing else, whatever the member role allows.
func TestRecordOnlyPolicy(t *testing.T) {
	var doc struct {
		Statement []struct {
			Effect    string
			Action    string
			Condition map[string]map[string][]string
		}
	}
	if err := json.Unmarshal([]byte(recordOnlyPolicy), &doc); err != nil {
		t.Fatalf("the session policy is not JSON: %v", err)
	}
	var actions []string
	for _, s := range doc.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %+v: want Allow only", s)
		}
		actions = append(actions, s.Action)
		if s.Action == "iam:TagUser" && !slices.Equal(s.Condition["ForAllValues:StringEquals"]["aws:TagKeys"], []string{history.NoticesTag}) {
			t.Errorf("iam:TagUser is not limited to %s: %v", history.NoticesTag, s.Condition)
		}
	}
	if slices.Sort(actions); !slices.Equal(actions, []string{"iam:ListUserTags", "iam:TagUser"}) {
		t.Errorf("session policy allows %v, want iam:ListUserTags and iam:TagUser", actions)
	}
}
