package sim

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/bench"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestSteadyStateRatesOfTheOrdinaryDay checks the rates make bench-scale prices an ordinary
// day with (sandbox/bench, steady.go) against the rotator itself: users of the bench's
// shapes, default settings, no faults, a daily run for six rotation periods. The owners use
// every Active key every day (the application keeps the old key until it stops working, and
// takes up the new one), but for one who uses only the newest. Once a user holds none of its
// seeded keys (the warm-up: the rollout), each rotation period of a rotated user
// (bench.Rotated) brings one new key, estimate.RotationPeriodDays after the one before; the
// estimate.NewKeyEmails emails that carry it (the zip, its password); estimate.NoticesPerRotation
// notice emails besides, and no other email; and its hand-off secret billed its first hour
// only (scheduled for deletion within minutes of its creation). A user who is exempt or has
// no usable email gets no key and no email.
func TestSteadyStateRatesOfTheOrdinaryDay(t *testing.T) {
	h := scenario.New(t)
	cfg := policy.Config{AllowedEmailDomains: []string{domain}}.WithDefaults()
	period := estimate.RotationPeriodDays()
	users := []struct {
		name     string
		tags     map[string]string
		ages     []int
		inactive bool // the oldest key is Inactive
		prompt   bool // the owner uses only the newest key
	}{
		{name: "app", ages: []int{5}},
		{name: "deploy", ages: []int{85}},
		{name: "prompt", ages: []int{85}, prompt: true},
		{name: "legacy", ages: []int{132, 40}, inactive: true},
		{name: "etl", ages: []int{85, 84}},
		{name: "exempt", tags: map[string]string{"Exempt": "true"}, ages: []int{85}},
		{name: "elsewhere", tags: map[string]string{"EmailID": "elsewhere@example.org"}, ages: []int{85}},
	}
	rotated := map[string]bool{}
	seeded := map[string]bool{} // key IDs
	for _, u := range users {
		ids := h.User(u.name, u.tags, u.ages...)
		keys := make([]sandbox.Key, len(ids))
		for i, id := range ids {
			seeded[id], keys[i] = true, sandbox.Key{Status: "Active", AgeDays: u.ages[i]}
		}
		if u.inactive {
			must(h.W.SetKeyStatus(scenario.Account, ids[0], types.StatusTypeInactive))
			keys[0].Status = "Inactive"
		}
		tags := map[string]string{"EmailID": u.name + "@" + domain}
		for k, v := range u.tags {
			tags[k] = v
		}
		rotated[u.name] = bench.Rotated(tags, keys, cfg)
	}
	start := h.DayStart
	dayOf := func(t time.Time) int { return int(t.Sub(start) / (24 * time.Hour)) }

	type newKey struct {
		day int
		id  string
	}
	created := map[string][]newKey{}                       // user: its new keys, oldest first
	known := map[string]bool{}                             // the new keys seen
	warmUp := map[string]int{}                             // user: the first day it holds no seeded key
	secrets := map[string]map[string]bench.HandoffSecret{} // new key: its hand-off secrets by ARN, as last seen
	for range 6 * period {
		for _, u := range users {
			keys := h.W.Keys(scenario.Account, u.name)
			for i, k := range keys {
				if k.Status == types.StatusTypeActive && (!u.prompt || i == len(keys)-1) {
					must(h.W.UseKey(scenario.Account, k.AccessKeyID, h.Now, "s3", "us-east-1"))
				}
			}
		}
		day := dayOf(h.Now)
		h.Day()
		for _, u := range users {
			holdsSeeded := false
			for _, k := range h.W.Keys(scenario.Account, u.name) {
				holdsSeeded = holdsSeeded || seeded[k.AccessKeyID]
				if !seeded[k.AccessKeyID] && !known[k.AccessKeyID] {
					known[k.AccessKeyID] = true
					created[u.name] = append(created[u.name], newKey{day, k.AccessKeyID})
				}
			}
			if _, done := warmUp[u.name]; !done && !holdsSeeded {
				warmUp[u.name] = day
			}
		}
		for _, s := range h.W.SecretsList() {
			id := s.Tags["key-rotator:access-key-id"]
			if secrets[id] == nil {
				secrets[id] = map[string]bench.HandoffSecret{}
			}
			secrets[id][s.ARN] = bench.HandoffSecret{Created: s.Created, Scheduled: s.DeletedDate}
		}
	}

	keyEmails := map[string]int{} // new key: the emails that carried it
	notices := map[string][]int{} // user: the days of the notice emails it received
	for _, m := range h.W.Messages() {
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		to, err := mail.ParseAddress(parsed.Header.Get("To"))
		if err != nil {
			t.Fatal(err)
		}
		user, _, _ := strings.Cut(to.Address, "@")
		if k := zipSubject.FindStringSubmatch(subject); k != nil {
			keyEmails[k[1]]++
		} else if k := passwordSubject.FindStringSubmatch(subject); k != nil {
			keyEmails[k[1]]++
		} else {
			notices[user] = append(notices[user], dayOf(m.Sent))
		}
	}

	for _, u := range users {
		if !rotated[u.name] {
			if len(created[u.name]) > 0 || len(notices[u.name]) > 0 {
				t.Errorf("%s (not rotated): new keys %v, notices on days %v; want none", u.name, created[u.name], notices[u.name])
			}
			continue
		}
		keys := created[u.name]
		periods := 0
		for i := 0; i+1 < len(keys); i++ {
			key, from, to := keys[i].id, keys[i].day, keys[i+1].day
			if from <= warmUp[u.name] {
				continue
			}
			periods++
			if to-from != period {
				t.Errorf("%s: new keys on days %d and %d, %d days apart; want one every %d days", u.name, from, to, to-from, period)
			}
			if keyEmails[key] != estimate.NewKeyEmails {
				t.Errorf("%s: the new key of day %d came in %d emails, want %d (its zip and password)", u.name, from, keyEmails[key], estimate.NewKeyEmails)
			}
			n := 0
			for _, d := range notices[u.name] {
				if d >= from && d < to {
					n++
				}
			}
			if n != estimate.NoticesPerRotation {
				t.Errorf("%s: %d notice emails from day %d to day %d (notices on days %v), want %d a rotation period",
					u.name, n, from, to, notices[u.name], estimate.NoticesPerRotation)
			}
			if len(secrets[key]) != 1 {
				t.Errorf("%s: the new key of day %d had %d hand-off secrets, want one", u.name, from, len(secrets[key]))
			}
			for _, s := range secrets[key] {
				if s.Scheduled == nil || s.Scheduled.Sub(s.Created) > 10*time.Minute || s.BilledHours() != 1 {
					t.Errorf("%s: the hand-off secret of day %d's key, created %s, scheduled for deletion %v: billed %g hours, want its first hour only",
						u.name, from, s.Created.Format(time.DateTime), s.Scheduled, s.BilledHours())
				}
			}
		}
		if periods < 3 {
			t.Errorf("%s: %d rotation periods after the warm-up (day %d; new keys %v), want at least 3", u.name, periods, warmUp[u.name], keys)
		}
	}
}
