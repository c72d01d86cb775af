package scan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

var now = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

const header = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"

// reportRow renders one user's row; a key is "active,rotated,used" or "" for an empty slot.
func reportRow(user, key1, key2 string) string {
	slot := func(k string) string {
		if k == "" {
			return "false,N/A,N/A,N/A,N/A"
		}
		return k + ",us-east-1,iam"
	}
	return fmt.Sprintf("%s,arn:aws:iam::111122223333:user/%s,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,%s,%s,false,N/A,false,N/A\n",
		user, user, slot(key1), slot(key2))
}

func day(n int) string { return now.Add(-time.Duration(n) * 24 * time.Hour).Format(time.RFC3339) }

func TestParseCredentialReport(t *testing.T) {
	good := header +
		"<root_account>,arn:aws:iam::111122223333:root,not_supported,not_supported,N/A,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
		reportRow("alice", "true,"+day(85)+","+day(1), "") +
		reportRow("bob", "false,"+day(120)+",N/A", "true,"+day(3)+","+day(0)) +
		reportRow("carol", "", "")
	users, err := ParseCredentialReport([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		var keys []string
		for _, k := range u.Keys {
			used := "never"
			if k.LastUsedDate != nil {
				used = k.LastUsedDate.Format(time.DateOnly)
			}
			keys = append(keys, fmt.Sprintf("%s/%s/%s", k.Status, k.CreateDate.Format(time.DateOnly), used))
		}
		var hidden []string
		for _, h := range u.Hidden {
			used := "never"
			if h.LastUsedDate != nil {
				used = h.LastUsedDate.Format(time.DateOnly)
			}
			hidden = append(hidden, used)
		}
		entry := u.UserName + "=" + strings.Join(keys, "+")
		if len(hidden) > 0 {
			entry += " hidden:" + strings.Join(hidden, "+")
		}
		if !u.Created.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: created %s, want the user_creation_time 2025-01-01", u.UserName, u.Created)
		}
		got = append(got, entry)
	}
	// An empty slot reads as AWS writes an Inactive key's (last_rotated N/A): "hidden".
	want := []string{"alice=Active/2026-09-01/2026-11-24 hidden:never", "bob=Inactive/2026-07-28/never+Active/2026-11-22/2026-11-25", "carol= hidden:never+never"}
	if !slices.Equal(got, want) {
		t.Errorf("parsed %q, want %q", got, want)
	}

	bad := []struct {
		name, csv, wantErr string
	}{
		{"missing column", "user,arn\nalice,arn\n", "column user_creation_time is missing"},
		{"bad creation time", strings.Replace(header+reportRow("alice", "", ""), "2025-01-01T00:00:00+00:00", "N/A", 1), `column user_creation_time: "N/A" is not a time`},
		{"short row", header + "alice,arn\n", "wrong number of fields"},
		{"bad boolean", header + reportRow("alice", "yes,"+day(1)+",N/A", ""), `line 2 (user alice): column access_key_1_active: "yes" is not true or false`},
		{"bad date", header + reportRow("alice", "true,yesterday,N/A", ""), `column access_key_1_last_rotated: "yesterday" is not a time or N/A`},
		{"bad last use", header + reportRow("alice", "", "true,"+day(1)+",soon"), `column access_key_2_last_used_date: "soon" is not a time`},
		{"empty", "", "credential report header: EOF"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCredentialReport([]byte(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// fakeIAM serves a fixed account, pages of two, and counts calls per operation.
type fakeIAM struct {
	report      string
	generateErr error
	getErrs     []error                 // successive GetCredentialReport errors (nil: answer)
	states      []types.ReportStateType // successive GenerateCredentialReport states
	users       map[string][]types.AccessKeyMetadata
	lastUsed    map[string]time.Time
	tags        map[string][]types.Tag
	calls       map[string]int
}

var _ IAMAPI = (*fakeIAM)(nil)

func (f *fakeIAM) count(op string) { f.calls[op]++ }

func (f *fakeIAM) GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	f.count("GenerateCredentialReport")
	if f.generateErr != nil {
		return nil, f.generateErr
	}
	state := types.ReportStateTypeComplete
	if len(f.states) > 0 {
		state, f.states = f.states[0], f.states[1:]
	}
	return &iam.GenerateCredentialReportOutput{State: state}, nil
}

func (f *fakeIAM) GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	f.count("GetCredentialReport")
	if len(f.getErrs) > 0 {
		err := f.getErrs[0]
		f.getErrs = f.getErrs[1:]
		if err != nil {
			return nil, err
		}
	}
	return &iam.GetCredentialReportOutput{Content: []byte(f.report)}, nil
}

// page returns the items from the marker on, two at a time, and the next marker.
func page[T any](items []T, marker *string) ([]T, *string) {
	start := 0
	if marker != nil {
		fmt.Sscan(*marker, &start)
	}
	end := min(start+2, len(items))
	if end < len(items) {
		return items[start:end], aws.String(fmt.Sprint(end))
	}
	return items[start:end], nil
}

func (f *fakeIAM) ListUsers(_ context.Context, in *iam.ListUsersInput, _ ...func(*iam.Options)) (*iam.ListUsersOutput, error) {
	f.count("ListUsers")
	var all []types.User
	for _, name := range slices.Sorted(maps.Keys(f.users)) {
		all = append(all, types.User{UserName: aws.String(name)})
	}
	users, next := page(all, in.Marker)
	return &iam.ListUsersOutput{Users: users, Marker: next, IsTruncated: next != nil}, nil
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.count("ListAccessKeys")
	if _, ok := f.users[aws.ToString(in.UserName)]; !ok {
		return nil, &types.NoSuchEntityException{Message: aws.String("The user with name " + aws.ToString(in.UserName) + " cannot be found.")}
	}
	keys, next := page(f.users[aws.ToString(in.UserName)], in.Marker)
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: keys, Marker: next, IsTruncated: next != nil}, nil
}

func (f *fakeIAM) ListUserTags(_ context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	f.count("ListUserTags")
	tags, next := page(f.tags[aws.ToString(in.UserName)], in.Marker)
	return &iam.ListUserTagsOutput{Tags: tags, Marker: next, IsTruncated: next != nil}, nil
}

func (f *fakeIAM) GetAccountAuthorizationDetails(_ context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	f.count("GetAccountAuthorizationDetails")
	if !slices.Equal(in.Filter, []types.EntityType{types.EntityTypeUser}) {
		return nil, fmt.Errorf("filter %v, want users only", in.Filter)
	}
	var all []types.UserDetail
	for _, name := range slices.Sorted(maps.Keys(f.users)) {
		all = append(all, types.UserDetail{UserName: aws.String(name), Tags: f.tags[name]})
	}
	users, next := page(all, in.Marker)
	return &iam.GetAccountAuthorizationDetailsOutput{UserDetailList: users, Marker: next, IsTruncated: next != nil}, nil
}

func (f *fakeIAM) GetAccessKeyLastUsed(_ context.Context, in *iam.GetAccessKeyLastUsedInput, _ ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error) {
	f.count("GetAccessKeyLastUsed")
	// As AWS answers: ServiceName and Region are "N/A" for a key never used.
	out := &iam.GetAccessKeyLastUsedOutput{AccessKeyLastUsed: &types.AccessKeyLastUsed{ServiceName: aws.String("N/A"), Region: aws.String("N/A")}}
	if t, ok := f.lastUsed[aws.ToString(in.AccessKeyId)]; ok {
		out.AccessKeyLastUsed = &types.AccessKeyLastUsed{LastUsedDate: &t, ServiceName: aws.String("s3"), Region: aws.String("eu-west-1")}
	}
	return out, nil
}

func meta(id string, status types.StatusType, age int) types.AccessKeyMetadata {
	created := now.Add(-time.Duration(age) * 24 * time.Hour)
	return types.AccessKeyMetadata{AccessKeyId: aws.String(id), Status: status, CreateDate: &created}
}

// account builds a fake with users u0..u(n-1), each with one 10-day-old key used today,
// plus the given extra users, and the matching credential report; each user was created
// with its oldest key.
func account(n int, extra map[string][]types.AccessKeyMetadata) *fakeIAM {
	f := &fakeIAM{users: map[string][]types.AccessKeyMetadata{}, lastUsed: map[string]time.Time{}, tags: map[string][]types.Tag{}, calls: map[string]int{}}
	for i := range n {
		f.users[fmt.Sprintf("u%03d", i)] = []types.AccessKeyMetadata{meta(fmt.Sprintf("AKIAU%03d", i), types.StatusTypeActive, 10)}
	}
	for name, keys := range extra {
		f.users[name] = keys
	}
	var b strings.Builder
	b.WriteString(header)
	for _, name := range slices.Sorted(maps.Keys(f.users)) {
		var slots [2]string
		created := now
		for i, k := range f.users[name] {
			f.lastUsed[*k.AccessKeyId] = now.Add(-time.Hour)
			slots[i] = fmt.Sprintf("%t,%s,%s", k.Status == types.StatusTypeActive, k.CreateDate.Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339))
			if k.CreateDate.Before(created) {
				created = *k.CreateDate
			}
		}
		b.WriteString(strings.Replace(reportRow(name, slots[0], slots[1]), "2025-01-01T00:00:00+00:00", created.Format(time.RFC3339), 1))
	}
	f.report = b.String()
	return f
}

// TestCandidatesFromReportCostsNoPerUserCall: users whose keys the report dates, or who are
// too young for a key the report could hide to be due, cost no call of their own (older
// users with a free slot cost one: TestCandidatesSeeInactiveKeysTheReportHides).
func TestCandidatesFromReportCostsNoPerUserCall(t *testing.T) {
	f := account(500, map[string][]types.AccessKeyMetadata{
		"old":  {meta("AKIAOLD", types.StatusTypeActive, 85)},
		"both": {meta("AKIAB1", types.StatusTypeInactive, 100), meta("AKIAB2", types.StatusTypeActive, 5)},
	})
	s := &Scanner{IAM: f}
	res, err := s.Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source != FromCredentialReport || res.Users != 502 || !slices.Equal(res.Candidates, []string{"both", "old"}) {
		t.Errorf("candidates %q of %d users from %s, want [both old] of 502 from the report", res.Candidates, res.Users, res.Source)
	}
	if want := map[string]int{"GenerateCredentialReport": 1, "GetCredentialReport": 1}; !maps.Equal(f.calls, want) {
		t.Errorf("IAM calls %v, want %v", f.calls, want)
	}
}

func TestCandidatesPollsThenFallsBackToListing(t *testing.T) {
	inProgress := &smithy.GenericAPIError{Code: "ReportInProgress"}
	tests := []struct {
		name        string
		states      []types.ReportStateType
		generateErr error
		getErrs     []error
		wantSource  Source
		wantGen     int
		wantGet     int
	}{
		// While IAM generates the report, GetCredentialReport answers ReportInProgress: the
		// scanner polls it, and asks for a generation only once.
		{"report after two polls", []types.ReportStateType{types.ReportStateTypeStarted}, nil, []error{inProgress, nil}, FromCredentialReport, 1, 2},
		{"report ready at the first poll", []types.ReportStateType{types.ReportStateTypeStarted}, nil, nil, FromCredentialReport, 1, 1},
		{"report never completes", []types.ReportStateType{types.ReportStateTypeStarted}, nil, []error{inProgress, inProgress, inProgress, inProgress}, FromListing, 1, 2},
		// A report gone after its generation started is asked for again.
		{"report not present after STARTED", []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeComplete}, nil,
			[]error{&smithy.GenericAPIError{Code: "ReportNotPresent"}, nil}, FromCredentialReport, 2, 2},
		{"report refused and none to be had", nil, &smithy.GenericAPIError{Code: "LimitExceeded"}, []error{&smithy.GenericAPIError{Code: "ReportNotPresent"}}, FromListing, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := account(5, map[string][]types.AccessKeyMetadata{"old": {meta("AKIAOLD", types.StatusTypeActive, 85), meta("AKIAOLD2", types.StatusTypeInactive, 1)}})
			f.states, f.generateErr, f.getErrs = tt.states, tt.generateErr, tt.getErrs
			s := &Scanner{IAM: f, ReportPolls: 3, PollInterval: time.Millisecond}
			res, err := s.Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
			if err != nil {
				t.Fatal(err)
			}
			names, source := res.Candidates, res.Source
			if source != tt.wantSource || !slices.Equal(names, []string{"old"}) ||
				f.calls["GenerateCredentialReport"] != tt.wantGen || f.calls["GetCredentialReport"] != tt.wantGet {
				t.Errorf("candidates %q from %s after %d generate and %d get calls, want [old] from %s after %d and %d", names, source,
					f.calls["GenerateCredentialReport"], f.calls["GetCredentialReport"], tt.wantSource, tt.wantGen, tt.wantGet)
			}
			if tt.wantSource == FromListing && (f.calls["ListUsers"] != 3 || f.calls["ListAccessKeys"] != 6 || f.calls["GetAccessKeyLastUsed"] != 7) {
				t.Errorf("listing calls %v: want every page of users (3) and keys (6), and each key's last use (7)", f.calls)
			}
		})
	}
}

