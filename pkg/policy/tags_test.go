package policy

import (
	"strings"
	"testing"
	"time"
)

// IAM compares the tag keys of users case-insensitively and keeps their case ("not case
// sensitive, but case is preserved"): every tag the policy reads counts in any case.
func TestTagKeysAreReadAsIAMComparesThem(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	cfg := Config{}.WithDefaults()
	key := Key{AccessKeyID: "AKIAOLD0000000000001", Status: Active, CreateDate: now.AddDate(0, 0, -85), LastUsedDate: &now}
	for _, tc := range []struct {
		name  string
		tags  map[string]string
		check func(UserPlan) string
	}{
		{"exempt=TRUE", map[string]string{"exempt": "TRUE", "EmailID": "a@example.com"}, func(p UserPlan) string {
			if p.Status != StatusExempt || len(p.Actions) != 0 {
				return "not exempt"
			}
			return ""
		}},
		{"EXEMPT=true", map[string]string{"EXEMPT": "true", "EmailID": "a@example.com"}, func(p UserPlan) string {
			if p.Status != StatusExempt || p.Reason != "tag EXEMPT=true: exempt from rotation" {
				return "not exempt as tagged: " + p.Reason
			}
			return ""
		}},
		{"emailid=", map[string]string{"emailid": "a@example.com"}, func(p UserPlan) string {
			if p.Email != "a@example.com" || p.Status != StatusRotate {
				return "no usable email: " + p.EmailProblem
			}
			return ""
		}},
		{"EMAIL=", map[string]string{"EMAIL": "a@example.com"}, func(p UserPlan) string {
			if p.Email != "a@example.com" {
				return "no usable email: " + p.EmailProblem
			}
			return ""
		}},
		{"a malformed emailid is named as tagged", map[string]string{"emailid": "not an address", "Email": "a@example.com"}, func(p UserPlan) string {
			if p.Email != "" || p.EmailProblem != `tag emailid value "not an address" is not a plain email address` {
				return "problem " + p.EmailProblem
			}
			return ""
		}},
		{"rotationdays=40", map[string]string{"rotationdays": "40", "EmailID": "a@example.com"}, func(p UserPlan) string {
			if p.Timeline == nil || p.Timeline.DeactivateAt != 40 {
				return "the limit is not 40 days"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanUser(User{UserName: "alice", Tags: tc.tags, Keys: []Key{key}}, cfg, now)
			if problem := tc.check(p); problem != "" {
				t.Errorf("tags %v: %s (plan %+v)", tc.tags, problem, p)
			}
		})
	}
}

// IAM cannot hold one tag key in two cases; a plan input that does is refused, not guessed at.
func TestPlanInputWithOneTagKeyInTwoCasesIsRefused(t *testing.T) {
	now := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	u := User{UserName: "alice", Tags: Tags{"Exempt": "false", "EXEMPT": "true"},
		Keys: []Key{{AccessKeyID: "AKIA1", Status: Active, CreateDate: now.AddDate(0, 0, -85)}}}
	_, err := PlanUsers([]User{u}, Config{}, now)
	if err == nil || !strings.Contains(err.Error(), "EXEMPT and Exempt are one tag key to IAM") {
		t.Errorf("err %v, want the two spellings of one key refused", err)
	}
}

func TestTagsDoWhatTagUserAndUntagUserDo(t *testing.T) {
	tags := Tags{"Key-Rotator:Notices": "old", "Team": "blue"}
	tags.Set("key-rotator:notices", "new")
	if len(tags) != 2 || tags["key-rotator:notices"] != "new" || tags.Get("KEY-ROTATOR:NOTICES") != "new" {
		t.Errorf("after Set: %v", tags)
	}
	tags.Delete("TEAM")
	if _, _, ok := tags.Lookup("team"); ok || len(tags) != 1 {
		t.Errorf("after Delete: %v", tags)
	}
}
