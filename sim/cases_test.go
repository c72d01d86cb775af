package sim

import (
	"bytes"
	"context"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// The regression tests of issue 9's numbered cases: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

func (h *harness) keys(user string) map[string]types.StatusType {
	out := map[string]types.StatusType{}
	for _, k := range h.w.Keys(testAccount, user) {
		out[k.AccessKeyID] = k.Status
	}
	return out
}

// received lists the new keys whose zip and password both reached user.
func (h *harness) received(user string) []string {
	halves := map[string]int{}
	for _, m := range h.w.Delivered(user + "@" + domain) {
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw))
		if err != nil {
			continue
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		for _, re := range []*regexp.Regexp{zipSubject, passwordSubject} {
			if m := re.FindStringSubmatch(subject); m != nil {
				halves[m[1]]++
			}
		}
	}
	var out []string
	for id, n := range halves {
		if n >= 2 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Case 1: after the owner deactivated the first replacement, a second one is created for the
// same old key, and it is delivered (it carries the old key and its date).
func TestCase1SecondReplacementOfTheSameOldKeyIsDelivered(t *testing.T) {
	h := newHarness(t)
	old := h.user("alice", nil, 85)[0]
	h.day() // K1 created and delivered
	first := h.received("alice")
	if len(first) != 1 {
		t.Fatalf("alice received %v after the first rotation, want one key", first)
	}
	h.day() // the delivery is confirmed
	must(h.w.SetKeyStatus(testAccount, first[0], types.StatusTypeInactive))
	for range 3 {
		h.day()
	}
	got := h.received("alice")
	if len(got) != 2 {
		t.Fatalf("alice received %v, want a second key replacing %s (keys now %v)", got, old, h.keys("alice"))
	}
	if h.keys("alice")[old] != types.StatusTypeActive {
		t.Errorf("the old key %s was deactivated before the second replacement reached alice", old)
	}
}

// Case 2: a failed UntagUser of the pending mark after the key was stored does not make the
// delivered key an orphan.
func TestCase2DeliveredKeyIsNotDeletedAsAnOrphan(t *testing.T) {
	h := newHarness(t)
	h.user("bob", nil, 85)
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.UntagUserInput); ok && slices.Contains(in.TagKeys, "key-rotator:pending") {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.day()
	h.w.Inject = nil
	got := h.received("bob")
	if len(got) != 1 {
		t.Fatalf("bob received %v, want the new key", got)
	}
	for range 3 {
		h.day()
	}
	if _, ok := h.keys("bob")[got[0]]; !ok {
		t.Errorf("bob's delivered key %s was deleted (keys %v)", got[0], h.keys("bob"))
	}
}

// Case 3: while SES rejects every send, the new key is not a replacement: the old key stays
// active past T_r+N, until the bounded wait ends.
func TestCase3UndeliveredKeyIsNoReplacement(t *testing.T) {
	h := newHarness(t)
	old := h.user("carol", nil, 85)[0]
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	for range 15 {
		h.day()
	}
	if len(h.received("carol")) != 0 {
		t.Fatal("carol received a key while SES rejected every send")
	}
	if h.keys("carol")[old] != types.StatusTypeActive {
		t.Errorf("carol's old key %s was deactivated 15 days after a replacement she never received (keys %v)", old, h.keys("carol"))
	}
}

// Case 4: an exempt user gets no write, whatever rotator tags it carries.
func TestCase4ExemptUserWithAPendingMarkKeepsItsKeys(t *testing.T) {
	h := newHarness(t)
	ids := h.user("dave", map[string]string{"Exempt": "true", "key-rotator:pending": "not a time"}, 200, 5)
	writes := 0
	h.w.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && strings.HasPrefix(callSubject(c.Input), "dave") {
			writes++
		}
	}
	h.day()
	if writes != 0 || len(h.keys("dave")) != len(ids) {
		t.Errorf("exempt dave: %d writes, keys %v (had %v)", writes, h.keys("dave"), ids)
	}
}

// Case 5: a DeactivationScheduled notice that SES failed to send is not counted as sent: the
// key is deactivated only after the warning reached its owner, on an earlier day.
func TestCase5WarningIsDeliveredBeforeTheDeactivation(t *testing.T) {
	h := newHarness(t)
	ids := h.user("erin", nil, 89, 5) // an old key, and a replacement erin made herself
	warned := time.Time{}
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" && h.runs <= 2 {
			return awsmodel.ServerError // SES is down for the first two days
		}
		return awsmodel.None
	}
	for range 20 {
		h.day()
		if warned.IsZero() && len(h.w.Delivered("erin@"+domain)) > 0 {
			warned = h.now
		}
		if h.keys("erin")[ids[0]] == types.StatusTypeInactive {
			break
		}
	}
	if warned.IsZero() {
		t.Fatal("erin was never warned")
	}
	if h.keys("erin")[ids[0]] == types.StatusTypeInactive && !warned.Before(h.now) {
		t.Errorf("erin's key was deactivated the day the warning reached her")
	}
}