// TestCandidatesWhenGenerateCredentialReportRefuses: IAM regenerates the report at most
// every 4 hours and may refuse or throttle the request; the last report, when there is
// one, still picks the candidates, a report still in progress is waited for, and
// throttling is an error the workflow retries later, not a fallback to per-user listing
// (which would cost far more of the same throttled API).
func TestCandidatesWhenGenerateCredentialReportRefuses(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	tests := []struct {
		name        string
		generateErr error
		getErrs     []error
		wantSource  Source
		wantGen     int
		wantGet     int
		wantErr     string
	}{
		{"limit exceeded, the last report is there", apiErr("LimitExceeded"), nil, FromCredentialReport, 1, 1, ""},
		{"limit exceeded, no report", apiErr("LimitExceeded"), []error{apiErr("ReportNotPresent")}, FromListing, 1, 1, ""},
		{"limit exceeded, the report expired", apiErr("LimitExceeded"), []error{apiErr("ReportExpired")}, FromListing, 1, 1, ""},
		{"report still in progress when read", nil, []error{apiErr("ReportInProgress")}, FromCredentialReport, 1, 2, ""},
		{"generate answers ReportInProgress", apiErr("ReportInProgress"), nil, FromCredentialReport, 1, 1, ""},
		{"throttled", apiErr("Throttling"), nil, "", 1, 0, "generate credential report: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := account(5, map[string][]types.AccessKeyMetadata{"old": {meta("AKIAOLD", types.StatusTypeActive, 85)}})
			f.getErrs = tt.getErrs
			generateErr := tt.generateErr
			s := &Scanner{IAM: &refusingIAM{fakeIAM: f, generate: func(calls int) error {
				// ReportInProgress twice, then the report; any other refusal every time.
				if generateErr != nil && (generateErr.(*smithy.GenericAPIError).Code != "ReportInProgress" || calls <= 2) {
					return generateErr
				}
				return nil
			}}, ReportPolls: 5, PollInterval: time.Millisecond}
			res, err := s.Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !workflow.IsRetryable(err) {
					t.Fatalf("error %v, want a retryable one containing %q", err, tt.wantErr)
				}
				if f.calls["ListUsers"] != 0 {
					t.Errorf("throttled, yet fell back to listing: %v", f.calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != tt.wantSource || !slices.Equal(res.Candidates, []string{"old"}) ||
				f.calls["GenerateCredentialReport"] != tt.wantGen || f.calls["GetCredentialReport"] != tt.wantGet {
				t.Errorf("candidates %q from %s after %v, want [old] from %s after %d generate and %d get calls",
					res.Candidates, res.Source, f.calls, tt.wantSource, tt.wantGen, tt.wantGet)
			}
		})
	}
}

// refusingIAM makes GenerateCredentialReport fail as generate says, given the calls so far.
type refusingIAM struct {
	*fakeIAM
	generate func(calls int) error
}

func (r *refusingIAM) GenerateCredentialReport(ctx context.Context, in *iam.GenerateCredentialReportInput, opts ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	if err := r.generate(r.calls["GenerateCredentialReport"] + 1); err != nil {
		r.count("GenerateCredentialReport")
		return nil, err
	}
	return r.fakeIAM.GenerateCredentialReport(ctx, in, opts...)
}

// awsReport renders f's users as AWS writes the credential report: an Inactive key's
// last_rotated is N/A (so it reads like an empty slot), created the user's creation time.
func awsReport(f *fakeIAM, created map[string]int, used map[string]int) string {
	var b strings.Builder
	b.WriteString(header)
	for _, name := range slices.Sorted(maps.Keys(f.users)) {
		var slots [2]string
		for i, k := range f.users[name] {
			lastUsed := "N/A"
			if d, ok := used[*k.AccessKeyId]; ok {
				lastUsed = day(d)
				f.lastUsed[*k.AccessKeyId] = now.Add(-time.Duration(d) * 24 * time.Hour)
			}
			rotated := "N/A"
			if k.Status == types.StatusTypeActive {
				rotated = k.CreateDate.Format(time.RFC3339)
			}
			slots[i] = fmt.Sprintf("%t,%s,%s", k.Status == types.StatusTypeActive, rotated, lastUsed)
		}
		row := reportRow(name, slots[0], slots[1])
		b.WriteString(strings.Replace(row, "2025-01-01T00:00:00+00:00", day(created[name]), 1))
	}
	return b.String()
}

// TestCandidatesSeeInactiveKeysTheReportHides: AWS's report gives an Inactive key's
// last_rotated as N/A, like an empty slot, so the report alone cannot say whether a user
// holds an Inactive key due for deletion. A key is never older than its user: a user old
// enough for a hidden key to be due gets one ListAccessKeys call to find out; younger
// users cost nothing.
func TestCandidatesSeeInactiveKeysTheReportHides(t *testing.T) {
	f := account(0, map[string][]types.AccessKeyMetadata{
		"young":       {meta("AKIAY", types.StatusTypeActive, 30)},
		"inactive":    {meta("AKIAI1", types.StatusTypeActive, 20), meta("AKIAI2", types.StatusTypeInactive, 110)},
		"used-hidden": {meta("AKIAU1", types.StatusTypeInactive, 50)},
		"one-key":     {meta("AKIAO", types.StatusTypeActive, 20)},
		"fresh-off":   {meta("AKIAF1", types.StatusTypeActive, 20), meta("AKIAF2", types.StatusTypeInactive, 30)},
		"gone":        {meta("AKIAG", types.StatusTypeActive, 20)},
	})
	f.report = awsReport(f,
		map[string]int{"young": 30, "inactive": 200, "used-hidden": 300, "one-key": 300, "fresh-off": 300, "gone": 300},
		map[string]int{"AKIAY": 0, "AKIAI1": 0, "AKIAU1": 45, "AKIAO": 0, "AKIAF1": 0, "AKIAF2": 21, "AKIAG": 0})
	delete(f.users, "gone") // deleted since the report
	res, err := (&Scanner{IAM: f}).Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Candidates, []string{"inactive"}) || res.Users != 6 {
		t.Errorf("candidates %q of %d users, want [inactive] of 6: its Inactive 110-day-old key is due for deletion", res.Candidates, res.Users)
	}
	// young: no call; inactive, used-hidden, one-key, fresh-off: one each. Some could be due
	// by a RotationDays tag: every user's tags, 2 a page in the fake, which show that gone is
	// gone (no call).
	if want := map[string]int{"GenerateCredentialReport": 1, "GetCredentialReport": 1, "ListAccessKeys": 4, "GetAccountAuthorizationDetails": 3}; !maps.Equal(f.calls, want) {
		t.Errorf("IAM calls %v, want %v", f.calls, want)
	}
}

