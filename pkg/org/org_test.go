package org

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// fakeOrg serves accounts one per page, an OU tree (ous: parent → child OUs, in: OU →
// accounts) and account tags, and counts calls per operation.
type fakeOrg struct {
	accounts []orgtypes.Account
	ous      map[string][]string
	in       map[string][]string
	tags     map[string]map[string]string
	tagErr   error // every ListTagsForResource fails with it
	mu       sync.Mutex
	calls    map[string]int
}

var _ OrganizationsAPI = (*fakeOrg)(nil)

// onePage returns the item at the token's index and the next token.
func onePage[T any](items []T, token *string) ([]T, *string) {
	i := 0
	if token != nil {
		i, _ = strconv.Atoi(*token)
	}
	if i >= len(items) {
		return nil, nil
	}
	var next *string
	if i+1 < len(items) {
		next = aws.String(strconv.Itoa(i + 1))
	}
	return items[i : i+1], next
}

func (f *fakeOrg) count(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeOrg) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	f.count("ListAccounts")
	accounts, next := onePage(f.accounts, in.NextToken)
	return &organizations.ListAccountsOutput{Accounts: accounts, NextToken: next}, nil
}

func (f *fakeOrg) parent(id *string) error {
	if _, ok := f.ous[aws.ToString(id)]; !ok {
		return &orgtypes.ParentNotFoundException{Message: aws.String("We can't find a root or OU with the ParentId that you specified.")}
	}
	return nil
}

func (f *fakeOrg) ListAccountsForParent(_ context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	f.count("ListAccountsForParent")
	if err := f.parent(in.ParentId); err != nil {
		return nil, err
	}
	var all []orgtypes.Account
	for _, id := range f.in[aws.ToString(in.ParentId)] {
		all = append(all, account(id, "", orgtypes.AccountStateActive))
	}
	accounts, next := onePage(all, in.NextToken)
	return &organizations.ListAccountsForParentOutput{Accounts: accounts, NextToken: next}, nil
}

func (f *fakeOrg) ListOrganizationalUnitsForParent(_ context.Context, in *organizations.ListOrganizationalUnitsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	f.count("ListOrganizationalUnitsForParent")
	if err := f.parent(in.ParentId); err != nil {
		return nil, err
	}
	var all []orgtypes.OrganizationalUnit
	for _, id := range f.ous[aws.ToString(in.ParentId)] {
		all = append(all, orgtypes.OrganizationalUnit{Id: aws.String(id)})
	}
	ous, next := onePage(all, in.NextToken)
	return &organizations.ListOrganizationalUnitsForParentOutput{OrganizationalUnits: ous, NextToken: next}, nil
}

func (f *fakeOrg) ListTagsForResource(_ context.Context, in *organizations.ListTagsForResourceInput, _ ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error) {
	f.count("ListTagsForResource")
	if f.tagErr != nil {
		return nil, f.tagErr
	}
	var all []orgtypes.Tag
	for k, v := range f.tags[aws.ToString(in.ResourceId)] {
		all = append(all, orgtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	slices.SortFunc(all, func(a, b orgtypes.Tag) int { return strings.Compare(*a.Key, *b.Key) })
	tags, next := onePage(all, in.NextToken)
	return &organizations.ListTagsForResourceOutput{Tags: tags, NextToken: next}, nil
}

type fakeS3 struct{ objects map[string][]byte }

var _ S3API = (*fakeS3)(nil)

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	f.objects[*in.Bucket+"/"+*in.Key] = b
	return &s3.PutObjectOutput{}, err
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{}
	for _, key := range slices.Sorted(maps.Keys(f.objects)) {
		if name, ok := strings.CutPrefix(key, *in.Bucket+"/"); ok && strings.HasPrefix(name, aws.ToString(in.Prefix)) {
			out.Contents = append(out.Contents, s3types.Object{Key: aws.String(name)})
		}
	}
	return out, nil
}

// account is an account as Organizations lists it since 2026-09-09: with State and
// without the retired Status.
func account(id, name string, state orgtypes.AccountState) orgtypes.Account {
	return orgtypes.Account{Id: aws.String(id), Name: aws.String(name), State: state}
}

// refused checks that Handle refused its input at field, for why (any reason when empty),
// and wrote nothing.
func refused(t *testing.T, err error, store *fakeS3, field, why string) {
	t.Helper()
	var invalid *workflow.InvalidInput
	if !errors.As(err, &invalid) || invalid.Field != field || (why != "" && invalid.Problem != why) {
		t.Fatalf("error %v, want InvalidInput for %s: %s", err, field, why)
	}
	if len(store.objects) != 0 {
		t.Errorf("refused input wrote %v", store.objects)
	}
}

// storedIDs returns the account IDs Handle wrote for run-1, once it succeeded.
func storedIDs(t *testing.T, err error, store *fakeS3) []string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var stored []workflow.Account
	if err := json.Unmarshal(store.objects["reports/runs/run-1/accounts.json"], &stored); err != nil {
		t.Fatalf("account list in S3: %v", err)
	}
	var ids []string
	for _, a := range stored {
		ids = append(ids, a.AccountID)
	}
	return ids
}

