package sendrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// slotStore is S3 as the slots use it: a conditional put succeeds once per key.
type slotStore struct {
	mu  sync.Mutex
	put map[string]bool
}

var _ S3API = (*slotStore)(nil)

func newSlotStore(keys ...string) *slotStore {
	s := &slotStore{put: map[string]bool{}}
	for _, k := range keys {
		s.put[k] = true
	}
	return s
}

func (s *slotStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if aws.ToString(in.IfNoneMatch) != "*" {
		return nil, errors.New("a slot must be written with If-None-Match: *")
	}
	if s.put[*in.Key] {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	s.put[*in.Key] = true
	return &s3.PutObjectOutput{}, nil
}

// parseKey reads a slot key back: its second and k.
func parseKey(t *testing.T, key string) (time.Time, int) {
	t.Helper()
	rest, ok := strings.CutPrefix(key, workflow.SendSlotsPrefix)
	second, k, ok2 := strings.Cut(rest, "/")
	at, err := time.Parse(time.RFC3339, second)
	n, err2 := strconv.Atoi(k)
	if !ok || !ok2 || err != nil || err2 != nil {
		t.Fatalf("slot key %q is not %s<RFC 3339 second>/<k>", key, workflow.SendSlotsPrefix)
	}
	return at, n
}

// sender is one sender's view of the store: it remembers the slot it reserved last.
type sender struct {
	*slotStore
	last string
}

func (s *sender) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	out, err := s.slotStore.PutObject(ctx, in, opts...)
	if err == nil {
		s.last = *in.Key
	}
	return out, err
}