// Case 6: when recording the deactivation day fails, a re-run the same day does not delete
// the key deactivated that day.
func TestCase6NoSameDayDeleteAfterAFailedHistoryWrite(t *testing.T) {
	h := newHarness(t)
	must(h.w.CreateUser(testAccount, "frank", nil)) // no email: deactivated at 90
	id, _, err := h.w.AddKey(testAccount, "frank", h.now.AddDate(0, 0, -105), types.StatusTypeActive)
	must(err)
	must(h.w.UseKey(testAccount, id, h.now.Add(-time.Hour), "s3", "us-east-1"))
	h.now = h.now.Add(time.Minute)
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.TagUserInput); ok && len(in.Tags) > 0 && aws.ToString(in.Tags[0].Key) == "key-rotator:deactivated" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.notify(h.scan())
	h.w.Inject = nil
	h.now = h.now.Add(30 * time.Minute)
	h.notify(h.scan()) // the same day
	if _, ok := h.keys("frank")[id]; !ok {
		t.Errorf("frank's key %s was deleted on the day it was deactivated", id)
	}
}

// Case 7: a key the owner reactivates while the rotator reads other users is not deleted
// while active.
func TestCase7NoWriteOnStaleReads(t *testing.T) {
	h := newHarness(t)
	must(h.w.CreateUser(testAccount, "gina", map[string]string{"EmailID": "gina@" + domain}))
	inactive, _, err := h.w.AddKey(testAccount, "gina", h.now.AddDate(0, 0, -120), types.StatusTypeInactive)
	must(err)
	must(h.w.SetTag(testAccount, "gina", "key-rotator:deactivated", inactive+":2026-01-01"))
	h.user("hank", nil, 85)
	deletedActive := false
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.ListAccessKeysInput); ok && aws.ToString(in.UserName) == "hank" {
			_ = h.w.SetKeyStatus(testAccount, inactive, types.StatusTypeActive) // gina needs it again
		}
		if in, ok := c.Input.(*iam.DeleteAccessKeyInput); ok && aws.ToString(in.AccessKeyId) == inactive {
			deletedActive = h.keys("gina")[inactive] == types.StatusTypeActive
		}
		return awsmodel.None
	}
	h.day()
	if deletedActive {
		t.Errorf("gina's key %s was deleted while active", inactive)
	}
}

// Case 8: a retry seconds after a key was created, when IAM does not list the key yet, keeps
// its hand-off secret.
func TestCase8NewKeyNotListedYetKeepsItsSecret(t *testing.T) {
	h := newHarness(t)
	h.user("ivy", nil, 85)
	h.scan() // the key is created and stored; the notification's response is lost
	h.now = h.now.Add(2 * time.Second)
	h.notify(h.scan()) // Step Functions retries at once: IAM does not list the key yet
	secrets := 0
	for _, s := range h.w.SecretsList() {
		if s.DeletedDate == nil {
			secrets++
		}
	}
	if secrets == 0 && len(h.received("ivy")) == 0 {
		t.Errorf("ivy's new key lost its secret before it was delivered (keys %v)", h.keys("ivy"))
	}
}