func TestHandle(t *testing.T) {
	start := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		input     string
		wantIDs   []string
		wantField string
		wantNow   time.Time
		canary    bool // a canary run went right before (workflow.CanaryKey)
	}{
		{"all but excluded and not active", `{}`, []string{"111111111111", "333333333333"}, "", start, false},
		{"one account", `{"accounts":["333333333333"]}`, []string{"333333333333"}, "", start, false},
		{"dry run as of", `{"dryRun":true,"asOf":"2027-02-01T13:00:00Z"}`, []string{"111111111111", "333333333333"}, "", time.Date(2027, 2, 1, 13, 0, 0, 0, time.UTC), false},
		{"excluded account requested", `{"accounts":["222222222222"]}`, nil, "accounts[0]", start, false},
		{"suspended account requested", `{"accounts":["111111111111","444444444444"]}`, nil, "accounts[1]", start, false},
		{"closing account requested", `{"accounts":["555555555555"]}`, nil, "accounts[0]", start, false},
		{"closed account requested", `{"accounts":["666666666666"]}`, nil, "accounts[0]", start, false},
		{"unknown account requested", `{"accounts":["999999999999"]}`, nil, "accounts[0]", start, false},
		{"typo", `{"acounts":["111111111111"]}`, nil, "acounts", start, false},
		{"cleanup before any canary", `{"cleanup":true,"confirmCleanup":"` + workflow.CleanupConfirmation + `"}`, nil, "cleanup", start, false},
		{"cleanup after a canary", `{"cleanup":true,"confirmCleanup":"` + workflow.CleanupConfirmation + `"}`, []string{"111111111111", "333333333333"}, "", start, true},
		{"cleanup previewed before any canary", `{"cleanup":true,"dryRun":true}`, []string{"111111111111", "333333333333"}, "", start, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := &fakeOrg{accounts: []orgtypes.Account{
				account("333333333333", "prod", orgtypes.AccountStateActive),
				account("111111111111", "dev", orgtypes.AccountStateActive),
				account("222222222222", "legacy", orgtypes.AccountStateActive),
				account("444444444444", "suspended", orgtypes.AccountStateSuspended),
				account("555555555555", "closing", orgtypes.AccountStatePendingClosure),
				account("666666666666", "closed", orgtypes.AccountStateClosed),
				account("777777777777", "joining", orgtypes.AccountStatePendingActivation),
			}}
			store := &fakeS3{objects: map[string][]byte{}}
			if tt.canary {
				store.objects["reports/"+workflow.CanaryKey] = []byte(`{"runId":"canary-1"}`)
			}
			l := &Handler{Org: org, S3: store, Bucket: "reports", Excluded: []string{"222222222222"}, Log: slog.New(slog.DiscardHandler),
				SendRate: func(context.Context) (int, error) { return 3, nil }}
			got, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(tt.input), RunID: "run-1", StartTime: start})
			if tt.wantField != "" {
				refused(t, err, store, tt.wantField, "")
				return
			}
			ids := storedIDs(t, err, store)
			if !slices.Equal(ids, tt.wantIDs) || got.AccountCount != len(tt.wantIDs) || got.Key != "runs/run-1/accounts.json" || !got.Run.Now.Equal(tt.wantNow) ||
				got.Run.SendRate != 3 {
				t.Errorf("got %+v with accounts %v, want %v at %v", got, ids, tt.wantIDs, tt.wantNow)
			}
			if org.calls["ListAccounts"] != 7 {
				t.Errorf("%d ListAccounts calls, want every page (7)", org.calls["ListAccounts"])
			}
		})
	}
}