// TestConcurrentSendersNeverExceedTheRate: senders that share nothing but the bucket (as
// Lambdas of overlapping executions do) each take slots and send at once; each sends in the
// second its reservation names, not before the slot's time, and in no second do more than
// rate of them send.
func TestConcurrentSendersNeverExceedTheRate(t *testing.T) {
	const rate, senders, sendsEach = 25, 8, 8
	store := newSlotStore()
	type send struct {
		at   time.Time
		slot string
	}
	var mu sync.Mutex
	var sends []send
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := &sender{slotStore: store}
			slots := &Slots{S3: own, Bucket: "reports"}
			for range sendsEach {
				if err := slots.Take(context.Background(), rate); err != nil {
					t.Error(err)
					return
				}
				at := time.Now()
				mu.Lock()
				sends = append(sends, send{at, own.last})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(sends) != senders*sendsEach {
		t.Fatalf("%d sends, want %d", len(sends), senders*sendsEach)
	}
	perSecond, perSlot := map[int64]int{}, map[string]int{}
	busiest := 0
	for _, s := range sends {
		second, k := parseKey(t, s.slot)
		at := second.Add(time.Duration(k) * time.Second / rate)
		if s.at.Before(at) || !s.at.Before(second.Add(time.Second)) || k >= rate {
			t.Errorf("a send at %s on slot %s: before its slot's time, outside its second, or k not below the rate %d", s.at.UTC().Format(time.RFC3339Nano), s.slot, rate)
		}
		perSlot[s.slot]++
		perSecond[s.at.Unix()]++
		busiest = max(busiest, perSecond[s.at.Unix()])
	}
	for slot, n := range perSlot {
		if n > 1 {
			t.Errorf("slot %s used by %d sends", slot, n)
		}
	}
	if busiest > rate {
		t.Errorf("%d sends in one second, over the rate of %d: %v", busiest, rate, perSecond)
	}
	t.Logf("%d sends by %d senders at %d per second: at most %d in one second, over %d seconds", len(sends), senders, rate, busiest, len(perSecond))
}

// fakeTime is a clock that only a sleep moves on; extra is added to the sleeps, one per
// sleep, as when a process is paused (nothing: a sleep lasts as asked).
type fakeTime struct {
	now    time.Time
	extra  []time.Duration
	sleeps []time.Duration
}

func (f *fakeTime) clock() time.Time { return f.now }

func (f *fakeTime) sleep(_ context.Context, d time.Duration) error {
	d = max(d, 0) // as a timer does
	f.sleeps = append(f.sleeps, d)
	if len(f.extra) > 0 {
		d, f.extra = d+f.extra[0], f.extra[1:]
	}
	f.now = f.now.Add(d)
	return nil
}

func TestTake(t *testing.T) {
	noon := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	key := func(offset time.Duration, k int) string {
		return fmt.Sprintf("%s%s/%d", workflow.SendSlotsPrefix, noon.Add(offset).Format(time.RFC3339), k)
	}
	tests := []struct {
		name   string
		now    time.Duration // after noon
		rate   int
		taken  []string
		extra  []time.Duration
		want   []string        // the slots reserved, in order
		sleeps []time.Duration // the waits asked for
	}{
		{name: "the first slot not passed", now: 100 * time.Millisecond, rate: 4,
			want: []string{key(0, 1)}, sleeps: []time.Duration{150 * time.Millisecond}},
		{name: "at a slot's time: that slot", now: 500 * time.Millisecond, rate: 2,
			want: []string{key(0, 1)}, sleeps: []time.Duration{0}},
		{name: "taken slots are skipped", now: 100 * time.Millisecond, rate: 4, taken: []string{key(0, 1), key(0, 2)},
			want: []string{key(0, 3)}, sleeps: []time.Duration{650 * time.Millisecond}},
		{name: "a full second: the next", now: 100 * time.Millisecond, rate: 2, taken: []string{key(0, 1), key(time.Second, 0)},
			want: []string{key(time.Second, 1)}, sleeps: []time.Duration{1400 * time.Millisecond}},
		{name: "late in a second: the next", now: 900 * time.Millisecond, rate: 2,
			want: []string{key(time.Second, 0)}, sleeps: []time.Duration{100 * time.Millisecond}},
		{name: "rate 0 is 1 per second", now: 0, rate: 0,
			want: []string{key(0, 0)}, sleeps: []time.Duration{0}},
		{name: "a slot whose second passed while waiting goes unused", now: 100 * time.Millisecond, rate: 4, extra: []time.Duration{2 * time.Second},
			want: []string{key(0, 1), key(2*time.Second, 1)}, sleeps: []time.Duration{150 * time.Millisecond, 0}},
		{name: "less than half an interval left in the second: the slot goes unused", now: 100 * time.Millisecond, rate: 4, extra: []time.Duration{650 * time.Millisecond},
			want: []string{key(0, 1), key(time.Second, 0)}, sleeps: []time.Duration{150 * time.Millisecond, 100 * time.Millisecond}},
		{name: "late, with time left in the second: the slot is used", now: 100 * time.Millisecond, rate: 4, extra: []time.Duration{600 * time.Millisecond},
			want: []string{key(0, 1)}, sleeps: []time.Duration{150 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newSlotStore(tt.taken...)
			ft := &fakeTime{now: noon.Add(tt.now), extra: tt.extra}
			slots := &Slots{S3: store, Bucket: "reports", Clock: ft.clock, Sleep: ft.sleep}
			if err := slots.Take(context.Background(), tt.rate); err != nil {
				t.Fatal(err)
			}
			var got []string
			for k := range store.put {
				if !slices.Contains(tt.taken, k) {
					got = append(got, k)
				}
			}
			if fmt.Sprint(slices.Sorted(slices.Values(got))) != fmt.Sprint(slices.Sorted(slices.Values(tt.want))) || fmt.Sprint(ft.sleeps) != fmt.Sprint(tt.sleeps) {
				t.Errorf("reserved %v after waits %v, want %v after %v", got, ft.sleeps, tt.want, tt.sleeps)
			}
		})
	}
}

// slowStore is a slot store whose every put takes lag of the fake clock.
type slowStore struct {
	*slotStore
	ft   *fakeTime
	lag  time.Duration
	puts int
}

func (s *slowStore) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	s.ft.now = s.ft.now.Add(s.lag)
	s.puts++
	return s.slotStore.PutObject(ctx, in, opts...)
}