func TestCandidatesFailsOnAnUnreadableReport(t *testing.T) {
	f := account(1, nil)
	f.report = header + reportRow("alice", "maybe,"+day(1)+",N/A", "")
	_, err := (&Scanner{IAM: f}).Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err == nil || !strings.Contains(err.Error(), `"maybe" is not true or false`) {
		t.Errorf("error %v, want the report's problem", err)
	}
	if f.calls["ListUsers"] != 0 {
		t.Error("an unreadable report must not fall back silently")
	}
}

func TestUserReadsEveryPage(t *testing.T) {
	f := account(0, map[string][]types.AccessKeyMetadata{"alice": {meta("K1", types.StatusTypeActive, 85), meta("K2", types.StatusTypeInactive, 3)}})
	delete(f.lastUsed, "K2")
	for i := range 5 {
		f.tags["alice"] = append(f.tags["alice"], types.Tag{Key: aws.String(fmt.Sprintf("T%d", i)), Value: aws.String("v")})
	}
	f.tags["alice"] = append(f.tags["alice"], types.Tag{Key: aws.String("EmailID"), Value: aws.String("alice@example.com")})
	u, err := (&Scanner{IAM: f}).User(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Tags) != 6 || u.Tags.Get("EmailID") != "alice@example.com" || f.calls["ListUserTags"] != 3 {
		t.Errorf("tags %v after %d calls, want 6 tags over 3 pages", u.Tags, f.calls["ListUserTags"])
	}
	// The last use comes with its service and region; "N/A" (never used) is no service.
	if len(u.Keys) != 2 || u.Keys[0].Status != policy.Active || u.Keys[0].LastUsedDate == nil || u.Keys[1].LastUsedDate != nil ||
		u.Keys[0].LastUsedService != "s3" || u.Keys[0].LastUsedRegion != "eu-west-1" || u.Keys[1].LastUsedService != "" || u.Keys[1].LastUsedRegion != "" {
		t.Errorf("keys %+v", u.Keys)
	}
}