// TestHandleWithoutSendRate: a run whose send rate cannot be read (GetAccount refused) fails
// before it lists or writes anything.
func TestHandleWithoutSendRate(t *testing.T) {
	org, store := &fakeOrg{}, &fakeS3{objects: map[string][]byte{}}
	l := &Handler{Org: org, S3: store, Log: slog.New(slog.DiscardHandler),
		SendRate: func(context.Context) (int, error) { return 0, errors.New("read the SES send quota: AccessDenied") }}
	_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "r", StartTime: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "SES send quota") || len(org.calls) != 0 || len(store.objects) != 0 {
		t.Errorf("error %v after Organizations calls %v and %d objects written, want the quota's error before any", err, org.calls, len(store.objects))
	}
}

// TestRunSaysWhetherBouncesAreSuppressed: ListAccounts checks SES's suppression settings once
// and the run carries the outcome to every account: suppressed; a problem (not suppressed,
// unchecked, or unreadable settings, which do not stop the run); a throttled check is
// returned, for the state machine to retry.
func TestRunSaysWhetherBouncesAreSuppressed(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "slow down"}
	tests := []struct {
		name       string
		bounces    func(context.Context) (string, error)
		suppressed bool
		problem    string // a substring of Run.BounceProblem
		err        bool
	}{
		{name: "suppressed", bounces: func(context.Context) (string, error) { return "", nil }, suppressed: true},
		{name: "not suppressed", bounces: func(context.Context) (string, error) { return "without BOUNCE", nil }, problem: "without BOUNCE"},
		{name: "not checked", problem: "were not checked"},
		{name: "unreadable", bounces: func(context.Context) (string, error) { return "", errors.New("AccessDenied") },
			problem: "could not be read (AccessDenied)"},
		{name: "throttled", bounces: func(context.Context) (string, error) { return "", throttled }, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := &fakeOrg{accounts: []orgtypes.Account{account("333333333333", "prod", orgtypes.AccountStateActive)}}
			l := &Handler{Org: org, S3: &fakeS3{objects: map[string][]byte{}}, Bucket: "reports", Log: slog.New(slog.DiscardHandler),
				SendRate: oneASecond, Bounces: tt.bounces}
			got, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "r", StartTime: time.Now()})
			if tt.err {
				if !workflow.IsRetryable(err) {
					t.Errorf("err %v, want the throttling, retryable", err)
				}
				return
			}
			if err != nil || got.Run.BouncesSuppressed != tt.suppressed || !strings.Contains(got.Run.BounceProblem, tt.problem) ||
				tt.suppressed != (got.Run.BounceProblem == "") {
				t.Errorf("run %+v, %v; want suppressed %v, problem %q", got.Run, err, tt.suppressed, tt.problem)
			}
		})
	}
}

// oneASecond is a Handler's SendRate: SES's send quota, 1 email a second.
func oneASecond(context.Context) (int, error) { return 1, nil }

