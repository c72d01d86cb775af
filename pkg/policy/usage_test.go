package policy

import (
	"testing"
	"time"
)

// usedWith gives k's last use a service and region.
func usedWith(k Key, service, region string) Key {
	k.LastUsedService, k.LastUsedRegion = service, region
	return k
}

func TestUsageString(t *testing.T) {
	used := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	tests := []struct {
		usage Usage
		want  string
	}{
		{Usage{AccessKeyID: "AKIA1"}, "never used"},
		{Usage{AccessKeyID: "AKIA1", LastUsedDate: &used, Service: "s3", Region: "eu-west-1"}, "last used on 2026-11-24 at 08:05 UTC with s3 in eu-west-1"},
		{Usage{AccessKeyID: "AKIA1", LastUsedDate: &used, Service: "iam"}, "last used on 2026-11-24 at 08:05 UTC with iam"},
		{Usage{AccessKeyID: "AKIA1", LastUsedDate: &used}, "last used on 2026-11-24 at 08:05 UTC"},
	}
	for _, tt := range tests {
		if got := tt.usage.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.usage, got, tt.want)
		}
	}
}

// TestPlanShowsUsage: every key of the plan carries its last use, that of the newer key that
// replaces it, the day it is due to be deactivated, and whether it is at risk (still used
// within AtRiskDays and due within AtRiskDays); every notice carries its key's last use and
// its replacement's.
func TestPlanShowsUsage(t *testing.T) {
	type want struct {
		id, lastUsed, replacement, deactivateOn string
		atRisk                                  bool
	}
	tests := []struct {
		name string
		user User
		keys []want
		// notices: kind and key → the key's usage and the replacement's
		notices map[string][2]string
	}{
		{"new key issued: the old key's use, no replacement yet",
			withEmail(usedWith(key("OLD", Active, 80, 1), "s3", "eu-west-1")),
			[]want{{"OLD", "last used on 2026-11-24 at 13:00 UTC with s3 in eu-west-1", "", "2026-12-05", false}},
			map[string][2]string{"NewKeyIssued OLD": {"last used on 2026-11-24 at 13:00 UTC with s3 in eu-west-1", ""}}},
		{"replacement not used yet, old key used yesterday and due tomorrow: at risk",
			warned(withEmail(usedWith(key("OLD", Active, 89, 1), "ec2", "us-east-1"), key("NEW", Active, 9, -1)), "OLD"),
			[]want{{"OLD", "last used on 2026-11-24 at 13:00 UTC with ec2 in us-east-1", "never used", "2026-11-26", true},
				{"NEW", "never used", "", "", false}},
			nil},
		{"deactivated today while still used: at risk; the notice says whether the new key is used",
			warned(withEmail(usedWith(key("OLD", Active, 95, 0), "s3", "eu-west-1"), usedWith(key("NEW", Active, 15, 0), "sts", "eu-west-1")), "OLD"),
			[]want{{"OLD", "last used on 2026-11-25 at 13:00 UTC with s3 in eu-west-1", "last used on 2026-11-25 at 13:00 UTC with sts in eu-west-1", "2026-11-25", true},
				{"NEW", "last used on 2026-11-25 at 13:00 UTC with sts in eu-west-1", "", "", false}},
			map[string][2]string{"KeyDeactivated OLD": {"last used on 2026-11-25 at 13:00 UTC with s3 in eu-west-1", "last used on 2026-11-25 at 13:00 UTC with sts in eu-west-1"}}},
		{"due in two days but not used for three: not at risk",
			warned(withEmail(key("OLD", Active, 88, 3), key("NEW", Active, 8, 0)), "OLD"),
			[]want{{"OLD", "last used on 2026-11-22 at 13:00 UTC", "last used on 2026-11-25 at 13:00 UTC", "2026-11-27", false},
				{"NEW", "last used on 2026-11-25 at 13:00 UTC", "", "", false}},
			nil},
		{"due in three days: not at risk",
			warned(withEmail(key("OLD", Active, 87, 0), key("NEW", Active, 7, 0)), "OLD"),
			[]want{{"OLD", "last used on 2026-11-25 at 13:00 UTC", "last used on 2026-11-25 at 13:00 UTC", "2026-11-28", false},
				{"NEW", "last used on 2026-11-25 at 13:00 UTC", "", "", false}},
			nil},
		{"an undelivered new key is the old key's replacement in the evidence",
			withEmail(key("OLD", Active, 85, 0), Key{AccessKeyID: "NEW", Status: Active, CreateDate: now.Add(-days(5)), Undelivered: true}),
			[]want{{"OLD", "last used on 2026-11-25 at 13:00 UTC", "never used", "2026-11-30", false},
				{"NEW", "never used", "", "", false}},
			nil},
		{"owner's newer key: the reminder says whether it is used",
			withEmail(key("OLD", Active, 82, 2), key("NEW", Active, 3, -1)),
			[]want{{"OLD", "last used on 2026-11-23 at 13:00 UTC", "never used", "2026-12-03", false},
				{"NEW", "never used", "", "", false}},
			map[string][2]string{"DeactivationScheduled OLD": {"last used on 2026-11-23 at 13:00 UTC", "never used"}}},
		{"two old active keys: the oldest is due at the limit",
			withEmail(key("A", Active, 89, 0), key("B", Active, 85, 1)),
			[]want{{"A", "last used on 2026-11-25 at 13:00 UTC", "", "2026-11-26", true},
				{"B", "last used on 2026-11-24 at 13:00 UTC", "", "", false}},
			map[string][2]string{"DeactivationScheduled A": {"last used on 2026-11-25 at 13:00 UTC", ""}}},
		{"unused key deleted: the notice says it was never used",
			withEmail(key("IDLE", Active, 95, -1)),
			[]want{{"IDLE", "never used", "", "", false}},
			map[string][2]string{"UnusedKeyDeleted IDLE": {"never used", ""}}},
		{"exempt users' keys are shown too",
			User{UserName: "bot", Tags: map[string]string{"Exempt": "true"}, Keys: []Key{key("BOT", Active, 400, 0)}},
			[]want{{"BOT", "last used on 2026-11-25 at 13:00 UTC", "", "", false}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanUser(tt.user, Config{}.WithDefaults(), now)
			if len(p.Keys) != len(tt.keys) {
				t.Fatalf("keys %+v, want %d", p.Keys, len(tt.keys))
			}
			for i, w := range tt.keys {
				k := p.Keys[i]
				repl := ""
				if k.Replacement != nil {
					repl = k.Replacement.String()
				}
				if k.AccessKeyID != w.id || k.Usage.String() != w.lastUsed || repl != w.replacement || k.DeactivateOn != w.deactivateOn || k.AtRisk != w.atRisk {
					t.Errorf("key %d: %s %q, replacement %q, deactivate on %q, at risk %v; want %+v", i, k.AccessKeyID, k.Usage.String(), repl, k.DeactivateOn, k.AtRisk, w)
				}
			}
			for _, n := range p.Notices {
				w, ok := tt.notices[string(n.Kind)+" "+n.AccessKeyID]
				if !ok {
					continue
				}
				repl := ""
				if n.Replacement != nil {
					repl = n.Replacement.String()
				}
				if n.Usage == nil || n.Usage.AccessKeyID != n.AccessKeyID || n.Usage.String() != w[0] || repl != w[1] {
					t.Errorf("notice %s %s: usage %+v, replacement %q; want %q and %q", n.Kind, n.AccessKeyID, n.Usage, repl, w[0], w[1])
				}
				delete(tt.notices, string(n.Kind)+" "+n.AccessKeyID)
			}
			if len(tt.notices) > 0 {
				t.Errorf("notices %v not planned: %v", tt.notices, notices(p))
			}
		})
	}
}