// TestSlowPutsStillGetSlots: at a high rate, a put that takes several slot intervals makes
// the reserved slot a past one; it is used all the same while its second has time left, so
// that slow puts cost no extra reservations (and never keep a sender from sending).
func TestSlowPutsStillGetSlots(t *testing.T) {
	ft := &fakeTime{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	store := &slowStore{slotStore: newSlotStore(), ft: ft, lag: 35 * time.Millisecond}
	slots := &Slots{S3: store, Bucket: "reports", Clock: ft.clock, Sleep: ft.sleep}
	const takes = 50
	for range takes {
		if err := slots.Take(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
	}
	if store.puts > takes+takes/10 {
		t.Errorf("%d puts for %d slots at 100 per second with puts of %s", store.puts, takes, store.lag)
	}
}

// TestTakeStopsBeforeTheDeadline: when every slot up to the deadline less Reserve is taken,
// nothing is reserved and the error is retryable (the notification is left for a retry or
// the next run); a later search in the same process starts after the slots it saw taken.
func TestTakeStopsBeforeTheDeadline(t *testing.T) {
	noon := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var taken []string
	for s := range 20 {
		taken = append(taken, fmt.Sprintf("%s%s/0", workflow.SendSlotsPrefix, noon.Add(time.Duration(s)*time.Second).Format(time.RFC3339)))
	}
	store := newSlotStore(taken...)
	ft := &fakeTime{now: noon}
	slots := &Slots{S3: store, Bucket: "reports", Clock: ft.clock, Sleep: ft.sleep}
	ctx, cancel := context.WithDeadline(context.Background(), noon.Add(Reserve+10*time.Second))
	defer cancel()
	err := slots.Take(ctx, 1)
	var retryable *workflow.RetryableError
	if !errors.As(err, &retryable) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("error %v, want a RetryableError naming the deadline", err)
	}
	if len(store.put) != len(taken) || len(ft.sleeps) != 0 {
		t.Errorf("%d slots reserved (want none beyond the %d taken), waited %v", len(store.put)-len(taken), len(taken), ft.sleeps)
	}
	if err := slots.Take(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s%s/0", workflow.SendSlotsPrefix, noon.Add(20*time.Second).Format(time.RFC3339)); !store.put[want] {
		t.Errorf("without a deadline the next free slot, %s, is reserved: %v", want, store.put)
	}
}

type fakeAccount struct {
	out *sesv2.GetAccountOutput
	err error
}

func (f fakeAccount) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return f.out, f.err
}

func TestRate(t *testing.T) {
	quota := func(rate float64) fakeAccount {
		return fakeAccount{out: &sesv2.GetAccountOutput{SendQuota: &sestypes.SendQuota{MaxSendRate: rate, Max24HourSend: 50000}}}
	}
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: ses:GetAccount"}
	tests := []struct {
		name       string
		configured int
		ses        fakeAccount
		want       int
		wantErr    string
	}{
		{name: "configured: SES is not asked", configured: 3, ses: fakeAccount{err: denied}, want: 3},
		{name: "SES's quota", ses: quota(14), want: 14},
		{name: "a fraction is rounded down", ses: quota(14.9), want: 14},
		{name: "at least 1", ses: quota(0.5), want: 1},
		{name: "GetAccount refused", ses: fakeAccount{err: denied}, wantErr: "SES_MAX_SEND_RATE"},
		{name: "no quota", ses: fakeAccount{out: &sesv2.GetAccountOutput{}}, wantErr: "no SendQuota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rate(tt.configured, tt.ses)(context.Background())
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Rate = %d, %v; want %d, error containing %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