// Case 9: a malformed hand-off secret is set aside; the account's other users are processed.
func TestCase9MalformedSecretDoesNotFailTheAccount(t *testing.T) {
	h := newHarness(t)
	h.user("judy", nil, 85)
	_, err := h.w.Secrets().CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("handoff/" + testAccount + "/someone/garbage"), SecretString: aws.String("{}")})
	must(err)
	h.day()
	if len(h.received("judy")) != 1 {
		t.Errorf("judy received %v: one malformed secret stopped the account", h.received("judy"))
	}
}

// TestBoundedWorkPerInvocation (issue 11): an invocation whose Lambda is about to time out
// reads and writes no more users; they are reported deferred and the next run takes them.
func TestBoundedWorkPerInvocation(t *testing.T) {
	h := newHarness(t)
	h.user("kim", nil, 85)
	h.user("lee", nil, 95, 5)
	writes := 0
	h.w.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && c.Operation != "GenerateCredentialReport" {
			writes++
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(rotate.TimeReserve/2))
	defer cancel()
	res, notes := h.scanWith(ctx)
	if writes != 0 || len(notes) != 0 || res.Counts.Deferred != 2 {
		t.Errorf("out of time: %d writes, %d notifications, %d deferred (want 0, 0, 2)", writes, len(notes), res.Counts.Deferred)
	}
	h.day()
	if len(h.received("kim")) != 1 {
		t.Errorf("the next run did not take kim: received %v", h.received("kim"))
	}
}

// TestMaxUsersServesTheMostUrgentFirst (rule 8): with room for one user's writes, the user
// whose key is oldest gets them, whatever the order of the credential report.
func TestMaxUsersServesTheMostUrgentFirst(t *testing.T) {
	h := newHarness(t)
	h.maxUsers = 1
	h.user("amy", nil, 85)
	h.user("zed", nil, 300)
	h.day()
	if len(h.received("zed")) != 1 || len(h.received("amy")) != 0 {
		t.Errorf("with maxUsers 1: zed (300 days) received %v, amy (85 days) %v; want zed served first", h.received("zed"), h.received("amy"))
	}
}

// TestListingWithoutReportStopsAtTheTimeBudget (issue 11): when IAM cannot give the
// credential report, the scanner lists users one by one; an invocation near its Lambda's
// deadline reads no more of them, reports each user it listed but did not read as deferred
// (not scanned, and why), and the next run scans them.
func TestListingWithoutReportStopsAtTheTimeBudget(t *testing.T) {
	h := newHarness(t)
	h.user("kim", nil, 85)
	h.user("lee", nil, 10)
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "GenerateCredentialReport" {
			return awsmodel.ServerError // no report: the scanner lists every user
		}
		return awsmodel.None
	}
	reads := 0
	h.w.Observe = func(c awsmodel.Call, _ any, _ error) {
		switch c.Operation {
		case "ListAccessKeys", "GetAccessKeyLastUsed", "ListUserTags":
			reads++
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(rotate.TimeReserve/2))
	defer cancel()
	res, notes := h.scanWith(ctx)
	if reads != 0 || len(notes) != 0 || res.Counts.Deferred != 2 || res.Counts.Users != 2 {
		t.Errorf("out of time while listing: %d per-user reads, %d notifications, %d deferred of %d users (want 0, 0, 2 of 2)",
			reads, len(notes), res.Counts.Deferred, res.Counts.Users)
	}
	for _, u := range res.Users {
		if u.Status != policy.StatusDeferred || !strings.Contains(u.Reason, "not scanned") {
			t.Errorf("user %s: %s %q, want deferred as not scanned", u.UserName, u.Status, u.Reason)
		}
	}
	h.day()
	if len(h.received("kim")) != 1 {
		t.Errorf("the next run did not scan kim: received %v", h.received("kim"))
	}
}
