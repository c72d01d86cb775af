package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// simulation replays the daily run against one user, applying each plan as the executor
// would, and checks the owner-facing guarantees every day.
type simulation struct {
	t         *testing.T
	cfg       Config
	user      User
	delivered map[string]time.Time // when the owner got each key (its creation for their own)
	nextID    int
	events    []string
	notified  map[NoticeRef]int // day each notice was sent
	// announced is the last day the owner was told each key's next action is taken: its
	// deactivation (NewKeyIssued, DeactivationScheduled) or its deletion (KeyDeactivated).
	announced map[ActionName]map[string]string
	// lost says whether the notices planned on a day fail to reach the owner (sent again
	// on a later day).
	lost func(d int) bool
}

func newSimulation(t *testing.T, cfg Config, user User) *simulation {
	s := &simulation{t: t, cfg: cfg.WithDefaults(), user: user, delivered: map[string]time.Time{}, notified: map[NoticeRef]int{}, announced: map[ActionName]map[string]string{DeactivateKey: {}, DeleteKey: {}}, lost: func(int) bool { return false }}
	for _, k := range user.Keys {
		s.delivered[k.AccessKeyID] = k.CreateDate
	}
	return s
}

func (s *simulation) run(days int) {
	for d := 0; d <= days; d++ {
		s.step(d, now.Add(time.Duration(d)*day))
	}
}

func (s *simulation) step(d int, today time.Time) {
	t := s.t
	s.user.NoticesSentToday = nil // yesterday's notices count as warnings from today on
	// The application uses every active key an hour before the run.
	for i := range s.user.Keys {
		if s.user.Keys[i].Status == Active {
			used := today.Add(-time.Hour)
			s.user.Keys[i].LastUsedDate = &used
		}
	}
	plan, err := PlanUsers([]User{s.user}, s.cfg, today)
	if err != nil {
		t.Fatalf("day %d: %v", d, err)
	}
	p := plan.Users[0]
	hasEmail := p.Email != ""
	created := 0
	for _, a := range p.Actions {
		s.events = append(s.events, fmt.Sprintf("day %d %s", d, a.Action))
		// Invariant 8: an action the owner was told of is taken on the day named, not before
		// and not later; also a deletion that makes room for a new key (the KeyDeactivated
		// notice names the day the other key comes due).
		if on, told := s.announced[a.Action][a.AccessKeyID]; told && on != dateOf(today) {
			t.Errorf("day %d: %s %s on %s, the owner was told %s", d, a.Action, a.AccessKeyID, dateOf(today), on)
		}
		switch a.Action {
		case DeleteKey:
			s.user.Keys = slices.DeleteFunc(s.user.Keys, func(k Key) bool { return k.AccessKeyID == a.AccessKeyID })
		case DeactivateKey:
			i := slices.IndexFunc(s.user.Keys, func(k Key) bool { return k.AccessKeyID == a.AccessKeyID })
			s.user.Keys[i].Status = Inactive
			s.user.Keys[i].DeactivatedDate = &today
			s.user.Keys[i].DeactivatedByRotator = hasEmail
			if hasEmail && !s.hasActiveKeyDeliveredBefore(today.Add(-days(s.cfg.NoticePeriod))) {
				t.Errorf("day %d: %s deactivated but no other active key was delivered %d days earlier; keys %+v",
					d, a.AccessKeyID, s.cfg.NoticePeriod, s.user.Keys)
			}
		case CreateKey:
			s.nextID++
			id := fmt.Sprintf("NEW%d", s.nextID)
			s.user.Keys = append(s.user.Keys, Key{AccessKeyID: id, Status: Active, CreateDate: today})
			s.delivered[id] = today
			created++
		}
		if len(s.user.Keys) > 2 {
			t.Fatalf("day %d: %d keys after %s", d, len(s.user.Keys), a.Action)
		}
	}
	issued := 0
	for _, n := range p.Notices {
		// Invariant 8: no notice names a day already past, and a warning counts from the
		// day after its delivery, so what it announces is not taken before then.
		if n.ActBy != "" && n.ActBy <= dateOf(today) {
			t.Errorf("day %d: notice %s for %s names %s, on %s", d, n.Kind, n.AccessKeyID, n.ActBy, dateOf(today))
		}
	}
	if s.lost(d) {
		p.Notices = nil // the owner's mail failed: the keys are written, the notices go again
	}
	for _, n := range p.Notices {
		switch n.Kind {
		case NewKeyIssued, DeactivationScheduled:
			s.announced[DeactivateKey][n.AccessKeyID] = n.ActBy
		case KeyDeactivated:
			s.announced[DeleteKey][n.AccessKeyID] = n.ActBy
		}
		if first, dup := s.notified[n.Ref()]; dup {
			t.Errorf("day %d: notice %s for %s already sent on day %d", d, n.Kind, n.AccessKeyID, first)
		}
		s.notified[n.Ref()] = d
		s.user.NoticesSent = append(s.user.NoticesSent, n.Ref())
		s.user.NoticesSentToday = append(s.user.NoticesSentToday, n.Ref())
		if n.Kind == NewKeyIssued {
			issued++
		}
	}
	if issued != created && !s.lost(d) {
		t.Errorf("day %d: %d keys created but %d new-key notices", d, created, issued)
	}
	// A re-run on the same day (an operator's retry, a redrive) changes nothing and sends nothing.
	if again, err := PlanUsers([]User{s.user}, s.cfg, today.Add(time.Hour)); s.lost(d) {
		// the notices that failed are planned again
	} else if err != nil || len(again.Users[0].Actions) > 0 || len(again.Users[0].Notices) > 0 {
		t.Errorf("day %d: a second run the same day plans %v and %v (%v)", d, again.Users[0].Actions, again.Users[0].Notices, err)
	}
	if hasEmail && !slices.ContainsFunc(s.user.Keys, func(k Key) bool { return k.Status == Active }) {
		t.Errorf("day %d: owner with an email left without an active key", d)
	}
}