// BenchmarkParseCredentialReport parses reports the size of large accounts.
func BenchmarkParseCredentialReport(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		var sb strings.Builder
		sb.WriteString(header)
		for i := range n {
			sb.WriteString(reportRow(fmt.Sprintf("user-%05d", i), "true,"+day(i%200)+","+day(0), "false,"+day(300)+",N/A"))
		}
		report := []byte(sb.String())
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(report)))
			for b.Loop() {
				if _, err := ParseCredentialReport(report); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestListingStopsAtTheTimeBudget: without a report, the listing reads users until the
// context's deadline is nearer than Reserve; past it, it reads no user and lists no further
// page, and says which users it listed without reading and whether pages were left.
func TestListingStopsAtTheTimeBudget(t *testing.T) {
	tests := []struct {
		name           string
		left           time.Duration // until the deadline (0: none)
		wantNotScanned []string
		wantUnlisted   bool
		wantCalls      map[string]int
	}{
		{"no deadline", 0, nil, false, map[string]int{"ListUsers": 3, "ListAccessKeys": 5, "GetAccessKeyLastUsed": 5}},
		{"time left", time.Hour, nil, false, map[string]int{"ListUsers": 3, "ListAccessKeys": 5, "GetAccessKeyLastUsed": 5}},
		{"out of time", time.Second, []string{"u000", "u001"}, true, map[string]int{"ListUsers": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := account(5, nil)
			f.generateErr = &smithy.GenericAPIError{Code: "ServiceFailure"}
			ctx := context.Background()
			if tt.left > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.left)
				defer cancel()
			}
			s := &Scanner{IAM: f, Reserve: time.Minute}
			res, err := s.Candidates(ctx, policy.Config{}.WithDefaults(), now)
			if err != nil {
				t.Fatal(err)
			}
			delete(f.calls, "GenerateCredentialReport")
			if res.Source != FromListing || !slices.Equal(res.NotScanned, tt.wantNotScanned) || res.Unlisted != tt.wantUnlisted || !maps.Equal(f.calls, tt.wantCalls) {
				t.Errorf("from %s: not scanned %q, unlisted %t, calls %v; want from listing: %q, %t, %v",
					res.Source, res.NotScanned, res.Unlisted, f.calls, tt.wantNotScanned, tt.wantUnlisted, tt.wantCalls)
			}
		})
	}
}

