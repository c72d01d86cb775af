package policy

import (
	"slices"
	"strconv"
	"testing"
)

// FuzzPlanUser checks the engine's invariants on arbitrary users: it never panics, never
// plans a third key, never exceeds the 2-key quota at any point of the planned order, acts on
// each key at most once, never acts on an exempt user and never creates or notifies without
// a usable email. `make fuzz` runs it; `go test` replays the seeds.
func FuzzPlanUser(f *testing.F) {
	f.Add(uint8(1), uint16(80), uint16(0), uint16(0), uint16(0), uint8(0b0011), uint8(90), uint8(10), uint8(0))
	f.Add(uint8(2), uint16(300), uint16(5), uint16(85), uint16(1), uint8(0b0111), uint8(90), uint8(10), uint8(0b11))
	f.Add(uint8(2), uint16(120), uint16(100), uint16(100), uint16(0), uint8(0b0101), uint8(30), uint8(5), uint8(0b1))
	f.Add(uint8(2), uint16(95), uint16(0xffff), uint16(30), uint16(31), uint8(0b11001), uint8(90), uint8(10), uint8(0))
	f.Add(uint8(2), uint16(91), uint16(0), uint16(11), uint16(0), uint8(0b0111), uint8(90), uint8(10), uint8(0)) // a legacy pair: a date told would be past
	f.Fuzz(func(t *testing.T, nKeys uint8, age1, idle1, age2, idle2 uint16, flags, limit, notice, sentBits uint8) {
		cfg := Config{LimitDays: int(limit), NoticePeriod: int(notice), Cleanup: flags&0b10000 != 0}.WithDefaults()
		if cfg.Validate() != nil {
			return
		}
		u := User{UserName: "fuzz", Tags: map[string]string{}}
		if flags&0b1 != 0 {
			u.Tags["EmailID"] = "owner@example.com"
		}
		if flags&0b1000 != 0 {
			u.Tags["Exempt"] = "TRUE"
		}
		if flags&0b100000 != 0 {
			u.Tags[RotationDaysTag] = strconv.Itoa(int(sentBits) % 100)
		}
		specs := []struct {
			age, idle uint16
			active    bool
		}{{age1, idle1, flags&0b10 != 0}, {age2, idle2, flags&0b100 != 0}}
		for i := range min(int(nKeys%3), 2) {
			k := key([]string{"K1", "K2"}[i], Inactive, int(specs[i].age), int(specs[i].idle)%2000)
			if specs[i].idle == 0xffff {
				k.LastUsedDate = nil
			}
			if specs[i].active {
				k.Status = Active
			}
			u.Keys = append(u.Keys, k)
		}
		for i, kind := range []NoticeKind{NewKeyIssued, DeactivationScheduled, KeyDeactivated, KeyDeleted} {
			if sentBits&(1<<i) != 0 {
				u.NoticesSent = append(u.NoticesSent, NoticeRef{kind, "K1"})
			}
		}

		plan, err := PlanUsers([]User{u}, cfg, now)
		if err != nil {
			t.Fatalf("valid user rejected: %v", err)
		}
		p := plan.Users[0]
		if p.Status == StatusExempt && (len(p.Actions) > 0 || len(p.Notices) > 0) {
			t.Fatalf("exempt user got actions %v notices %v", p.Actions, p.Notices)
		}
		if flags&0b1000 != 0 && p.Status != StatusExempt {
			t.Fatalf("exempt user planned as %s", p.Status)
		}
		count := len(u.Keys)
		touched := map[string]bool{}
		for _, a := range p.Actions {
			switch a.Action {
			case CreateKey:
				count++
				if p.Email == "" || cfg.Cleanup {
					t.Fatalf("key created without a usable email or in cleanup mode: %+v", p)
				}
			case DeleteKey:
				count--
			}
			if count > 2 {
				t.Fatalf("plan reaches %d keys: %+v", count, p.Actions)
			}
			if a.Action != CreateKey {
				if touched[a.AccessKeyID] {
					t.Fatalf("key %s acted on twice: %+v", a.AccessKeyID, p.Actions)
				}
				touched[a.AccessKeyID] = true
				if !slices.ContainsFunc(u.Keys, func(k Key) bool { return k.AccessKeyID == a.AccessKeyID }) {
					t.Fatalf("action on unknown key %s", a.AccessKeyID)
				}
			}
		}
		if (p.Email == "" || cfg.Cleanup) && len(p.Notices) > 0 {
			t.Fatalf("notices without a usable email or in cleanup mode: %+v", p.Notices)
		}
		for _, n := range p.Notices {
			if slices.Contains(u.NoticesSent, n.Ref()) {
				t.Fatalf("notice %s for %s sent twice", n.Kind, n.AccessKeyID)
			}
			// Invariant 8: a notice names the day the rotator acts, after today (a warning
			// counts from the day after its delivery), never a day already past.
			if n.ActBy != "" && n.ActBy <= dateOf(now) {
				t.Fatalf("notice %s for %s names %s on %s", n.Kind, n.AccessKeyID, n.ActBy, dateOf(now))
			}
		}
		for _, a := range p.Actions {
			if a.Action == CreateKey && a.DeactivateOn <= dateOf(now) {
				t.Fatalf("new key's email names %s on %s", a.DeactivateOn, dateOf(now))
			}
		}
	})
}