func (s *simulation) hasActiveKeyDeliveredBefore(limit time.Time) bool {
	return slices.ContainsFunc(s.user.Keys, func(k Key) bool {
		return k.Status == Active && !s.delivered[k.AccessKeyID].After(limit)
	})
}

// TestTimelines simulates the worked timelines of docs/policy.md day by day for 120 days.
func TestTimelines(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		user       User
		wantEvents []string
	}{
		{"a new key: rotated at 80, deactivated at 90, deleted at 100, and again",
			Config{}, withEmail(key("OWN", Active, 0, -1)),
			[]string{"day 80 CreateKey", "day 90 DeactivateKey", "day 100 DeleteKey"}},
		{"a legacy 300-day key: replaced today, deactivated 10 days later, deleted 20 days later",
			Config{}, withEmail(key("LEGACY", Active, 300, 0)),
			[]string{"day 0 CreateKey", "day 10 DeactivateKey", "day 20 DeleteKey",
				"day 80 CreateKey", "day 90 DeactivateKey", "day 100 DeleteKey"}},
		{"two old active keys: the oldest goes the day after its warning, the other is replaced the next day",
			Config{}, withEmail(key("A", Active, 95, 0), key("B", Active, 85, 0)),
			[]string{"day 1 DeactivateKey", "day 2 DeleteKey", "day 2 CreateKey", "day 12 DeactivateKey", "day 22 DeleteKey",
				"day 82 CreateKey", "day 92 DeactivateKey", "day 102 DeleteKey"}},
		{"two legacy active keys: never both deactivated",
			Config{}, withEmail(key("A", Active, 400, 0), key("B", Active, 300, 0)),
			[]string{"day 0 DeactivateKey", "day 1 DeleteKey", "day 1 CreateKey", "day 11 DeactivateKey", "day 21 DeleteKey",
				"day 81 CreateKey", "day 91 DeactivateKey", "day 101 DeleteKey"}},
		{"a legacy 91-day key with an 11-day replacement: warned for tomorrow, deactivated tomorrow",
			Config{}, withEmail(key("A", Active, 91, 0), key("B", Active, 11, 0)),
			[]string{"day 1 DeactivateKey", "day 9 DeleteKey", "day 69 CreateKey", "day 79 DeactivateKey", "day 89 DeleteKey"}},
		{"a user with no email: never a new key, deactivated at 90, deleted at 100",
			Config{}, noEmail(key("OWN", Active, 0, -1)),
			[]string{"day 90 DeactivateKey", "day 100 DeleteKey"}},
		{"custom limits 30/5 over 120 days",
			Config{LimitDays: 30, NoticePeriod: 5}, withEmail(key("OWN", Active, 0, -1)),
			[]string{"day 25 CreateKey", "day 30 DeactivateKey", "day 35 DeleteKey",
				"day 50 CreateKey", "day 55 DeactivateKey", "day 60 DeleteKey",
				"day 75 CreateKey", "day 80 DeactivateKey", "day 85 DeleteKey",
				"day 100 CreateKey", "day 105 DeactivateKey", "day 110 DeleteKey"}},
		{"RotationDays 40: new key at 30, deactivated at 40, deleted at 50, and again",
			Config{}, rotationDays(withEmail(key("OWN", Active, 0, -1)), "40"),
			[]string{"day 30 CreateKey", "day 40 DeactivateKey", "day 50 DeleteKey",
				"day 60 CreateKey", "day 70 DeactivateKey", "day 80 DeleteKey",
				"day 90 CreateKey", "day 100 DeactivateKey", "day 110 DeleteKey", "day 120 CreateKey"}},
		{"RotationDays 7, below 3 notice periods: the shortest timeline, 20/30/40",
			Config{}, rotationDays(withEmail(key("OWN", Active, 0, -1)), "7"),
			[]string{"day 20 CreateKey", "day 30 DeactivateKey", "day 40 DeleteKey", "day 40 CreateKey",
				"day 50 DeactivateKey", "day 60 DeleteKey", "day 60 CreateKey", "day 70 DeactivateKey",
				"day 80 DeleteKey", "day 80 CreateKey", "day 90 DeactivateKey", "day 100 DeleteKey", "day 100 CreateKey",
				"day 110 DeactivateKey", "day 120 DeleteKey", "day 120 CreateKey"}},
		{"RotationDays 120, longer than the limit: ignored",
			Config{}, rotationDays(withEmail(key("OWN", Active, 0, -1)), "120"),
			[]string{"day 80 CreateKey", "day 90 DeactivateKey", "day 100 DeleteKey"}},
		{"RotationDays 30 with a legacy key: replaced today, deactivated and deleted a notice period apart",
			Config{}, rotationDays(withEmail(key("LEGACY", Active, 300, 0)), "30"),
			[]string{"day 0 CreateKey", "day 10 DeactivateKey", "day 20 DeleteKey",
				"day 20 CreateKey", "day 30 DeactivateKey", "day 40 DeleteKey", "day 40 CreateKey",
				"day 50 DeactivateKey", "day 60 DeleteKey", "day 60 CreateKey", "day 70 DeactivateKey",
				"day 80 DeleteKey", "day 80 CreateKey", "day 90 DeactivateKey", "day 100 DeleteKey", "day 100 CreateKey",
				"day 110 DeactivateKey", "day 120 DeleteKey", "day 120 CreateKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSimulation(t, tt.cfg, tt.user)
			s.run(120)
			if !slices.Equal(s.events, tt.wantEvents) {
				t.Errorf("events:\n got %q\nwant %q", s.events, tt.wantEvents)
			}
		})
	}
}

