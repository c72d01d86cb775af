package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

var now = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

// key builds a key of the given age; idle < 0 means never used.
func key(id string, status KeyStatus, age, idle int) Key {
	k := Key{AccessKeyID: id, Status: status, CreateDate: now.Add(-days(age))}
	if idle >= 0 {
		used := now.Add(-days(idle))
		k.LastUsedDate = &used
	}
	return k
}

// deactivatedAgo marks k as deactivated by the rotator daysAgo days before now.
func deactivatedAgo(k Key, daysAgo int) Key {
	when := now.Add(-days(daysAgo)).Add(-time.Hour)
	k.DeactivatedDate = &when
	return k
}

func deactivatedToday(k Key) Key { return deactivatedAgo(k, 0) }

// byRotator marks k as deactivated by the rotator (its owner was promised a date).
func byRotator(k Key) Key {
	k.DeactivatedByRotator = true
	return k
}

func withEmail(keys ...Key) User {
	return User{UserName: "alice", Tags: map[string]string{"EmailID": "alice@example.com"}, Keys: keys}
}

func noEmail(keys ...Key) User { return User{UserName: "bob", Keys: keys} }

// warned records that u's owner was told, on an earlier day, when key id is deactivated.
func warned(u User, id string) User {
	u.NoticesSent = append(u.NoticesSent, NoticeRef{NewKeyIssued, id})
	return u
}

// actions renders a plan's actions as "Action KEY" for compact comparison.
func actions(p UserPlan) []string {
	out := []string{}
	for _, a := range p.Actions {
		out = append(out, strings.TrimSpace(string(a.Action)+" "+a.AccessKeyID))
	}
	return out
}

func notices(p UserPlan) []string {
	out := []string{}
	for _, n := range p.Notices {
		out = append(out, fmt.Sprintf("%s %s %s", n.Kind, n.AccessKeyID, n.ActBy))
	}
	return out
}