// FuzzMayAct checks that a user MayAct calls quiet under the config their tags give gets no
// action and no notice, whatever their notice history, and that no RotationDays tag makes
// due a user MayAct calls quiet under Config.Shortest: the scanner may skip them safely.
func FuzzMayAct(f *testing.F) {
	f.Add(uint16(79), uint16(89), uint16(10), uint16(0), uint8(0b111), int16(-1))
	f.Add(uint16(80), uint16(0), uint16(0), uint16(0xffff), uint8(0b011), int16(-1))
	f.Add(uint16(25), uint16(0), uint16(0), uint16(0), uint8(0b011), int16(30))
	f.Add(uint16(21), uint16(31), uint16(0), uint16(0), uint8(0b001), int16(7))
	f.Fuzz(func(t *testing.T, age1, idle1, age2, idle2 uint16, flags uint8, days int16) {
		cfg := Config{Cleanup: flags&0b1000 != 0}.WithDefaults()
		u := withEmail(key("K1", Active, int(age1), int(idle1)%5000))
		if flags&0b100 != 0 {
			u.Keys = append(u.Keys, key("K2", Inactive, int(age2), int(idle2)%5000))
		}
		if days >= 0 {
			u.Tags[RotationDaysTag] = strconv.Itoa(int(days))
		}
		if flags&0b1 == 0 {
			u.Tags = nil
		}
		userCfg, _ := cfg.ForUser(u.Tags)
		if MayAct(u.Keys, userCfg, now) {
			if !MayAct(u.Keys, cfg.Shortest(), now) {
				t.Fatalf("MayAct under RotationDays=%d but not under the shortest limit", days)
			}
			return
		}
		p := PlanUser(u, cfg, now)
		if len(p.Actions) > 0 || len(p.Notices) > 0 {
			t.Fatalf("MayAct said quiet but the plan has %v / %v", p.Actions, p.Notices)
		}
	})
}