func TestHandleValidatesBeforeCallingAWS(t *testing.T) {
	org := &fakeOrg{}
	l := &Handler{Org: org, S3: &fakeS3{objects: map[string][]byte{}}, Log: slog.New(slog.DiscardHandler)}
	_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{"accounts":["12345"]}`), RunID: "r"})
	var invalid *workflow.InvalidInput
	if !errors.As(err, &invalid) || len(org.calls) != 0 {
		t.Errorf("error %v after AWS calls %v, want InvalidInput before any", err, org.calls)
	}
}

// TestHandleFailsWhenNoAccountIsSelected: a run that would rotate no account at all (every
// account filtered out, say because Organizations answers in a shape the filter does not
// expect) must reach the operators through the ASL's Catch and SNS, not pass as a success.
func TestHandleFailsWhenNoAccountIsSelected(t *testing.T) {
	tests := []struct {
		name     string
		accounts []orgtypes.Account
		excluded []string
		wantErr  string
	}{
		{"Status only, no State (the retired field)", []orgtypes.Account{
			{Id: aws.String("111111111111"), Name: aws.String("dev"), Status: orgtypes.AccountStatusActive},
		}, nil, "no account to rotate: 1 listed, 0 ACTIVE (not ACTIVE: 1 with no State)"},
		{"all suspended or closed", []orgtypes.Account{
			account("111111111111", "dev", orgtypes.AccountStateSuspended),
			account("222222222222", "prod", orgtypes.AccountStateClosed),
		}, nil, "no account to rotate: 2 listed, 0 ACTIVE (not ACTIVE: 1 CLOSED, 1 SUSPENDED)"},
		{"every active account excluded", []orgtypes.Account{
			account("111111111111", "dev", orgtypes.AccountStateActive),
		}, []string{"111111111111"}, "no account to rotate: 1 listed, 1 ACTIVE, all excluded: 1 by EXCLUDE_ACCOUNTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeS3{objects: map[string][]byte{}}
			l := &Handler{Org: &fakeOrg{accounts: tt.accounts}, S3: store, Bucket: "reports", Excluded: tt.excluded, Log: slog.New(slog.DiscardHandler),
				SendRate: oneASecond}
			_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "run-1", StartTime: time.Now()})
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			var invalid *workflow.InvalidInput
			if errors.As(err, &invalid) || workflow.IsRetryable(err) {
				t.Errorf("error %T is input or retryable; want a fatal error for the Catch", err)
			}
			if len(store.objects) != 0 {
				t.Errorf("an empty run wrote %v", store.objects)
			}
		})
	}
}

// TestHandleExcludesByOUAndTag: accounts in an excluded OU or in any OU below it are dropped
// from the daily run and refused, with the reason, when the input names them. The OU walk
// reads only the excluded subtrees. ListAccounts reads no account's tags, whatever the
// exclusion tag: each account's ScanAndRotate reads its own (TagReader), so a tagged
// account is listed, requested or not, and left alone by its child.
func TestHandleExcludesByOUAndTag(t *testing.T) {
	const (
		sandbox, dev, deeper, prodOU = "ou-root-sandbox1", "ou-root-sandbdev", "ou-root-sandbdeep", "ou-root-produnit"
	)
	tests := []struct {
		name      string
		input     string
		tag       [2]string // key, value; empty key: no tag exclusion
		wantIDs   []string
		wantField string
		wantWhy   string
		wantCalls map[string]int
	}{
		{"daily run", `{}`, [2]string{"key-rotator:exclude", "true"}, []string{"111111111111", "555555555555", "666666666666"}, "", "",
			// 3 OUs walked, one page of accounts and one of child OUs each; no tag read.
			map[string]int{"ListAccounts": 7, "ListAccountsForParent": 3, "ListOrganizationalUnitsForParent": 3}},
		{"no tag exclusion", `{}`, [2]string{}, []string{"111111111111", "555555555555", "666666666666"}, "", "",
			map[string]int{"ListAccounts": 7, "ListAccountsForParent": 3, "ListOrganizationalUnitsForParent": 3}},
		{"account in the excluded OU", `{"accounts":["222222222222"]}`, [2]string{"key-rotator:exclude", "true"}, nil, "accounts[0]",
			"account 222222222222 is excluded from rotation: it is in OU ou-root-sandbox1 (EXCLUDE_OUS)", nil},
		{"account two OUs below", `{"accounts":["111111111111","444444444444"]}`, [2]string{"key-rotator:exclude", "true"}, nil, "accounts[1]",
			"account 444444444444 is excluded from rotation: it is in OU ou-root-sandbdeep, below ou-root-sandbox1 (EXCLUDE_OUS)", nil},
		{"tagged account requested: its child leaves it alone", `{"accounts":["555555555555"]}`, [2]string{"key-rotator:exclude", "true"}, []string{"555555555555"}, "", "",
			map[string]int{"ListAccounts": 7, "ListAccountsForParent": 3, "ListOrganizationalUnitsForParent": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := &fakeOrg{
				accounts: []orgtypes.Account{
					account("111111111111", "prod", orgtypes.AccountStateActive),
					account("222222222222", "sandbox", orgtypes.AccountStateActive),
					account("333333333333", "dev-sandbox", orgtypes.AccountStateActive),
					account("444444444444", "deep-sandbox", orgtypes.AccountStateActive),
					account("555555555555", "migrating", orgtypes.AccountStateActive),
					account("666666666666", "shared", orgtypes.AccountStateActive),
					account("777777777777", "legacy", orgtypes.AccountStateActive),
				},
				ous: map[string][]string{"r-root": {sandbox, prodOU}, sandbox: {dev}, dev: {deeper}, deeper: nil, prodOU: nil},
				in:  map[string][]string{"r-root": {"777777777777"}, sandbox: {"222222222222"}, dev: {"333333333333"}, deeper: {"444444444444"}, prodOU: {"111111111111", "555555555555", "666666666666"}},
				tags: map[string]map[string]string{
					"555555555555": {"team": "migration", "key-rotator:exclude": "true"},
					"666666666666": {"key-rotator:exclude": "false", "team": "shared"},
					"111111111111": {"key-rotator:exclude": "yes"},
				},
			}
			store := &fakeS3{objects: map[string][]byte{}}
			l := &Handler{Org: org, S3: store, Bucket: "reports", Excluded: []string{"777777777777"}, ExcludedOUs: []string{sandbox},
				ExcludeTagKey: tt.tag[0], ExcludeTagValue: tt.tag[1], Log: slog.New(slog.DiscardHandler), SendRate: oneASecond}
			_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(tt.input), RunID: "run-1", StartTime: time.Now()})
			if tt.wantField != "" {
				refused(t, err, store, tt.wantField, tt.wantWhy)
				return
			}
			ids := storedIDs(t, err, store)
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("accounts %v, want %v", ids, tt.wantIDs)
			}
			if tt.wantCalls != nil && !maps.Equal(org.calls, tt.wantCalls) {
				t.Errorf("calls %v, want %v", org.calls, tt.wantCalls)
			}
		})
	}
}

// TestHandleFailsOnAnUnknownExcludedOU: an EXCLUDE_OUS entry that names no OU is a
// configuration mistake that would rotate accounts meant to be left alone: the run fails
// before anything is written.
func TestHandleFailsOnAnUnknownExcludedOU(t *testing.T) {
	org := &fakeOrg{accounts: []orgtypes.Account{account("111111111111", "prod", orgtypes.AccountStateActive)}, ous: map[string][]string{"r-root": nil}}
	store := &fakeS3{objects: map[string][]byte{}}
	l := &Handler{Org: org, S3: store, Bucket: "reports", ExcludedOUs: []string{"ou-root-doesnotexist"}, Log: slog.New(slog.DiscardHandler), SendRate: oneASecond}
	_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "run-1", StartTime: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "list the accounts of OU ou-root-doesnotexist (EXCLUDE_OUS)") || len(store.objects) != 0 {
		t.Errorf("error %v, wrote %v; want the OU named, nothing written", err, store.objects)
	}
}

// TestPreviewSaysWhatEachSettingExcludes: the preview applies every exclusion as a daily run
// does, writes nothing, and names an excluded ID that is no ACTIVE account (a typo).
func TestPreviewSaysWhatEachSettingExcludes(t *testing.T) {
	const sandbox, prodOU = "ou-root-sandbox1", "ou-root-produnit"
	org := &fakeOrg{
		accounts: []orgtypes.Account{
			account("111111111111", "prod", orgtypes.AccountStateActive),
			account("222222222222", "sandbox", orgtypes.AccountStateActive),
			account("555555555555", "migrating", orgtypes.AccountStateActive),
			account("777777777777", "legacy", orgtypes.AccountStateActive),
			account("888888888888", "closed", orgtypes.AccountStateClosed),
		},
		ous:  map[string][]string{"r-root": {sandbox, prodOU}, sandbox: nil, prodOU: nil},
		in:   map[string][]string{"r-root": {"777777777777"}, sandbox: {"222222222222"}, prodOU: {"111111111111", "555555555555"}},
		tags: map[string]map[string]string{"555555555555": {"key-rotator:exclude": "true"}},
	}
	store := &fakeS3{objects: map[string][]byte{}}
	l := &Handler{Org: org, S3: store, Bucket: "reports", Excluded: []string{"777777777777", "777777777778"}, ExcludedOUs: []string{sandbox},
		ExcludeTagKey: "key-rotator:exclude", ExcludeTagValue: "true", Log: slog.New(slog.DiscardHandler)}
	p, err := l.Preview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Preview{Active: []string{"111111111111", "222222222222", "555555555555", "777777777777"}, Selected: []string{"111111111111"},
		Excluded:  map[string][]string{byID: {"777777777777"}, byOU: {"222222222222"}, byTag: {"555555555555"}},
		NotActive: []string{"777777777778"}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("preview %+v,\nwant %+v", p, want)
	}
	if len(store.objects) != 0 {
		t.Errorf("the preview wrote %v", store.objects)
	}
}

// TestTagReaderSaysWhyAnAccountIsExcluded: the exclusion tag's value in any case excludes;
// another value, another key or no tags do not; every page is read; a failed read is an
// error (the caller leaves the account alone), and no tag exclusion reads nothing.
func TestTagReaderSaysWhyAnAccountIsExcluded(t *testing.T) {
	org := &fakeOrg{tags: map[string]map[string]string{
		"555555555555": {"team": "migration", "key-rotator:exclude": "TRUE "},
		"666666666666": {"key-rotator:exclude": "false", "team": "shared"},
		"111111111111": {"Key-Rotator:Exclude": "true"},
	}}
	r := TagReader{Org: org, Key: "key-rotator:exclude", Value: "true"}
	for id, want := range map[string]string{"555555555555": "it is tagged key-rotator:exclude=true", "666666666666": "", "111111111111": "", "222222222222": ""} {
		if got, err := r.Excluded(context.Background(), id); got != want || err != nil {
			t.Errorf("%s: %q, %v; want %q", id, got, err, want)
		}
	}
	if org.calls["ListTagsForResource"] != 2+2+1+1 { // the fake: one tag a page, one empty page without tags
		t.Errorf("%d ListTagsForResource calls, want every page", org.calls["ListTagsForResource"])
	}
	denied := &fakeOrg{tagErr: errors.New("AccessDenied")}
	if got, err := (TagReader{Org: denied, Key: "key-rotator:exclude", Value: "true"}).Excluded(context.Background(), "555555555555"); got != "" ||
		err == nil || !strings.Contains(err.Error(), "list the tags of account 555555555555 (EXCLUDE_ACCOUNT_TAG): AccessDenied") {
		t.Errorf("a refused read: %q, %v; want the error naming the account", got, err)
	}
	none := &fakeOrg{}
	if got, err := (TagReader{Org: none}).Excluded(context.Background(), "555555555555"); got != "" || err != nil || len(none.calls) != 0 {
		t.Errorf("no tag exclusion: %q, %v after %v calls; want nothing read", got, err, none.calls)
	}
}