// TestCandidatesReadTagsWhereRotationDaysCouldMatter: when a user's keys are not due under
// the organization's limit but would be under the shortest limit a RotationDays tag can give,
// every user's tags are read with GetAccountAuthorizationDetails (the fake pages 2 users at
// a time, IAM 1,000), and that user is a candidate when its tag makes a key due, or is
// ignored (to be reported); an account without such a user costs no such call
// (TestCandidatesFromReportCostsNoPerUserCall).
func TestCandidatesReadTagsWhereRotationDaysCouldMatter(t *testing.T) {
	f := account(100, map[string][]types.AccessKeyMetadata{
		"short":     {meta("AKIASHORT", types.StatusTypeActive, 35)},
		"malformed": {meta("AKIAMAL", types.StatusTypeActive, 35)},
		"untagged":  {meta("AKIAUNTAG", types.StatusTypeActive, 35)},
		"old":       {meta("AKIAOLD", types.StatusTypeActive, 85)},
	})
	f.tags["short"] = []types.Tag{{Key: aws.String("EmailID"), Value: aws.String("s@example.com")}, {Key: aws.String(policy.RotationDaysTag), Value: aws.String("40")}}
	f.tags["malformed"] = []types.Tag{{Key: aws.String(policy.RotationDaysTag), Value: aws.String("forty")}}
	res, err := (&Scanner{IAM: f}).Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Candidates, []string{"old", "malformed", "short"}) || res.TagPages != 52 {
		t.Errorf("candidates %q after %d pages of tags, want [old malformed short] after 52 (104 users, 2 a page)", res.Candidates, res.TagPages)
	}
	if want := map[string]int{"GenerateCredentialReport": 1, "GetCredentialReport": 1, "GetAccountAuthorizationDetails": 52}; !maps.Equal(f.calls, want) {
		t.Errorf("IAM calls %v, want %v", f.calls, want)
	}
}