// TestMissedRunsStillNotify replays the new-key timeline with the runs of days 80 to 84
// missed: the key is still replaced and every notice still goes out, once.
func TestMissedRunsStillNotify(t *testing.T) {
	s := newSimulation(t, Config{}, withEmail(key("OWN", Active, 0, -1)))
	for d := 0; d <= 120; d++ {
		if d >= 80 && d <= 84 {
			continue
		}
		s.step(d, now.Add(time.Duration(d)*day))
	}
	want := []string{"day 85 CreateKey", "day 95 DeactivateKey", "day 105 DeleteKey"}
	if !slices.Equal(s.events, want) {
		t.Errorf("events %q, want %q", s.events, want)
	}
	for _, kind := range []NoticeKind{NewKeyIssued, KeyDeactivated, KeyDeleted} {
		if _, ok := s.notified[NoticeRef{kind, "OWN"}]; !ok {
			t.Errorf("no %s notice for the replaced key", kind)
		}
	}
}

// TestLateWarningNamesTheDayItIsActedOn replays rotations whose owner mail fails for some
// days: each warning, when it finally arrives, names the day the key is acted on, and the
// key is acted on that day (the replay checks both every day).
func TestLateWarningNamesTheDayItIsActedOn(t *testing.T) {
	tests := []struct {
		name       string
		user       User
		lost       func(d int) bool
		wantEvents []string
	}{
		{"legacy pair, mail failing for 3 days", withEmail(key("A", Active, 91, 0), key("B", Active, 11, 0)),
			func(d int) bool { return d < 3 },
			[]string{"day 4 DeactivateKey", "day 9 DeleteKey", "day 69 CreateKey", "day 79 DeactivateKey", "day 89 DeleteKey"}},
		{"legacy pair, mail failing until the bounded wait", withEmail(key("A", Active, 91, 0), key("B", Active, 11, 0)),
			func(d int) bool { return d < 9 },
			[]string{"day 9 DeactivateKey", "day 10 DeleteKey", "day 69 CreateKey", "day 79 DeactivateKey", "day 89 DeleteKey"}},
		{"new key's mail failing for 12 days", withEmail(key("OWN", Active, 0, -1)),
			func(d int) bool { return d >= 80 && d < 92 },
			[]string{"day 80 CreateKey", "day 93 DeactivateKey", "day 100 DeleteKey"}},
		{"deactivation notice failing for 12 days", withEmail(key("OWN", Active, 0, -1)),
			func(d int) bool { return d >= 90 && d < 102 },
			[]string{"day 80 CreateKey", "day 90 DeactivateKey", "day 103 DeleteKey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSimulation(t, Config{}, tt.user)
			s.lost = tt.lost
			s.run(120)
			if !slices.Equal(s.events, tt.wantEvents) {
				t.Errorf("events:\n got %q\nwant %q", s.events, tt.wantEvents)
			}
		})
	}
}

// rotationDays gives u the RotationDays tag with this value.
func rotationDays(u User, value string) User {
	u.Tags[RotationDaysTag] = value
	return u
}
