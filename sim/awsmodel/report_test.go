package awsmodel

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
)

func TestCredentialReportLifecycle(t *testing.T) {
	w, clock := newWorld(t)
	c := w.IAM(acct)
	generate := func() types.ReportStateType {
		t.Helper()
		out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out.State
	}
	get := func() (*iam.GetCredentialReportOutput, error) {
		return c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	}
	if _, err := get(); code(err) != "ReportNotPresent" {
		t.Fatalf("before any generation: %v", err)
	}
	if s := generate(); s != types.ReportStateTypeStarted {
		t.Fatalf("first generation: %s", s)
	}
	if _, err := get(); code(err) != "ReportInProgress" {
		t.Errorf("before a request answered COMPLETE: %v", err)
	}
	if s := generate(); s != types.ReportStateTypeComplete {
		t.Fatalf("second request: %s", s)
	}
	first, err := get()
	if err != nil {
		t.Fatal(err)
	}
	generatedAt := w.now()
	if !aws.ToTime(first.GeneratedTime).Equal(generatedAt) || first.ReportFormat != types.ReportFormatTypeTextCsv {
		t.Errorf("generated %v as %s", first.GeneratedTime, first.ReportFormat)
	}

	// Within ReportInterval the cached report stands, whatever changed.
	if err := w.CreateUser(acct, "alice", nil); err != nil {
		t.Fatal(err)
	}
	clock.advance(w.ReportInterval - time.Second)
	if s := generate(); s != types.ReportStateTypeComplete {
		t.Errorf("within the interval: %s", s)
	}
	cached, err := get()
	if err != nil || !bytes.Equal(cached.Content, first.Content) || !aws.ToTime(cached.GeneratedTime).Equal(generatedAt) {
		t.Errorf("within the interval the report changed (%v)", err)
	}
	clock.advance(time.Second)
	if s := generate(); s != types.ReportStateTypeStarted {
		t.Errorf("after the interval: %s", s)
	}
	generate()
	fresh, err := get()
	if err != nil || !strings.Contains(string(fresh.Content), "\nalice,") {
		t.Errorf("the regenerated report lacks alice (%v):\n%s", err, fresh.Content)
	}
}

