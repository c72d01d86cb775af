package awsmodel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

var (
	_ rotate.IAMAPI      = (*IAM)(nil)
	_ handoff.SecretsAPI = (*Secrets)(nil)
	_ handoff.Reader     = (*Secrets)(nil)
	_ notify.SESAPI      = (*SES)(nil)
	_ report.S3API       = (*S3)(nil)
)

const acct = "111122223333"

var ctx = context.Background()

// simClock is a settable clock.
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time          { return c.t }
func (c *simClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newWorld(t *testing.T) (*World, *simClock) {
	t.Helper()
	clock := &simClock{t: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}
	return New(clock.now, 1), clock
}

// code is the AWS error code of err, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestIAMErrors(t *testing.T) {
	w, _ := newWorld(t)
	if err := w.CreateUser(acct, "alice", map[string]string{"EmailID": "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := w.CreateUser(acct, "bob", nil); err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := w.AddKey(acct, "bob", w.now(), types.StatusTypeInactive)
	if err != nil {
		t.Fatal(err)
	}
	c := w.IAM(acct)
	many := make([]types.Tag, 0, 50)
	for i := range 49 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprintf("t%02d", i)), Value: aws.String("v")})
	}
	tests := []struct {
		name   string
		call   func() error
		code   string
		status int
	}{
		{"create first key", func() error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}, "", 0},
		{"create second key", func() error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}, "", 0},
		{"third key", func() error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
			return err
		}, "LimitExceeded", 409},
		{"key of an unknown user", func() error {
			_, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("carol")})
			return err
		}, "NoSuchEntity", 404},
		{"update an unknown key", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String("AKIAXXXXXXXXXXXXXXXX"), Status: types.StatusTypeInactive})
			return err
		}, "NoSuchEntity", 404},
		{"update another user's key", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: &bobKey, Status: types.StatusTypeActive})
			return err
		}, "NoSuchEntity", 404},
		{"update to a bad status", func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: &bobKey, Status: "Disabled"})
			return err
		}, "ValidationError", 400},
		{"delete an unknown key", func() error {
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("bob"), AccessKeyId: aws.String("AKIAXXXXXXXXXXXXXXXX")})
			return err
		}, "NoSuchEntity", 404},
		{"last use of an unknown key", func() error {
			_, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String("AKIAXXXXXXXXXXXXXXXX")})
			return err
		}, "NoSuchEntity", 404},
		{"49 more tags make 50", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: many})
			return err
		}, "", 0},
		{"replacing a tag is no new tag", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("EmailID"), Value: aws.String("a@example.com")}}})
			return err
		}, "", 0},
		{"a key differing only in case replaces too", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("emailid"), Value: aws.String("b@example.com")}}})
			return err
		}, "", 0},
		{"51st tag", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("alice"), Tags: []types.Tag{{Key: aws.String("extra"), Value: aws.String("v")}}})
			return err
		}, "LimitExceeded", 409},
		{"tag value with a comma", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("a,b")}}})
			return err
		}, "InvalidInput", 400},
		{"tag value of 257 characters", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("x", 257))}}})
			return err
		}, "InvalidInput", 400},
		{"tag key of 129 characters", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}})
			return err
		}, "InvalidInput", 400},
		{"reserved tag key", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
			return err
		}, "InvalidInput", 400},
		{"tag value of letters, spaces and symbols", func() error {
			_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("bob"), Tags: []types.Tag{{Key: aws.String("key-rotator:notices"), Value: aws.String("Ünïcode 2026-01-02 a@b.c +=/:_.")}}})
			return err
		}, "", 0},
		{"untag a missing key", func() error {
			_, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("bob"), TagKeys: []string{"nope"}})
			return err
		}, "", 0},
		{"untag an unknown user", func() error {
			_, err := c.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("carol"), TagKeys: []string{"nope"}})
			return err
		}, "NoSuchEntity", 404},
		{"report before generation", func() error { _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); return err }, "ReportNotPresent", 410},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if code(err) != tt.code || status(err) != tt.status {
				t.Fatalf("error %v: code %q status %d, want %q %d", err, code(err), status(err), tt.code, tt.status)
			}
		})
	}
	if got := w.Tags(acct, "alice"); len(got) != 50 || got["emailid"] != "b@example.com" {
		t.Errorf("alice's tags: %d, emailid=%q; want 50 tags and the replaced spelling", len(got), got["emailid"])
	}
	var notPresent *types.CredentialReportNotPresentException
	if _, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{}); !errors.As(err, &notPresent) {
		t.Errorf("GetCredentialReport before generation: %v, want a *types.CredentialReportNotPresentException", err)
	}
	var limit *types.LimitExceededException
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); !errors.As(err, &limit) {
		t.Errorf("third key: %v, want a *types.LimitExceededException", err)
	}
}