// TestCandidatesReadTheTagsOfAnOldUserWithOneKey: a user older than unused-at days with one
// key shows, in the report, an empty slot that may hide an Inactive key never used since the
// user was made (due for deletion under any limit); that is no reason to judge its Active key
// by the organization's limit. Its RotationDays tag is read, and a key due under it makes
// the user a candidate (campaign seed 16 day 114 after merging main into bounces2: a machine
// user's key kept 23 days past the day its owner was told, unread from the day the user's
// age passed unused-at).
func TestCandidatesReadTheTagsOfAnOldUserWithOneKey(t *testing.T) {
	f := account(0, map[string][]types.AccessKeyMetadata{
		"ci":    {meta("AKIACI", types.StatusTypeActive, 43)},
		"plain": {meta("AKIAPLAIN", types.StatusTypeActive, 43)},
	})
	f.report = awsReport(f, map[string]int{"ci": 300, "plain": 300}, map[string]int{"AKIACI": 0, "AKIAPLAIN": 0})
	f.tags["ci"] = []types.Tag{{Key: aws.String(policy.RotationDaysTag), Value: aws.String("45")}}
	res, err := (&Scanner{IAM: f}).Candidates(context.Background(), policy.Config{}.WithDefaults(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Candidates, []string{"ci"}) {
		t.Errorf("candidates %q, want [ci]: its 43-day-old key is due for a new key under RotationDays 45", res.Candidates)
	}
}

// TestCandidatesSayWhoHasAWriteDue: the candidates whose report row alone shows a write due
// whatever their tags and history (policy.WriteDue) are marked, for the rotator to defer
// unread once maxUsers users have writes: an unused Active key, or one Active key past
// rotate-at beside an empty slot or a never-used Inactive key (AWS dates neither). A key of
// their own beside it, or a used Inactive key in the slot, may leave only a notice due.
func TestCandidatesSayWhoHasAWriteDue(t *testing.T) {
	f := account(0, map[string][]types.AccessKeyMetadata{
		"alone":     {meta("AKIAA", types.StatusTypeActive, 85)},
		"unused":    {meta("AKIAU1", types.StatusTypeActive, 95), meta("AKIAU2", types.StatusTypeActive, 5)},
		"never-off": {meta("AKIAN1", types.StatusTypeActive, 85), meta("AKIAN2", types.StatusTypeInactive, 100)},
		"replaced":  {meta("AKIAR1", types.StatusTypeActive, 85), meta("AKIAR2", types.StatusTypeActive, 10)},
		"used-off":  {meta("AKIAO1", types.StatusTypeActive, 85), meta("AKIAO2", types.StatusTypeInactive, 100)},
		"two-old":   {meta("AKIAT1", types.StatusTypeActive, 95), meta("AKIAT2", types.StatusTypeActive, 85)},
	})
	f.report = awsReport(f, map[string]int{"alone": 85, "unused": 95, "never-off": 100, "replaced": 85, "used-off": 100, "two-old": 95},
		map[string]int{"AKIAA": 0, "AKIAU1": 95, "AKIAU2": 0, "AKIAN1": 0, "AKIAR1": 0, "AKIAR2": 0, "AKIAO1": 0, "AKIAO2": 40, "AKIAT1": 0, "AKIAT2": 0})
	for _, cleanup := range []bool{false, true} {
		cfg := policy.Config{Cleanup: cleanup}.WithDefaults()
		res, err := (&Scanner{IAM: f}).Candidates(context.Background(), cfg, now)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"alone": true, "unused": true, "never-off": true}
		if cleanup {
			want = map[string]bool{} // rule 7's writes hang on the email and the history
		}
		if len(res.Candidates) != 6 || !maps.Equal(res.WriteDue, want) {
			t.Errorf("cleanup %v: write due for %v of candidates %q, want %v of 6", cleanup, res.WriteDue, res.Candidates, want)
		}
	}
}