// TestEveryNoticeCarriesUsage: across the timelines, every notice names its key's last use.
func TestEveryNoticeCarriesUsage(t *testing.T) {
	u := withEmail(usedWith(key("OLD", Active, 300, 0), "s3", "eu-west-1"), key("IDLE", Inactive, 200, -1))
	for _, day := range []int{0, 10, 20} {
		p := PlanUser(u, Config{}.WithDefaults(), now.Add(days(day)))
		for _, n := range p.Notices {
			if n.Usage == nil || n.Usage.AccessKeyID != n.AccessKeyID {
				t.Errorf("day %d: notice %s %s without its key's usage: %+v", day, n.Kind, n.AccessKeyID, n.Usage)
			}
		}
	}
}

func TestReadsSuccessorNeedsTheNewKeyUsedOnALaterDayAndTheOldOneNotSince(t *testing.T) {
	changed := time.Date(2026, 2, 21, 0, 5, 0, 0, time.UTC)
	at := func(d, h int) *time.Time { t := time.Date(2026, 2, d, h, 0, 0, 0, time.UTC); return &t }
	for _, tc := range []struct {
		name          string
		old, succ     *time.Time
		changed       time.Time
		readsNewKeyOK bool
	}{
		{"new key used the day after, old key before", at(12, 1), at(22, 1), changed, true},
		{"old key never used", nil, at(22, 1), changed, true},
		{"new key used the same day, after the change", at(12, 1), at(21, 9), changed, false},
		{"old key used since the change", at(21, 9), at(22, 1), changed, false},
		{"new key never used", at(12, 1), nil, changed, false},
		{"change unknown", at(12, 1), at(22, 1), time.Time{}, false},
	} {
		old, succ := Key{AccessKeyID: "AKIAOLD", LastUsedDate: tc.old}, Key{AccessKeyID: "AKIANEW", LastUsedDate: tc.succ}
		if got := ReadsSuccessor(old, succ, tc.changed); got != tc.readsNewKeyOK {
			t.Errorf("%s: ReadsSuccessor = %v, want %v", tc.name, got, tc.readsNewKeyOK)
		}
	}
}