func TestKeysAndEventualConsistency(t *testing.T) {
	w, clock := newWorld(t)
	if err := w.CreateUser(acct, "alice", nil); err != nil {
		t.Fatal(err)
	}
	c := w.IAM(acct)
	listed := func() []string {
		t.Helper()
		out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range out.AccessKeyMetadata {
			ids = append(ids, aws.ToString(m.AccessKeyId)+":"+string(m.Status))
		}
		return ids
	}
	created, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	k := created.AccessKey
	id := aws.ToString(k.AccessKeyId)
	if !strings.HasPrefix(id, "AKIA") || len(id) != 20 || strings.ToUpper(id) != id || len(aws.ToString(k.SecretAccessKey)) != 40 ||
		k.Status != types.StatusTypeActive || !aws.ToTime(k.CreateDate).Equal(w.now()) {
		t.Fatalf("created key %s (secret of %d characters), %s, %v", id, len(aws.ToString(k.SecretAccessKey)), k.Status, k.CreateDate)
	}
	if got := listed(); len(got) != 0 {
		t.Errorf("right after creation: %v, want the key not listed yet", got)
	}
	clock.advance(w.ConsistencyDelay)
	if got := listed(); !slices.Equal(got, []string{id + ":Active"}) {
		t.Errorf("after %v: %v, want the key", w.ConsistencyDelay, got)
	}
	if _, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: &id, Status: types.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: &id}); err != nil {
		t.Fatal(err)
	}
	if got := listed(); !slices.Equal(got, []string{id + ":Inactive"}) {
		t.Errorf("right after deletion: %v, want the deleted key still listed", got)
	}
	if keys := w.Keys(acct, "alice"); len(keys) != 0 {
		t.Errorf("owner's view after deletion: %v", keys)
	}
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Errorf("a deleted key still listed must not count against the quota: %v", err)
	}
	clock.advance(w.ConsistencyDelay)
	if got := listed(); len(got) != 1 || strings.HasPrefix(got[0], id) {
		t.Errorf("after %v: %v, want only the new key", w.ConsistencyDelay, got)
	}

	used, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(w.Keys(acct, "alice")[0].AccessKeyID)})
	if err != nil {
		t.Fatal(err)
	}
	if u := used.AccessKeyLastUsed; u.LastUsedDate != nil || aws.ToString(u.ServiceName) != "N/A" || aws.ToString(u.Region) != "N/A" || aws.ToString(used.UserName) != "alice" {
		t.Errorf("never used key: %+v of %s", u, aws.ToString(used.UserName))
	}
	newID := w.Keys(acct, "alice")[0].AccessKeyID
	at := w.now().Add(-time.Hour)
	if err := w.UseKey(acct, newID, at, "s3", "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	used, err = c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &newID})
	if err != nil {
		t.Fatal(err)
	}
	if u := used.AccessKeyLastUsed; !aws.ToTime(u.LastUsedDate).Equal(at) || aws.ToString(u.ServiceName) != "s3" || aws.ToString(u.Region) != "eu-west-1" {
		t.Errorf("used key: %+v", u)
	}
}