// The report reads as AWS's does, and pkg/scan's parser reads it.
func TestCredentialReportFormat(t *testing.T) {
	w, clock := newWorld(t)
	now := w.now()
	day := 24 * time.Hour
	users := []struct {
		name string
		keys []struct {
			age    int
			status types.StatusType
			used   int // days ago; -1: never
		}
	}{
		{name: "zoe"},
		{name: "alice", keys: []struct {
			age    int
			status types.StatusType
			used   int
		}{{100, types.StatusTypeActive, 3}, {20, types.StatusTypeActive, -1}}},
		{name: "bob", keys: []struct {
			age    int
			status types.StatusType
			used   int
		}{{95, types.StatusTypeInactive, 91}, {10, types.StatusTypeActive, 1}}},
	}
	for _, u := range users {
		if err := w.CreateUser(acct, u.name, nil); err != nil {
			t.Fatal(err)
		}
		for _, k := range u.keys {
			id, _, err := w.AddKey(acct, u.name, now.Add(-time.Duration(k.age)*day), k.status)
			if err != nil {
				t.Fatal(err)
			}
			if k.used >= 0 {
				if err := w.UseKey(acct, id, now.Add(-time.Duration(k.used)*day), "s3", "us-east-1"); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	clock.advance(time.Minute)
	c := w.IAM(acct)
	for range 2 {
		if _, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out.Content)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], reportHeader) || len(rows) != 5 {
		t.Fatalf("header %v, %d rows", rows[0], len(rows))
	}
	at := func(days int) string { return reportTime(now.Add(-time.Duration(days) * day)) }
	created := reportTime(now)
	want := [][]string{
		{"<root_account>", "arn:aws:iam::" + acct + ":root", created, "not_supported", "N/A", "not_supported", "not_supported", "false",
			"false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"},
		{"alice", "arn:aws:iam::" + acct + ":user/alice", created, "false", "N/A", "N/A", "N/A", "false",
			"true", at(100), at(3), "us-east-1", "s3", "true", at(20), "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"},
		{"bob", "arn:aws:iam::" + acct + ":user/bob", created, "false", "N/A", "N/A", "N/A", "false",
			"false", "N/A", at(91), "us-east-1", "s3", "true", at(10), at(1), "us-east-1", "s3", "false", "N/A", "false", "N/A"},
		{"zoe", "arn:aws:iam::" + acct + ":user/zoe", created, "false", "N/A", "N/A", "N/A", "false",
			"false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"},
	}
	for i, row := range want {
		if !slices.Equal(rows[i+1], row) {
			t.Errorf("row %d:\n got %v\nwant %v", i+1, rows[i+1], row)
		}
	}
	if strings.Contains(string(out.Content), "AKIA") {
		t.Error("the report holds key IDs")
	}

	parsed, err := scan.ParseCredentialReport(out.Content)
	if err != nil {
		t.Fatalf("pkg/scan cannot parse the report: %v", err)
	}
	byUser := map[string][]policy.Key{}
	for _, u := range parsed {
		byUser[u.UserName] = u.Keys
	}
	if len(parsed) != 3 || len(byUser["zoe"]) != 0 || len(byUser["alice"]) != 2 {
		t.Errorf("parsed %+v", parsed)
	}
	// The parser takes an N/A last_rotated for an empty slot, so bob's Inactive key, which
	// AWS reports with last_rotated N/A, is invisible to the report-driven scan.
	if got := byUser["bob"]; len(got) != 1 || got[0].Status != policy.Active {
		t.Errorf("bob's keys as parsed: %+v, want only the Active one (the Inactive key's slot reads as empty)", got)
	}
}

// pkg/scan runs against the model as against IAM: candidates from the report, a user's
// keys and tags read fresh.
func TestScannerReadsTheModel(t *testing.T) {
	w, clock := newWorld(t)
	now := w.now()
	for _, u := range []struct {
		name string
		age  int
	}{{"old", 85}, {"young", 10}} {
		name, age := u.name, u.age
		if err := w.CreateUser(acct, name, map[string]string{"EmailID": name + "@example.com"}); err != nil {
			t.Fatal(err)
		}
		id, _, err := w.AddKey(acct, name, now.AddDate(0, 0, -age), types.StatusTypeActive)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.UseKey(acct, id, now.Add(-time.Hour), "s3", "us-east-1"); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(w.ConsistencyDelay)
	s := &scan.Scanner{IAM: w.IAM(acct), PollInterval: time.Nanosecond}
	cfg := policy.Config{}.WithDefaults()
	found, err := s.Candidates(ctx, cfg, w.now())
	if err != nil {
		t.Fatal(err)
	}
	if found.Source != scan.FromCredentialReport || found.Users != 2 || !slices.Equal(found.Candidates, []string{"old"}) {
		t.Errorf("candidates %+v, want old from the credential report", found)
	}
	u, err := s.User(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Keys) != 1 || u.Keys[0].LastUsedDate == nil || u.Tags["EmailID"] != "old@example.com" {
		t.Errorf("user %+v", u)
	}
}

// TestCredentialReportInTheDocumentedCase: an account set to write its report as the IAM
// user guide documents it has TRUE and FALSE in every boolean column (the reports seen carry
// true and false, the model's default), and the scanner reads it alike.
func TestCredentialReportInTheDocumentedCase(t *testing.T) {
	w, clock := newWorld(t)
	w.DocumentedReportCase(acct, true)
	now := w.now()
	if err := w.CreateUser(acct, "old", map[string]string{"EmailID": "old@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.AddKey(acct, "old", now.AddDate(0, 0, -85), types.StatusTypeActive); err != nil {
		t.Fatal(err)
	}
	clock.advance(w.ConsistencyDelay)
	rows, err := csv.NewReader(bytes.NewReader(w.renderReport(w.accounts[acct]))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for i, name := range rows[0] {
			if (strings.HasSuffix(name, "_active") || strings.HasSuffix(name, "_enabled")) && (row[i] == "true" || row[i] == "false") {
				t.Errorf("%s of %s is %q, want it in capitals", name, row[0], row[i])
			}
		}
	}
	s := &scan.Scanner{IAM: w.IAM(acct), PollInterval: time.Nanosecond}
	found, err := s.Candidates(ctx, policy.Config{}.WithDefaults(), w.now())
	if err != nil || found.Source != scan.FromCredentialReport || !slices.Equal(found.Candidates, []string{"old"}) {
		t.Errorf("candidates %+v (%v), want old from the credential report", found, err)
	}
}