// TestCredentialReportBooleansInAnyCase: the IAM user guide documents access_key_N_active as
// TRUE or FALSE, while the reports seen carry true and false; a report in either casing
// (or N/A and no_information in another) is read alike, not failed for the whole account.
func TestCredentialReportBooleansInAnyCase(t *testing.T) {
	lower := header + reportRow("alice", "true,"+day(85)+","+day(1), "false,N/A,no_information")
	upper := header + reportRow("alice", "TRUE,"+day(85)+","+day(1), "FALSE,n/a,NO_INFORMATION")
	want, err := ParseCredentialReport([]byte(lower))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCredentialReport([]byte(upper))
	if err != nil {
		t.Fatalf("the documented casing: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TRUE/FALSE read as %v, true/false as %v", got, want)
	}
	if _, err := ParseCredentialReport([]byte(header + reportRow("bob", "yes,"+day(85)+",N/A", ""))); err == nil {
		t.Error("a value that is no boolean in any case must fail the report")
	}
}

// TestCredentialReportEvidenceForAdvice: the report's password_enabled and each used key's
// last_used_service and _region are read as evidence (pkg/advice), hidden slots' too; N/A
// and a report without those columns read as unknown, never as an error.
func TestCredentialReportEvidenceForAdvice(t *testing.T) {
	person := strings.Replace(reportRow("alice", "true,"+day(85)+","+day(1), "false,N/A,"+day(9)), ",false,N/A,N/A,N/A,false,", ",true,"+day(2)+",N/A,N/A,false,", 1)
	users, err := ParseCredentialReport([]byte(header + person + reportRow("bob", "true,"+day(85)+",N/A", "")))
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := users[0], users[1]
	if !alice.Console || bob.Console {
		t.Errorf("console passwords: alice %v, bob %v; want true, false", alice.Console, bob.Console)
	}
	if got := fmt.Sprint(alice.Usage()); got != fmt.Sprint([]policy.Usage{
		{LastUsedDate: alice.Keys[0].LastUsedDate, Service: "iam", Region: "us-east-1"},
		{LastUsedDate: alice.Hidden[0].LastUsedDate, Service: "iam", Region: "us-east-1"}}) {
		t.Errorf("alice's usage %s, want both slots used with iam in us-east-1", got)
	}
	if got := bob.Usage(); len(got) != 1 || got[0].Service != "" || got[0].LastUsedDate != nil {
		t.Errorf("bob's usage %v, want one key never used, with no service", got)
	}

	// Without the evidence columns (the decisions' columns only), nothing is known of it.
	short := "user,user_creation_time,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date\n" +
		"carol,2025-01-01T00:00:00+00:00,true," + day(85) + "," + day(1) + ",false,N/A,N/A\n"
	users, err = ParseCredentialReport([]byte(short))
	if err != nil {
		t.Fatal(err)
	}
	if u := users[0].Usage(); users[0].Console || len(u) != 1 || u[0].LastUsedDate == nil || u[0].Service != "" || u[0].Region != "" {
		t.Errorf("carol without the evidence columns: console %v, usage %v; want a use with no service or region", users[0].Console, u)
	}
}