func TestPaging(t *testing.T) {
	w, _ := newWorld(t)
	w.ConsistencyDelay = 0
	for i := range 7 {
		if err := w.CreateUser(acct, fmt.Sprintf("user%d", 6-i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := w.SetTag(acct, "user0", fmt.Sprintf("tag%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	c := w.IAM(acct)
	var users []string
	pages := iam.NewListUsersPaginator(c, &iam.ListUsersInput{MaxItems: aws.Int32(3)})
	n := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, u := range page.Users {
			users = append(users, aws.ToString(u.UserName))
		}
	}
	if want := []string{"user0", "user1", "user2", "user3", "user4", "user5", "user6"}; !slices.Equal(users, want) || n != 3 {
		t.Errorf("users in %d pages: %v, want %v in 3", n, users, want)
	}
	var tags []string
	tagPages := iam.NewListUserTagsPaginator(c, &iam.ListUserTagsInput{UserName: aws.String("user0"), MaxItems: aws.Int32(2)})
	for tagPages.HasMorePages() {
		page, err := tagPages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range page.Tags {
			tags = append(tags, aws.ToString(tag.Key))
		}
	}
	if want := []string{"tag0", "tag1", "tag2", "tag3", "tag4"}; !slices.Equal(tags, want) {
		t.Errorf("tags: %v, want %v", tags, want)
	}
	if _, err := c.ListUsers(ctx, &iam.ListUsersInput{Marker: aws.String("bogus")}); code(err) != "InvalidInput" {
		t.Errorf("bad marker: %v", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault      Fault
		keys       int // alice's keys after one CreateAccessKey
		code       string
		retryable  bool
		crashes    bool
		deadline   bool
		maxAttempt bool
	}{
		{fault: None, keys: 1},
		{fault: Throttle, keys: 0, code: "Throttling", retryable: true, maxAttempt: true},
		{fault: ServerError, keys: 0, code: "ServiceFailure", retryable: true, maxAttempt: true},
		{fault: LostResponse, keys: 1, code: "timeout", retryable: true, deadline: true},
		{fault: Retried, keys: 2},
		{fault: CrashBefore, keys: 0, crashes: true},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			w, _ := newWorld(t)
			if err := w.CreateUser(acct, "alice", nil); err != nil {
				t.Fatal(err)
			}
			var injected, observed []Call
			w.Inject = func(c Call) Fault { injected = append(injected, c); return tt.fault }
			w.Observe = func(c Call, out any, err error) { observed = append(observed, c) }
			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				_, err = w.IAM(acct).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
				return nil
			}()
			if got := len(w.Keys(acct, "alice")); got != tt.keys {
				t.Errorf("keys after the call: %d, want %d", got, tt.keys)
			}
			if tt.crashes {
				crash, ok := panicked.(Crash)
				if !ok || crash.Call.Operation != "CreateAccessKey" || crash.Call.Account != acct {
					t.Fatalf("panic %v, want a Crash of CreateAccessKey", panicked)
				}
				if len(observed) != 0 {
					t.Errorf("a crashed call was observed")
				}
			} else {
				if panicked != nil {
					t.Fatalf("panic: %v", panicked)
				}
				if len(observed) != 1 {
					t.Errorf("observed %d calls, want 1", len(observed))
				}
			}
			if len(injected) != 1 || !injected[0].Writes() {
				t.Errorf("Inject saw %v, want one write", injected)
			}
			if errorCodeOrEmpty(err) != tt.code || workflow.IsRetryable(err) != tt.retryable || errors.Is(err, context.DeadlineExceeded) != tt.deadline {
				t.Errorf("error %v: code %q retryable %v deadline %v", err, errorCodeOrEmpty(err), workflow.IsRetryable(err), errors.Is(err, context.DeadlineExceeded))
			}
			var opErr *smithy.OperationError
			if err != nil && (!errors.As(err, &opErr) || opErr.Service() != "IAM" || opErr.Operation() != "CreateAccessKey") {
				t.Errorf("error %v is not an OperationError of IAM CreateAccessKey", err)
			}
			if tt.maxAttempt && !strings.Contains(err.Error(), "exceeded maximum number of attempts") {
				t.Errorf("error %v does not say the SDK's retries were spent", err)
			}
			recent := w.Recent()
			if len(recent) != 1 || !strings.Contains(recent[0], "CreateAccessKey "+acct+" alice") {
				t.Errorf("Recent: %q", recent)
			}
		})
	}
}

func errorCodeOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return errorCode(err)
}

func TestServerErrorsOfEachService(t *testing.T) {
	w, _ := newWorld(t)
	w.CreateBucket("b")
	tests := []struct {
		name     string
		call     func() error
		throttle string
		server   string
	}{
		{"iam", func() error { _, err := w.IAM(acct).ListUsers(ctx, &iam.ListUsersInput{}); return err }, "Throttling", "ServiceFailure"},
		{"secrets", func() error { _, err := w.Secrets().ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); return err }, "ThrottlingException", "InternalServiceError"},
		{"ses", func() error {
			_, err := w.SES().GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("a@example.com")})
			return err
		}, "TooManyRequestsException", "InternalServiceErrorException"},
		{"s3", func() error {
			_, err := w.S3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b")})
			return err
		}, "SlowDown", "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.Inject = func(Call) Fault { return Throttle }
			if err := tt.call(); code(err) != tt.throttle || !workflow.IsRetryable(err) {
				t.Errorf("throttled: %v", err)
			}
			w.Inject = func(Call) Fault { return ServerError }
			if err := tt.call(); code(err) != tt.server || status(err) != http.StatusInternalServerError || !workflow.IsRetryable(err) {
				t.Errorf("server error: %v", err)
			}
		})
	}
}