func TestPlanUserRules(t *testing.T) {
	custom := Config{LimitDays: 30, NoticePeriod: 5}
	cleanup := Config{Cleanup: true}
	tests := []struct {
		name        string
		user        User
		cfg         Config
		wantStatus  UserStatus
		wantActions []string
		wantNotices []string
	}{
		// Rule 1: exempt.
		{"exempt tag true", User{UserName: "ci", Tags: map[string]string{"Exempt": "true"}, Keys: []Key{key("K1", Active, 400, 500)}},
			Config{}, StatusExempt, []string{}, []string{}},
		{"exempt tag any case", User{UserName: "ci", Tags: map[string]string{"Exempt": " TRUE "}, Keys: []Key{key("K1", Inactive, 400, -1)}},
			Config{}, StatusExempt, []string{}, []string{}},
		{"exempt tag false is not exempt", User{UserName: "ci", Tags: map[string]string{"Exempt": "false"}, Keys: []Key{key("K1", Inactive, 400, 1)}},
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{}},
		{"exempt even in cleanup mode", User{UserName: "ci", Tags: map[string]string{"Exempt": "True"}, Keys: []Key{key("K1", Inactive, 400, 1)}},
			cleanup, StatusExempt, []string{}, []string{}},

		// Rule 2: unused.
		{"idle 89 days is kept", withEmail(key("K1", Active, 10, 89)),
			Config{}, StatusOK, []string{}, []string{}},
		{"idle 89 days is kept (used)", warned(withEmail(key("K1", Active, 95, 89), key("K2", Active, 10, 1)), "K1"),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-12-05"}},
		{"never used for 90 days is deleted", withEmail(key("K1", Active, 90, -1)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{"UnusedKeyDeleted K1 "}},
		{"last used 90 days ago is deleted", withEmail(key("K1", Active, 200, 90), key("K2", Active, 5, 0)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{"UnusedKeyDeleted K1 "}},
		{"unused key of a user without email is deleted silently", noEmail(key("K1", Inactive, 91, 91)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{}},
		{"unused deletion frees the slot for rotation", withEmail(key("K1", Active, 85, 1), key("K2", Active, 95, 95)),
			Config{}, StatusRotate, []string{"DeleteKey K2", "CreateKey"},
			[]string{"UnusedKeyDeleted K2 ", "NewKeyIssued K1 2026-12-05"}},

		// Rule 4: rotate at R = 80.
		{"79 days: nothing due", withEmail(key("K1", Active, 79, 0)),
			Config{}, StatusOK, []string{}, []string{}},
		{"80 days: new key, deactivation on day 90", withEmail(key("K1", Active, 80, 0)),
			Config{}, StatusRotate, []string{"CreateKey"}, []string{"NewKeyIssued K1 2026-12-05"}},
		{"85 days (runs missed): deactivation still 10 days after the new key", withEmail(key("K1", Active, 85, 0)),
			Config{}, StatusRotate, []string{"CreateKey"}, []string{"NewKeyIssued K1 2026-12-05"}},
		{"custom limits 30/5: 24 days nothing", withEmail(key("K1", Active, 24, 0)),
			custom, StatusOK, []string{}, []string{}},
		{"custom limits 30/5: 25 days new key", withEmail(key("K1", Active, 25, 0)),
			custom, StatusRotate, []string{"CreateKey"}, []string{"NewKeyIssued K1 2026-11-30"}},
		{"rotation deletes the inactive key to make room", withEmail(key("K1", Active, 85, 0), key("K2", Inactive, 30, 31)),
			Config{}, StatusRotate, []string{"DeleteKey K2", "CreateKey"},
			[]string{"KeyDeleted K2 ", "NewKeyIssued K1 2026-12-05"}},
		{"rotation deletes an older inactive key to make room", withEmail(key("K1", Active, 85, 0), key("K2", Inactive, 120, 30)),
			Config{}, StatusRotate, []string{"DeleteKey K2", "CreateKey"},
			[]string{"KeyDeleted K2 ", "NewKeyIssued K1 2026-12-05"}},
		{"two active keys due: no new key, the oldest's date announced", withEmail(key("K1", Active, 85, 0), key("K2", Active, 82, 0)),
			Config{}, StatusNotify, []string{}, []string{"DeactivationScheduled K1 2026-11-30"}},
		{"announcement is not repeated", User{UserName: "alice", Tags: map[string]string{"Email": "alice@example.com"},
			Keys:        []Key{key("K1", Active, 86, 0), key("K2", Active, 83, 0)},
			NoticesSent: []NoticeRef{{DeactivationScheduled, "K1"}}},
			Config{}, StatusOK, []string{}, []string{}},

		// Rule 3: expired Active keys.
		{"legacy 300-day key: rotate first, deactivate 10 days later", withEmail(key("K1", Active, 300, 0)),
			Config{}, StatusRotate, []string{"CreateKey"}, []string{"NewKeyIssued K1 2026-12-05"}},
		{"89 days with 9-day replacement: wait", withEmail(key("K1", Active, 89, 0), key("K2", Active, 9, 0)),
			Config{}, StatusNotify, []string{}, []string{"DeactivationScheduled K1 2026-11-26"}},
		{"90 days with 10-day replacement: deactivate", warned(withEmail(key("K1", Active, 90, 0), key("K2", Active, 10, 0)), "K1"),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-12-05"}},
		{"90 days with 9-day replacement: wait for the notice period", User{UserName: "alice",
			Tags: map[string]string{"EmailID": "alice@example.com"}, Keys: []Key{key("K1", Active, 90, 0), key("K2", Active, 9, 0)},
			NoticesSent: []NoticeRef{{NewKeyIssued, "K1"}}},
			Config{}, StatusOK, []string{}, []string{}},
		{"310 days with 10-day replacement: deactivate", warned(withEmail(key("K1", Active, 310, 0), key("K2", Active, 10, 0)), "K1"),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-12-05"}},
		// K2, due for rotation, needs K1's slot tomorrow: that is the day K1's deletion is told.
		{"replacement must be younger than R", warned(withEmail(key("K1", Active, 95, 0), key("K2", Active, 80, 0)), "K1"),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"two active keys past the limit: only the oldest goes", withEmail(key("K1", Active, 120, 0), key("K2", Active, 100, 0)),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"no email, 89 days: nothing", noEmail(key("K1", Active, 89, 0)),
			Config{}, StatusOK, []string{}, []string{}},
		{"no email, 90 days: deactivate now", noEmail(key("K1", Active, 90, 0)),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{}},
		{"no email, two old keys: both deactivated", noEmail(key("K1", Active, 95, 0), key("K2", Active, 92, 0)),
			Config{}, StatusDeactivate, []string{"DeactivateKey K1", "DeactivateKey K2"}, []string{}},
		{"email outside allowed domains counts as none", User{UserName: "eve", Tags: map[string]string{"EmailID": "eve@gmail.com"},
			Keys: []Key{key("K1", Active, 90, 0)}},
			Config{AllowedEmailDomains: []string{"example.com"}}, StatusDeactivate, []string{"DeactivateKey K1"}, []string{}},

		// Rule 3: expired Inactive keys, delete at X = 100.
		{"inactive 99 days: kept", withEmail(key("K1", Inactive, 99, 20)),
			Config{}, StatusOK, []string{}, []string{}},
		{"inactive 100 days: deleted", withEmail(key("K1", Inactive, 100, 20)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{"KeyDeleted K1 "}},
		{"inactive 100 days, 19-day replacement: kept", withEmail(key("K1", Inactive, 100, 11), key("K2", Active, 19, 0)),
			Config{}, StatusOK, []string{}, []string{}},
		{"inactive 100 days, 20-day replacement: deleted", withEmail(key("K1", Inactive, 100, 11), key("K2", Active, 20, 0)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{"KeyDeleted K1 "}},
		{"legacy: inactive 320 days, 20-day replacement: deleted", withEmail(key("K1", Inactive, 320, 11), key("K2", Active, 20, 0)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{"KeyDeleted K1 "}},
		{"custom limits 30/5: inactive 35 days deleted", withEmail(key("K1", Inactive, 35, 5)),
			custom, StatusDelete, []string{"DeleteKey K1"}, []string{"KeyDeleted K1 "}},
		{"no email: inactive 100 days deleted silently", noEmail(key("K1", Inactive, 100, 20)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{}},

		// Same-day re-runs: a key this day's earlier run deactivated waits for tomorrow.
		{"inactive 120 days deactivated today: kept", noEmail(deactivatedToday(key("K1", Inactive, 120, 1))),
			Config{}, StatusOK, []string{}, []string{}},
		{"inactive 120 days deactivated yesterday: deleted", noEmail(deactivatedAgo(key("K1", Inactive, 120, 1), 1)),
			Config{}, StatusDelete, []string{"DeleteKey K1"}, []string{}},
		{"rotation waits for a slot freed today", withEmail(deactivatedToday(key("K1", Inactive, 120, 0)), key("K2", Active, 95, 0)),
			Config{}, StatusOK, []string{}, []string{}},
		{"rotation uses a slot freed yesterday", withEmail(deactivatedAgo(key("K1", Inactive, 121, 1), 1), key("K2", Active, 96, 0)),
			Config{}, StatusRotate, []string{"DeleteKey K1", "CreateKey"}, []string{"KeyDeleted K1 ", "NewKeyIssued K2 2026-12-05"}},
		{"cleanup: a key the rotator deactivated follows the daily rules", noEmail(byRotator(deactivatedAgo(key("K1", Inactive, 300, 0), 5))),
			cleanup, StatusOK, []string{}, []string{}},
		{"cleanup: a key first seen inactive today goes", noEmail(deactivatedToday(key("K1", Inactive, 300, 0))),
			cleanup, StatusDelete, []string{"DeleteKey K1"}, []string{}},

		// Rule 7: cleanup mode.
		{"cleanup: inactive 100 days deleted, no notice", withEmail(key("K1", Inactive, 100, 20)),
			cleanup, StatusDelete, []string{"DeleteKey K1"}, []string{}},
		{"cleanup: inactive 99 days kept", withEmail(key("K1", Inactive, 99, 20)),
			cleanup, StatusOK, []string{}, []string{}},
		{"cleanup: old active key of a user with email untouched", withEmail(key("K1", Active, 300, 300)),
			cleanup, StatusOK, []string{}, []string{}},
		{"cleanup: old active key without email deactivated", noEmail(key("K1", Active, 90, 0), key("K2", Inactive, 150, 100)),
			cleanup, StatusDeactivate, []string{"DeleteKey K2", "DeactivateKey K1"}, []string{}},
		{"cleanup: 89-day active key without email kept", noEmail(key("K1", Active, 89, 0)),
			cleanup, StatusOK, []string{}, []string{}},

		{"no keys", withEmail(), Config{}, StatusOK, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := PlanUsers([]User{tt.user}, tt.cfg, now)
			if err != nil {
				t.Fatal(err)
			}
			p := plan.Users[0]
			if p.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s (reason %q)", p.Status, tt.wantStatus, p.Reason)
			}
			if got := actions(p); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions = %q, want %q", got, tt.wantActions)
			}
			if got := notices(p); !slices.Equal(got, tt.wantNotices) {
				t.Errorf("notices = %q, want %q", got, tt.wantNotices)
			}
			for _, a := range p.Actions {
				if a.Reason == "" {
					t.Errorf("action %s %s has no reason", a.Action, a.AccessKeyID)
				}
			}
			if len(p.Actions) == 0 && p.Reason == "" && p.Status != StatusNotify {
				t.Errorf("a user without actions must carry a reason")
			}
		})
	}
}

func TestReasonsAreReadable(t *testing.T) {
	plan, err := PlanUsers([]User{warned(withEmail(key("AKIAOLD", Active, 92, 0), key("AKIANEW", Active, 12, 0)), "AKIAOLD")}, Config{}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "key AKIAOLD is 92 days old and its replacement AKIANEW is 12 days old: deactivate"
	if got := plan.Users[0].Actions[0].Reason; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

func TestOwnerEmail(t *testing.T) {
	domains := Config{AllowedEmailDomains: []string{"example.com", "Example.ORG"}}.WithDefaults()
	tests := []struct {
		name        string
		tags        map[string]string
		cfg         Config
		wantEmail   string
		wantProblem string
	}{
		{"EmailID", map[string]string{"EmailID": "a@example.com"}, Config{}, "a@example.com", ""},
		{"Email as fallback", map[string]string{"Email": "a@example.com"}, Config{}, "a@example.com", ""},
		{"EmailID wins over Email", map[string]string{"EmailID": "a@example.com", "Email": "b@example.com"}, Config{}, "a@example.com", ""},
		{"blank EmailID falls back", map[string]string{"EmailID": " ", "Email": "b@example.com"}, Config{}, "b@example.com", ""},
		{"missing", map[string]string{"Team": "x"}, Config{}, "", "no EmailID or Email tag"},
		{"malformed", map[string]string{"EmailID": "alice(at)example.com"}, Config{}, "", `tag EmailID value "alice(at)example.com" is not a plain email address`},
		{"display name refused", map[string]string{"EmailID": "Alice <a@example.com>"}, Config{}, "", `tag EmailID value "Alice <a@example.com>" is not a plain email address`},
		{"no dot in domain", map[string]string{"EmailID": "a@localhost"}, Config{}, "", `tag EmailID value "a@localhost" has no valid domain`},
		{"malformed first tag is not skipped", map[string]string{"EmailID": "nope", "Email": "b@example.com"}, Config{}, "", `tag EmailID value "nope" is not a plain email address`},
		{"allowed domain any case", map[string]string{"EmailID": "a@EXAMPLE.org"}, domains, "a@EXAMPLE.org", ""},
		{"subdomain not allowed", map[string]string{"EmailID": "a@mail.example.com"}, domains, "", "tag EmailID address a@mail.example.com is outside the allowed domains (example.com, Example.ORG)"},
		{"custom tag keys", map[string]string{"Owner": "o@example.com"}, Config{EmailTagKeys: []string{"Owner"}}, "o@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, problem := OwnerEmail(tt.tags, tt.cfg.WithDefaults())
			if email != tt.wantEmail || problem != tt.wantProblem {
				t.Errorf("ownerEmail = (%q, %q), want (%q, %q)", email, problem, tt.wantEmail, tt.wantProblem)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantFields []string
	}{
		{"defaults are valid", Config{}, nil},
		{"limit not above notice", Config{LimitDays: 10, NoticePeriod: 10}, []string{"limitDays"}},
		{"negative notice", Config{NoticePeriod: -1}, []string{"noticePeriod"}},
		{"negative maxUsers", Config{MaxUsers: -5}, []string{"maxUsers"}},
		{"maxUsers over the execution's budget", Config{MaxUsers: 501}, []string{"maxUsers"}},
		{"absurd limit", Config{LimitDays: 5000}, []string{"limitDays"}},
		{"bad domain", Config{AllowedEmailDomains: []string{"example.com", "not a domain"}}, []string{"allowedEmailDomains[1]"}},
		{"blank tag key", Config{EmailTagKeys: []string{"EmailID", ""}, ExemptTagKey: " "}, []string{"emailTagKeys[1]", "exemptTagKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			if got := input.Fields(err); !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields in error = %q, want %q (err: %v)", got, tt.wantFields, err)
			}
		})
	}
}

func TestPlanUsersRejectsBadInput(t *testing.T) {
	good := key("K1", Active, 10, 1)
	tests := []struct {
		name       string
		users      []User
		wantFields []string
	}{
		{"empty user name", []User{{UserName: " ", Keys: []Key{good}}}, []string{"users[0].userName"}},
		{"duplicate user", []User{{UserName: "a"}, {UserName: "a"}}, []string{"users[1].userName"}},
		{"three keys", []User{{UserName: "a", Keys: []Key{key("K1", Active, 1, 1), key("K2", Active, 1, 1), key("K3", Active, 1, 1)}}}, []string{"users[0].keys"}},
		{"bad status", []User{{UserName: "a", Keys: []Key{{AccessKeyID: "K1", Status: "active", CreateDate: now}}}}, []string{"users[0].keys[0].status"}},
		{"missing id and date", []User{{UserName: "a", Keys: []Key{{Status: Active}}}}, []string{"users[0].keys[0].accessKeyId", "users[0].keys[0].createDate"}},
		{"duplicate key id", []User{{UserName: "a", Keys: []Key{good}}, {UserName: "b", Keys: []Key{good}}}, []string{"users[1].keys[0].accessKeyId"}},
		{"unknown notice kind", []User{{UserName: "a", NoticesSent: []NoticeRef{{"Hello", "K1"}}}}, []string{"users[0].noticesSent[0].kind"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanUsers(tt.users, Config{}, now)
			if got := input.Fields(err); !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields in error = %q, want %q (err: %v)", got, tt.wantFields, err)
			}
		})
	}
}

func TestMaxUsersDefersLeastUrgent(t *testing.T) {
	users := []User{
		{UserName: "young", Tags: map[string]string{"EmailID": "y@example.com"}, Keys: []Key{key("Y1", Active, 81, 0)}},
		{UserName: "old", Tags: map[string]string{"EmailID": "o@example.com"}, Keys: []Key{key("O1", Active, 300, 0)}},
		{UserName: "quiet", Tags: map[string]string{"EmailID": "q@example.com"}, Keys: []Key{key("Q1", Active, 5, 0)}},
		{UserName: "mid", Keys: []Key{key("M1", Active, 95, 0)}},
		{UserName: "notice-only", Tags: map[string]string{"EmailID": "n@example.com"}, Keys: []Key{key("N1", Active, 85, 0), key("N2", Active, 82, 0)}},
	}
	plan, err := PlanUsers(users, Config{MaxUsers: 2}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]UserStatus{}
	for _, p := range plan.Users {
		got[p.UserName] = p.Status
	}
	want := map[string]UserStatus{"young": StatusDeferred, "old": StatusRotate, "quiet": StatusOK, "mid": StatusDeactivate, "notice-only": StatusNotify}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s: status %s, want %s", name, got[name], status)
		}
	}
	deferred := plan.Users[0]
	if len(deferred.Actions) != 0 || len(deferred.Notices) != 0 || !strings.Contains(deferred.Reason, "maxUsers is 2") {
		t.Errorf("deferred user keeps actions %v / notices %v or lacks a reason: %q", deferred.Actions, deferred.Notices, deferred.Reason)
	}
}

func TestNameRules(t *testing.T) {
	tests := []struct {
		name  string
		valid func(string) bool
		in    string
		want  bool
	}{
		{"tag key", ValidTagKey, "EmailID", true},
		{"tag key with unicode and space", ValidTagKey, "Propriétaire du compte", true},
		{"tag key blank", ValidTagKey, " ", false},
		{"tag key reserved", ValidTagKey, "AWS:cloudformation", false},
		{"tag key too long", ValidTagKey, strings.Repeat("k", MaxTagKeyLength+1), false},
		{"tag key bad character", ValidTagKey, "owner#1", false},
		{"tag value empty", ValidTagValue, "", true},
		{"tag value too long", ValidTagValue, strings.Repeat("v", MaxTagValueLength+1), false},
		{"domain", ValidDomain, "example.com", true},
		{"domain in upper case", ValidDomain, "Example.COM", true},
		{"domain of one label", ValidDomain, "localhost", false},
		{"domain with a bad label", ValidDomain, "-a.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.valid(tt.in); got != tt.want {
				t.Errorf("%q: %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestRotationDaysTag: a RotationDays tag shortens its user's limit and every day derived
// from it; a value that is malformed or longer than the limit is ignored and reported, one
// shorter than 3 notice periods gets the shortest limit, also reported.
func TestRotationDaysTag(t *testing.T) {
	tests := []struct {
		name         string
		value        string
		cfg          Config
		wantTimeline *Timeline // nil: the organization's limit applies
		wantProblem  string
	}{
		{"shorter", "40", Config{}, &Timeline{Notice: 10, RotateAt: 30, DeactivateAt: 40, DeleteAt: 50, UnusedAt: 40}, ""},
		{"spaces around", " 45 ", Config{}, &Timeline{Notice: 10, RotateAt: 35, DeactivateAt: 45, DeleteAt: 55, UnusedAt: 45}, ""},
		{"exactly 3 notice periods", "30", Config{}, &Timeline{Notice: 10, RotateAt: 20, DeactivateAt: 30, DeleteAt: 40, UnusedAt: 30}, ""},
		{"below 3 notice periods", "7", Config{}, &Timeline{Notice: 10, RotateAt: 20, DeactivateAt: 30, DeleteAt: 40, UnusedAt: 30},
			"tag RotationDays=7 is shorter than 3 notice periods of 10 days: the shortest limit, 30 days, applies"},
		{"at most the notice period", "10", Config{}, &Timeline{Notice: 10, RotateAt: 20, DeactivateAt: 30, DeleteAt: 40, UnusedAt: 30},
			"tag RotationDays=10 is shorter than 3 notice periods of 10 days: the shortest limit, 30 days, applies"},
		{"below 3 notice periods of a short limit", "5", Config{LimitDays: 20, NoticePeriod: 10}, nil,
			"tag RotationDays=5 is shorter than 3 notice periods of 10 days: the shortest limit, 20 days, applies"},
		{"the limit itself", "90", Config{}, nil, ""},
		{"longer", "365", Config{}, nil, "tag RotationDays=365 is longer than the organization's limit: ignored, the limit of 90 days applies"},
		{"zero", "0", Config{}, nil, `tag RotationDays value "0" is not a whole number of days greater than 0: ignored, the limit of 90 days applies`},
		{"negative", "-30", Config{}, nil, `tag RotationDays value "-30" is not a whole number of days greater than 0: ignored, the limit of 90 days applies`},
		{"not a number", "30d", Config{}, nil, `tag RotationDays value "30d" is not a whole number of days greater than 0: ignored, the limit of 90 days applies`},
		{"empty", "", Config{}, nil, `tag RotationDays value "" is not a whole number of days greater than 0: ignored, the limit of 90 days applies`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := rotationDays(withEmail(key("K", Active, 35, 0)), tt.value)
			p := PlanUser(u, tt.cfg.WithDefaults(), now)
			if fmt.Sprint(p.Timeline) != fmt.Sprint(tt.wantTimeline) || (p.Timeline != nil && *p.Timeline != *tt.wantTimeline) {
				t.Errorf("timeline %+v, want %+v", p.Timeline, tt.wantTimeline)
			}
			if p.RotationDaysProblem != tt.wantProblem {
				t.Errorf("problem %q, want %q", p.RotationDaysProblem, tt.wantProblem)
			}
			// A 35-day-old key is due for a new key exactly when the user's rotate-at is reached.
			rotateAt := tt.cfg.WithDefaults().Timeline().RotateAt
			if tt.wantTimeline != nil {
				rotateAt = tt.wantTimeline.RotateAt
			}
			wantRotate := rotateAt <= 35
			if got := p.Status == StatusRotate; got != wantRotate {
				t.Errorf("status %s, want rotate: %v (%v)", p.Status, wantRotate, p.Actions)
			}
		})
	}
}

// TestRotationDaysNeverActsOnExempt: an exempt user is not touched, whatever RotationDays says.
func TestRotationDaysNeverActsOnExempt(t *testing.T) {
	u := rotationDays(withEmail(key("K", Active, 200, 0)), "30")
	u.Tags["Exempt"] = "true"
	if p := PlanUser(u, Config{}.WithDefaults(), now); p.Status != StatusExempt || len(p.Actions) > 0 || p.Timeline != nil {
		t.Errorf("exempt user with RotationDays planned %+v", p)
	}
}