// FuzzWriteDue checks that a user WriteDue finds a write due for, from their keys as the
// credential report shows them, gets an action or no notice at all, whatever their tags
// (email or none, exempt, any RotationDays, a given-up address), notice history, deactivation
// history and the key a slot that reads empty may hide: deferring them unread (rule 8) holds
// back no notice.
func FuzzWriteDue(f *testing.F) {
	f.Add(uint16(85), uint16(0), uint16(10), uint16(0), uint16(0b1), uint16(0), int16(-1))
	f.Add(uint16(95), uint16(95), uint16(0), uint16(0), uint16(0b10101), uint16(0xffff), int16(30))
	f.Add(uint16(300), uint16(1), uint16(100), uint16(100), uint16(0b10001), uint16(0b101), int16(7))
	f.Add(uint16(85), uint16(0), uint16(120), uint16(120), uint16(0x210), uint16(0x2000), int16(-1))
	// Not write-due, each caught if WriteDue were looser: two Active keys, the younger a
	// replacement (a notice only); a used Inactive key in the slot that reads empty, which the
	// rotator deactivated today (its notice sent again); an unused Inactive key, first known
	// inactive today by the rotator's hand, beside a new Active key.
	f.Add(uint16(85), uint16(0), uint16(10), uint16(0), uint16(0b111), uint16(0), int16(-1))
	f.Add(uint16(85), uint16(0), uint16(100), uint16(1), uint16(0b10001), uint16(0x2000), int16(-1))
	f.Add(uint16(120), uint16(120), uint16(10), uint16(0), uint16(0x87), uint16(0x2000), int16(-1))
	f.Fuzz(func(t *testing.T, age1, idle1, age2, idle2, shape, history uint16, days int16) {
		cfg := Config{Cleanup: shape&0x8000 != 0}.WithDefaults()
		k1 := key("K1", Active, int(age1)%1000, int(idle1)%1000)
		if shape&0x80 != 0 {
			k1.Status = Inactive
		}
		if shape&0x100 != 0 {
			k1.LastUsedDate = nil
		}
		k2 := key("K2", Inactive, int(age2)%1000, int(idle2)%1000)
		if shape&0x200 != 0 {
			k2.LastUsedDate = nil
		}
		// What the report shows (scan gives a slot that reads empty as an Inactive key with the
		// slot's last use), and the keys as read fresh.
		report, fresh := []Key{k1}, []Key{k1}
		userCreated := now.AddDate(-3, 0, 0)
		switch {
		case shape&0b100 != 0:
			if shape&0b10 != 0 {
				k2.Status = Active
			}
			report, fresh = append(report, k2), append(fresh, k2)
		case shape&0b10000 != 0: // an Inactive key the report does not date
			report = append(report, Key{Status: Inactive, CreateDate: userCreated, LastUsedDate: k2.LastUsedDate})
			fresh = append(fresh, k2)
		default: // an empty slot
			report = append(report, Key{Status: Inactive, CreateDate: userCreated})
		}
		if !WriteDue(report, cfg, now) {
			return
		}
		if cfg.Cleanup {
			t.Fatalf("WriteDue in cleanup mode: %v", report)
		}
		u := User{UserName: "fuzz", Tags: map[string]string{}, Keys: fresh}
		email := shape&0b1 != 0
		if email {
			u.Tags["EmailID"] = "owner@example.com"
		}
		if shape&0b100000 != 0 {
			u.Tags["Exempt"] = "true"
		}
		if shape&0b1000000 != 0 {
			u.DeliveryProblem = "given up"
		}
		if days >= 0 {
			u.Tags[RotationDaysTag] = strconv.Itoa(int(days))
		}
		for i, k := range u.Keys {
			for j, kind := range []NoticeKind{NewKeyIssued, DeactivationScheduled, KeyDeactivated, KeyDeleted, UnusedKeyDeleted} {
				if bit := uint16(1) << (i*6 + j); history&bit != 0 {
					u.NoticesSent = append(u.NoticesSent, NoticeRef{kind, k.AccessKeyID})
					if history&0x4000 != 0 {
						u.NoticesSentToday = append(u.NoticesSentToday, NoticeRef{kind, k.AccessKeyID})
					}
				}
			}
			if k.Status == Inactive {
				// First known inactive today, or earlier. The rotator deactivates a never-used
				// key only in cleanup mode, for an owner without a usable email: otherwise rule 2
				// deletes it before it is due for deactivation.
				u.Keys[i] = deactivatedAgo(k, int(history>>(i*6+5)&1)*int(age2%50))
				u.Keys[i].DeactivatedByRotator = history&0x2000 != 0 && (k.LastUsedDate != nil || !email || u.DeliveryProblem != "")
			}
		}
		p := PlanUser(u, cfg, now)
		if len(p.Actions) == 0 && len(p.Notices) > 0 {
			t.Fatalf("WriteDue(%v) but the plan of %+v has only notices: %v (%s)", report, u, p.Notices, p.Reason)
		}
	})
}