func TestRecentIsBounded(t *testing.T) {
	w, _ := newWorld(t)
	c := w.IAM(acct)
	for i := range recentSize + 7 {
		_, _ = c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(fmt.Sprintf("u%d", i))})
	}
	recent := w.Recent()
	if len(recent) != recentSize || !strings.Contains(recent[0], " u7 ") || !strings.HasSuffix(recent[len(recent)-1], "-> NoSuchEntity") {
		t.Errorf("Recent: %d lines, first %q, last %q", len(recent), recent[0], recent[len(recent)-1])
	}
	if w.Calls() != recentSize+7 {
		t.Errorf("Calls: %d", w.Calls())
	}
}

func TestDeterministic(t *testing.T) {
	run := func() []string {
		w, _ := newWorld(t)
		var out []string
		for _, name := range []string{"b", "a", "c"} {
			if err := w.CreateUser(acct, name, map[string]string{"x": "1", "y": "2"}); err != nil {
				t.Fatal(err)
			}
			k, err := w.IAM(acct).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey))
			s, err := w.Secrets().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("p/" + name), SecretString: aws.String("v")})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, aws.ToString(s.ARN), aws.ToString(s.VersionId))
		}
		return append(out, w.Recent()...)
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Errorf("two runs with one seed differ:\n%v\n%v", a, b)
	}
}

