package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// A user at IAM's 50-tag quota (issue 19, item 6): the rotator cannot write the tags its
// bookkeeping needs, so it writes nothing, says in the user's result what a person must do,
// and tells the owner, once a day; once a tag is removed, the next run rotates.

// ownTags are n tags of the user's own, besides the email tag.
func ownTags(n int) map[string]string {
	tags := map[string]string{}
	for i := range n {
		tags[fmt.Sprintf("CostCenter%02d", i)] = "4711"
	}
	return tags
}

func TestUserAtTheTagLimitIsToldAndNothingIsWritten(t *testing.T) {
	h := scenario.New(t)
	old := h.User("gus", ownTags(49), 85)[0] // 50 tags with EmailID
	var writes []string
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && strings.HasPrefix(callSubject(c.Input), "gus") {
			writes = append(writes, c.Operation)
		}
	}
	res, notes := h.ScanWith(t.Context())
	h.Notify(notes)
	var result string
	for _, u := range res.Users {
		if u.UserName == "gus" {
			result = u.Error + u.Reason
		}
	}
	if len(writes) != 0 || !strings.Contains(result, "remove") || !strings.Contains(result, "50 tags") {
		t.Errorf("gus at 50 tags: writes %v, result %q; want no write and a result that says to remove a tag", writes, result)
	}
	told := h.Subjects("gus")
	if len(told) != 1 || !strings.Contains(told[0], "too many tags") || !strings.Contains(told[0], old) {
		t.Fatalf("the owner was told %q, want one email about the tags", told)
	}
	h.Notify(h.Scan()) // the same day's re-run
	if len(h.Subjects("gus")) != 1 || len(writes) != 0 {
		t.Errorf("a same-day re-run sent %q and wrote %v", h.Subjects("gus")[1:], writes)
	}
	h.DayStart, h.Now = h.DayStart.AddDate(0, 0, 1), h.DayStart.AddDate(0, 0, 1)
	must(h.W.RemoveTag(scenario.Account, "gus", "CostCenter00"))
	must(h.W.RemoveTag(scenario.Account, "gus", "CostCenter01"))
	h.Day()
	if got := h.Received("gus"); len(got) != 1 || h.Keys("gus")[old] != types.StatusTypeActive {
		t.Errorf("after two tags were removed gus received %v, keys %v: want the new key", got, h.Keys("gus"))
	}
}