func TestSecrets(t *testing.T) {
	w, clock := newWorld(t)
	sm := w.Secrets()
	create := func(name string) (*secretsmanager.CreateSecretOutput, error) {
		return sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"v":"` + name + `"}`),
			Tags: []smtypes.Tag{{Key: aws.String("key-rotator:user"), Value: aws.String("alice")}}})
	}
	list := func(prefix string) []string {
		t.Helper()
		var names []string
		pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(1),
			Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}}})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range page.SecretList {
				if len(s.Tags) == 0 || s.CreatedDate == nil {
					t.Errorf("listed %s without its tags or creation date", aws.ToString(s.Name))
				}
				names = append(names, aws.ToString(s.Name))
			}
		}
		slices.Sort(names)
		return names
	}
	a, err := create("rotator/111122223333/alice/AKIA1")
	if err != nil {
		t.Fatal(err)
	}
	if arn := aws.ToString(a.ARN); !strings.HasPrefix(arn, "arn:aws:secretsmanager:us-east-1:"+w.SecretsAccount+":secret:rotator/111122223333/alice/AKIA1-") ||
		len(arn) != len("arn:aws:secretsmanager:us-east-1:"+w.SecretsAccount+":secret:rotator/111122223333/alice/AKIA1-")+6 {
		t.Errorf("ARN %s", arn)
	}
	if _, err := create("rotator/111122223333/alice/AKIA1"); code(err) != "ResourceExistsException" {
		t.Errorf("duplicate: %v", err)
	}
	for _, name := range []string{"rotator/111122223333/bob/AKIA2", "rotator/444455556666/carol/AKIA3", "Rotator/111122223333/x/AKIA4"} {
		if _, err := create(name); err != nil {
			t.Fatal(err)
		}
	}
	if got := list("rotator/111122223333/"); len(got) != 0 {
		t.Errorf("listed within ListSecretsDelay of creation: %v", got)
	}
	clock.advance(w.ListSecretsDelay)
	if got, want := list("rotator/111122223333/"), []string{"rotator/111122223333/alice/AKIA1", "rotator/111122223333/bob/AKIA2"}; !slices.Equal(got, want) {
		t.Errorf("by prefix: %v, want %v (case-sensitive prefix)", got, want)
	}
	for _, id := range []string{aws.ToString(a.ARN), "rotator/111122223333/alice/AKIA1"} {
		v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil || aws.ToString(v.SecretString) != `{"v":"rotator/111122223333/alice/AKIA1"}` {
			t.Errorf("get by %s: %v", id, err)
		}
	}
	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: a.ARN, Tags: []smtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: a.ARN})
	if err != nil || len(d.Tags) != 2 {
		t.Errorf("describe: %v, %v", d, err)
	}
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: a.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: a.ARN}); code(err) != "ResourceNotFoundException" {
		t.Errorf("get after deletion: %v", err)
	}
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: a.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)}); code(err) != "ResourceNotFoundException" {
		t.Errorf("second deletion: %v", err)
	}
	if got := list("rotator/111122223333/"); len(got) != 2 {
		t.Errorf("within ListSecretsDelay of the deletion: %v, want it still listed", got)
	}
	clock.advance(w.ListSecretsDelay)
	if got := list("rotator/111122223333/"); !slices.Equal(got, []string{"rotator/111122223333/bob/AKIA2"}) {
		t.Errorf("after ListSecretsDelay: %v", got)
	}

	// A recovery window: the name stays taken and the value unreadable.
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("rotator/111122223333/bob/AKIA2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rotator/111122223333/bob/AKIA2")}); code(err) != "InvalidRequestException" {
		t.Errorf("get while scheduled for deletion: %v", err)
	}
	if _, err := create("rotator/111122223333/bob/AKIA2"); code(err) != "InvalidRequestException" {
		t.Errorf("create while scheduled for deletion: %v", err)
	}
	clock.advance(30 * 24 * time.Hour)
	if _, err := create("rotator/111122223333/bob/AKIA2"); err != nil {
		t.Errorf("create after the recovery window: %v", err)
	}
}

// TestScheduledDeletion: a secret scheduled for deletion is unreadable and listed only with
// IncludePlannedDeletion, its DeletedDate the end of the window; RestoreSecret makes it
// readable again; at the end of the window it is gone for good, as AWS documents.
func TestScheduledDeletion(t *testing.T) {
	w, clock := newWorld(t)
	sm := w.Secrets()
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("h/1/alice/AKIA1"), SecretString: aws.String("v")})
	if err != nil {
		t.Fatal(err)
	}
	id := out.ARN
	schedule := func() {
		t.Helper()
		if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: id, RecoveryWindowInDays: aws.Int64(7)}); err != nil {
			t.Fatal(err)
		}
		clock.advance(w.ListSecretsDelay)
	}
	listed := func(planned bool) (names []string, deleted []*time.Time) {
		t.Helper()
		page, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(planned)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.SecretList {
			names, deleted = append(names, aws.ToString(e.Name)), append(deleted, e.DeletedDate)
		}
		return names, deleted
	}
	schedule()
	scheduledAt := clock.now().Add(-w.ListSecretsDelay)
	if names, _ := listed(false); len(names) != 0 {
		t.Errorf("listed without IncludePlannedDeletion: %v", names)
	}
	if names, deleted := listed(true); len(names) != 1 || deleted[0] == nil || !deleted[0].Equal(scheduledAt.AddDate(0, 0, 7)) {
		t.Errorf("listed with IncludePlannedDeletion: %v, deleted %v; want it, deleted date the end of the window", names, deleted)
	}
	if _, err := sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: id}); err != nil {
		t.Fatal(err)
	}
	if v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: id}); err != nil || aws.ToString(v.SecretString) != "v" {
		t.Errorf("get after restore: %v, %v", v, err)
	}
	schedule()
	clock.advance(7*24*time.Hour - w.ListSecretsDelay)
	if _, err := sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: id}); code(err) != "ResourceNotFoundException" {
		t.Errorf("restore after the recovery window: %v", err)
	}
	clock.advance(w.ListSecretsDelay)
	if names, _ := listed(true); len(names) != 0 {
		t.Errorf("listed after the recovery window: %v", names)
	}
}

func TestCreateSecretRetriedBySDK(t *testing.T) {
	w, _ := newWorld(t)
	w.Inject = func(Call) Fault { return Retried }
	out, err := w.Secrets().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")})
	if err != nil || len(w.SecretsList()) != 1 || aws.ToString(out.ARN) != w.SecretsList()[0].ARN {
		t.Errorf("a CreateSecret the SDK re-sent with its idempotency token: %v, %v", out, err)
	}
	w.Inject = nil
	if _, err := w.Secrets().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")}); code(err) != "ResourceExistsException" {
		t.Errorf("a new CreateSecret of the same name: %v", err)
	}
}

func rawMail(from, to string) []byte {
	return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
}

func TestSES(t *testing.T) {
	w, clock := newWorld(t)
	c := w.SES()
	send := func(to string, dest []string) (string, error) {
		in := &sesv2.SendEmailInput{Content: &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: rawMail("Rotator <rotator@corp.example>", to)}}}
		if dest != nil {
			in.Destination = &sestypes.Destination{ToAddresses: dest}
		}
		out, err := c.SendEmail(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.MessageId), nil
	}
	if _, err := send("alice@example.com", nil); code(err) != "MessageRejected" {
		t.Errorf("unverified sender: %v", err)
	}
	w.VerifySES("corp.example")
	if _, err := send("alice@example.com", nil); err != nil {
		t.Errorf("verified sender domain: %v", err)
	}
	if _, err := send("ignored@example.com", []string{"Bob <bob@example.com>"}); err != nil {
		t.Errorf("destination: %v", err)
	}
	if got := w.Delivered("bob@example.com"); len(got) != 1 || len(w.Delivered("ignored@example.com")) != 0 {
		t.Errorf("Destination, not the headers, names the recipients: %v", got)
	}
	w.SetSandbox(true)
	if _, err := send("alice@example.com", nil); code(err) != "MessageRejected" {
		t.Errorf("sandbox, unverified recipient: %v", err)
	}
	w.VerifySES("alice@example.com")
	w.SetBounce("alice@example.com", true)
	id, err := send("alice@example.com", nil)
	if err != nil || id == "" {
		t.Fatalf("a bouncing address is accepted: %q, %v", id, err)
	}
	if got := w.Bounced("alice@example.com"); len(got) != 1 || got[0].MessageID != id {
		t.Errorf("Bounced: %v", got)
	}
	if got := w.Delivered("alice@example.com"); len(got) != 1 {
		t.Errorf("Delivered: %d messages, want only the one before the bounce", len(got))
	}
	get := func() (*sesv2.GetSuppressedDestinationOutput, error) {
		return c.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String("alice@example.com")})
	}
	var notFound *sestypes.NotFoundException
	if _, err := get(); !errors.As(err, &notFound) {
		t.Errorf("suppressed before BounceDelay: %v", err)
	}
	clock.advance(w.BounceDelay)
	out, err := get()
	if err != nil || out.SuppressedDestination.Reason != sestypes.SuppressionListReasonBounce || aws.ToString(out.SuppressedDestination.Attributes.MessageId) != id {
		t.Errorf("suppressed after BounceDelay: %+v, %v", out, err)
	}
	w.SetBounce("alice@example.com", false)
	if _, err := send("alice@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if got := w.Bounced("alice@example.com"); len(got) != 2 {
		t.Errorf("a suppressed address gets nothing: %d bounced, want 2", len(got))
	}
	w.Unsuppress("alice@example.com")
	if _, err := send("alice@example.com", nil); err != nil || len(w.Delivered("alice@example.com")) != 2 {
		t.Errorf("after Unsuppress: %v, %d delivered", err, len(w.Delivered("alice@example.com")))
	}
}

// TestSESSuppressionReasonsGovernTheList: an address lands on the account-level suppression
// list only for the reasons that govern the message, the configuration set's when it
// overrides the account's (SuppressionOptions), else the account's
// (PutAccountSuppressionAttributes); GetAccount and GetConfigurationSet report them.
func TestSESSuppressionReasonsGovernTheList(t *testing.T) {
	w, clock := newWorld(t)
	c := w.SES()
	w.VerifySES("corp.example")
	send := func(to, configSet string) error {
		in := &sesv2.SendEmailInput{Content: &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: rawMail("Rotator <rotator@corp.example>", to)}}}
		if configSet != "" {
			in.ConfigurationSetName = aws.String(configSet)
		}
		_, err := c.SendEmail(ctx, in)
		return err
	}
	listed := func(addr string) bool {
		clock.advance(w.BounceDelay)
		_, err := c.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: aws.String(addr)})
		return err == nil
	}
	acct, err := c.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil || !slices.Equal(acct.SuppressionAttributes.SuppressedReasons,
		[]sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}) {
		t.Fatalf("a new account suppresses bounces and complaints: %+v, %v", acct, err)
	}
	if _, err := c.PutAccountSuppressionAttributes(ctx, &sesv2.PutAccountSuppressionAttributesInput{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}}); err != nil {
		t.Fatal(err)
	}
	w.SetBounce("a@example.com", true)
	if err := send("a@example.com", ""); err != nil || listed("a@example.com") || len(w.Bounced("a@example.com")) != 1 {
		t.Errorf("the account without BOUNCE: %v, listed %v, %d bounced; want bounced, not listed", err, listed("a@example.com"), len(w.Bounced("a@example.com")))
	}
	if err := send("a@example.com", "nope"); code(err) != "NotFoundException" {
		t.Errorf("a configuration set that does not exist: %v", err)
	}
	w.SetConfigurationSet("plain", nil)
	w.SetConfigurationSet("rotator", &sestypes.SuppressionOptions{SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce}})
	if err := send("a@example.com", "plain"); err != nil || listed("a@example.com") {
		t.Errorf("a configuration set that does not override follows the account: %v, listed %v", err, listed("a@example.com"))
	}
	if err := send("a@example.com", "rotator"); err != nil || !listed("a@example.com") {
		t.Errorf("a configuration set that suppresses BOUNCE lists the address: %v, listed %v", err, listed("a@example.com"))
	}
	w.SetBounce("a@example.com", false)
	if err := send("a@example.com", "plain"); err != nil || len(w.Delivered("a@example.com")) != 1 {
		t.Errorf("an address listed for BOUNCE gets mail that BOUNCE does not govern: %v, %d delivered", err, len(w.Delivered("a@example.com")))
	}
	if err := send("a@example.com", "rotator"); err != nil || len(w.Delivered("a@example.com")) != 1 {
		t.Errorf("an address listed for BOUNCE gets nothing that BOUNCE governs: %v, %d delivered", err, len(w.Delivered("a@example.com")))
	}
	set, err := c.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("rotator")})
	if err != nil || set.SuppressionOptions == nil || !slices.Equal(set.SuppressionOptions.SuppressedReasons, []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce}) {
		t.Errorf("GetConfigurationSet: %+v, %v", set, err)
	}
	if set, err := c.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("plain")}); err != nil || set.SuppressionOptions != nil {
		t.Errorf("GetConfigurationSet of a set that does not override: %+v, %v", set, err)
	}
	if _, err := c.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String("nope")}); code(err) != "NotFoundException" {
		t.Errorf("GetConfigurationSet of a set that does not exist: %v", err)
	}
}

func TestS3ConditionalWrites(t *testing.T) {
	w, _ := newWorld(t)
	c := w.S3()
	put := func(body string, ifNoneMatch, ifMatch *string) (string, error) {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("leases"), Key: aws.String("acct/lease"),
			Body: strings.NewReader(body), IfNoneMatch: ifNoneMatch, IfMatch: ifMatch})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	if _, err := put("a", nil, nil); code(err) != "NoSuchBucket" {
		t.Errorf("no bucket: %v", err)
	}
	w.CreateBucket("leases")
	first, err := put("a", aws.String("*"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put("b", aws.String("*"), nil); code(err) != "PreconditionFailed" || status(err) != 412 {
		t.Errorf("If-None-Match * on an existing key: %v", err)
	}
	second, err := put("b", nil, &first)
	if err != nil || second == first {
		t.Fatalf("If-Match with the current ETag: %q, %v", second, err)
	}
	if _, err := put("c", nil, &first); code(err) != "PreconditionFailed" {
		t.Errorf("If-Match with a stale ETag: %v", err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("leases"), Key: aws.String("acct/lease")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if string(body) != "b" || aws.ToString(got.ETag) != second {
		t.Errorf("object %q %s", body, aws.ToString(got.ETag))
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("leases"), Prefix: aws.String("acct/")})
	if err != nil || len(list.Contents) != 1 {
		t.Errorf("list: %v, %v", list, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("leases"), Key: aws.String("acct/lease"), IfMatch: &first}); code(err) != "PreconditionFailed" {
		t.Errorf("delete with a stale ETag: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("leases"), Key: aws.String("acct/lease")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("leases"), Key: aws.String("acct/lease")}); code(err) != "NoSuchKey" {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := put("d", nil, &second); code(err) != "NoSuchKey" {
		t.Errorf("If-Match on a missing key: %v", err)
	}
}

// BenchmarkCalls measures the cost of one modelled call: the campaign makes hundreds of
// thousands a second.
func BenchmarkCalls(b *testing.B) {
	clock := &simClock{t: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}
	w := New(clock.now, 1)
	w.Inject = func(Call) Fault { return None }
	for i := range 300 {
		name := fmt.Sprintf("user%03d", i)
		if err := w.CreateUser(acct, name, map[string]string{"EmailID": name + "@example.com"}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := w.AddKey(acct, name, clock.t.AddDate(0, 0, -i%120), types.StatusTypeActive); err != nil {
			b.Fatal(err)
		}
	}
	clock.advance(time.Minute)
	c := w.IAM(acct)
	b.ResetTimer()
	for i := range b.N {
		name := aws.String(fmt.Sprintf("user%03d", i%300))
		if _, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: name, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// The rotator's member role on AWS: its grant on secrets needs the opt-in tag key, so a
// secret without it, or none, answers AccessDenied; a secret's KMS key or resource policy may
// deny its writes too. Other callers (the application team) are not concerned.
func TestMemberRoleOnAppSecrets(t *testing.T) {
	w, _ := newWorld(t)
	const acct = "111122223333"
	if err := w.CreateAppSecret(acct, "app/ci", `{"AccessKeyId":"AKIA1"}`, map[string]string{"key-rotator:user": "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := w.CreateAppSecret(acct, "app/untagged", `{"AccessKeyId":"AKIA2"}`, nil); err != nil {
		t.Fatal(err)
	}
	member := w.MemberSecretsIn(acct)
	code := func(err error) string {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			return apiErr.ErrorCode()
		}
		return fmt.Sprint(err)
	}
	put := func(name string) error {
		_, err := member.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name),
			ClientRequestToken: aws.String("key-rotator-access-key-AKIA3000000000000001"), SecretString: aws.String("v")})
		return err
	}
	for _, name := range []string{"app/untagged", "app/missing"} {
		if _, err := member.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}); code(err) != "AccessDeniedException" {
			t.Errorf("DescribeSecret %s as the member role: %v, want AccessDeniedException", name, err)
		}
		if err := put(name); code(err) != "AccessDeniedException" {
			t.Errorf("PutSecretValue %s as the member role: %v, want AccessDeniedException", name, err)
		}
	}
	if _, err := w.SecretsIn(acct).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/untagged")}); err != nil {
		t.Errorf("the application team's DescribeSecret: %v", err)
	}
	if err := w.DenyMemberWrites(acct, "app/ci", DenyByKMSKey); err != nil {
		t.Fatal(err)
	}
	if _, err := member.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/ci")}); err != nil {
		t.Errorf("DescribeSecret of an opted-in secret: %v", err)
	}
	if err := put("app/ci"); code(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "KMS") {
		t.Errorf("PutSecretValue denied by the KMS key: %v, want AccessDeniedException naming KMS", err)
	}
	if err := w.DenyMemberWrites(acct, "app/ci", ""); err != nil {
		t.Fatal(err)
	}
	if err := put("app/ci"); err != nil {
		t.Errorf("PutSecretValue once allowed: %v", err)
	}
	// The application's IaC writes the secret over: AWSCURRENT is its own version.
	if err := w.WriteAppSecret(acct, "app/ci", `{"AccessKeyId":"AKIA1"}`); err != nil {
		t.Fatal(err)
	}
	out, err := member.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app/ci")})
	if err != nil || slices.Contains(out.VersionIdsToStages["key-rotator-access-key-AKIA3000000000000001"], "AWSCURRENT") {
		t.Errorf("after the application's write the rotator's version is still current: %v, %v", out.VersionIdsToStages, err)
	}
}
