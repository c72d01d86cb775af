package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// recordedHub is Security Hub's BatchImportFindings endpoint (POST /findings/import) as the
// SDK's client calls it: it records every request body as sent on the wire, keeps the
// findings by Id as Security Hub does (a finding with the same Id is updated), and refuses
// the findings whose Id refuse names (FailedFindings).
type recordedHub struct {
	mu       sync.Mutex
	requests [][]map[string]any
	findings map[string]map[string]any
	refuse   map[string]bool
}

func (h *recordedHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/findings/import" {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct{ Findings []map[string]any }
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, in.Findings)
	type failed struct{ Id, ErrorCode, ErrorMessage string }
	out := struct {
		FailedCount, SuccessCount int
		FailedFindings            []failed
	}{FailedFindings: []failed{}}
	for _, f := range in.Findings {
		id, _ := f["Id"].(string)
		if h.refuse[id] {
			out.FailedCount++
			out.FailedFindings = append(out.FailedFindings, failed{Id: id, ErrorCode: "InvalidInput", ErrorMessage: "refused by the test"})
			continue
		}
		h.findings[id] = f
		out.SuccessCount++
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// hubClient is the SDK's Security Hub client against the recorded endpoint.
func hubClient(t *testing.T, h http.Handler) *securityhub.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return securityhub.New(securityhub.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
}

var (
	findingsCfg = FindingsConfig{Partition: "aws", Region: "eu-west-1", AccountID: "999999999999", LimitDays: 90, StuckDays: 7}
	// typePattern is ASFF's namespace/category/classifier, with a documented namespace.
	typePattern = regexp.MustCompile(`^(Software and Configuration Checks|TTPs|Effects|Unusual Behaviors|Sensitive Data Identifications)(/[^/]+){0,2}$`)
	// stampPattern is the documented timestamp format (YYYY-MM-DDTHH:MM:SS[.fraction]Z or an offset).
	stampPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$`)
)

// checkFinding checks one finding as sent against the documented BatchImportFindings
// request: every required attribute present with its type and length (AwsSecurityFinding in
// the Security Hub API reference), the default product ARN of the calling account, and no
// attribute a finding provider may not set (Workflow, customer's).
func checkFinding(t *testing.T, f map[string]any) {
	t.Helper()
	str := func(name string, least, most int) string {
		v, ok := f[name].(string)
		if !ok {
			t.Errorf("finding %v: %s missing or not a string", f["Id"], name)
			return ""
		}
		if n := utf8.RuneCountInString(v); n < least || n > most || strings.TrimSpace(v) == "" {
			t.Errorf("finding %v: %s has %d characters, want %d to %d", f["Id"], name, n, least, most)
		}
		return v
	}
	if v := str("SchemaVersion", 1, 64); v != "2018-10-08" {
		t.Errorf("SchemaVersion %q, want 2018-10-08", v)
	}
	str("Id", 1, 512)
	account := str("AwsAccountId", 12, 12)
	if account != findingsCfg.AccountID {
		t.Errorf("AwsAccountId %s, want the calling (rotator) account %s", account, findingsCfg.AccountID)
	}
	if v := str("ProductArn", 12, 2048); v != "arn:aws:securityhub:eu-west-1:999999999999:product/999999999999/default" {
		t.Errorf("ProductArn %s, want the account's default product", v)
	}
	str("GeneratorId", 1, 512)
	str("Title", 1, 256)
	str("Description", 1, 1024)
	for _, name := range []string{"CreatedAt", "UpdatedAt"} {
		if v := str(name, 1, 64); !stampPattern.MatchString(v) {
			t.Errorf("%s %q is not a documented timestamp", name, v)
		}
	}
	types, _ := f["Types"].([]any)
	if len(types) == 0 || len(types) > 50 {
		t.Errorf("finding %v: %d Types, want 1 to 50", f["Id"], len(types))
	}
	for _, ty := range types {
		if s, _ := ty.(string); !typePattern.MatchString(s) {
			t.Errorf("type %q is not namespace/category/classifier", ty)
		}
	}
	labels := []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	sev, _ := f["Severity"].(map[string]any)
	if l, _ := sev["Label"].(string); !slices.Contains(labels, l) {
		t.Errorf("finding %v: Severity.Label %q", f["Id"], sev["Label"])
	}
	fp, _ := f["FindingProviderFields"].(map[string]any)
	fpSev, _ := fp["Severity"].(map[string]any)
	if fpSev["Label"] != sev["Label"] {
		t.Errorf("finding %v: FindingProviderFields.Severity %v differs from Severity %v", f["Id"], fpSev, sev)
	}
	resources, _ := f["Resources"].([]any)
	if len(resources) == 0 || len(resources) > 32 {
		t.Errorf("finding %v: %d Resources, want 1 to 32", f["Id"], len(resources))
	}
	for i, r := range resources {
		res, _ := r.(map[string]any)
		ty, _ := res["Type"].(string)
		id, _ := res["Id"].(string)
		if !slices.Contains([]string{"AwsIamUser", "AwsIamAccessKey"}, ty) || id == "" {
			t.Errorf("finding %v: resource %d is %v", f["Id"], i, res)
		}
		if i == 0 && (ty != "AwsIamUser" || !strings.HasPrefix(id, "arn:aws:iam::")) {
			t.Errorf("finding %v: first resource %v, want the IAM user's ARN", f["Id"], res)
		}
	}
	rem, _ := f["Remediation"].(map[string]any)
	rec, _ := rem["Recommendation"].(map[string]any)
	if text, _ := rec["Text"].(string); text == "" || utf8.RuneCountInString(text) > 512 {
		t.Errorf("finding %v: Remediation.Recommendation.Text %q, want 1 to 512 characters", f["Id"], text)
	}
	if s, _ := f["RecordState"].(string); s != "ACTIVE" && s != "ARCHIVED" {
		t.Errorf("finding %v: RecordState %q", f["Id"], f["RecordState"])
	}
	for _, customer := range []string{"Workflow", "WorkflowState", "Note", "UserDefinedFields", "VerificationState"} {
		if _, ok := f[customer]; ok {
			t.Errorf("finding %v sets %s, which BatchImportFindings does not update (the customer's, BatchUpdateFindings)", f["Id"], customer)
		}
	}
}

// findingsRun writes a run's results, each account's users given, and runs CleanupReport.
func findingsRun(t *testing.T, r *Handler, store *fakeS3, runID string, now time.Time, accounts map[workflow.Account][]workflow.UserResult,
	failed ...workflow.Account) {
	t.Helper()
	run := workflow.Run{RunID: runID, Now: now}
	var list []workflow.Account
	for a, users := range accounts {
		list = append(list, a)
		store.putJSON(t, workflow.ResultKey(runID, a.AccountID), workflow.AccountResult{Run: run, Account: a, Status: workflow.AccountDone,
			Users: users})
	}
	list = append(list, failed...) // no result: failed past its retries
	slices.SortFunc(list, func(x, y workflow.Account) int { return strings.Compare(x.AccountID, y.AccountID) })
	listing := workflow.AccountList{Run: run, AccountCount: len(list), Bucket: "reports", Key: workflow.AccountsKey(runID)}
	store.putJSON(t, listing.Key, list)
	if _, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing}); err != nil {
		t.Fatal(err)
	}
}

func findingsHandler(store *fakeS3, hub SecurityHubAPI) *Handler {
	return &Handler{S3: store, SNS: &fakeSNS{}, Sender: notify.NewSender(&fakeSES{}, "", nil), Bucket: "reports", From: "rotator@example.com",
		SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:eu-west-1:999999999999:failures",
		SecurityHub: hub, Findings: findingsCfg, Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
}

var key = []policy.KeyUsage{{Usage: policy.Usage{AccessKeyID: "AKIAEXAMPLE000000001"}, Status: policy.Active}}

// TestFindingsAppearUpdateAndResolveAcrossRuns: three runs. The first imports a finding for
// the owner without a usable email and for the exempt user past the limit; a user whose
// rotation fails gets none yet. The second updates the first (same Id and CreatedAt, later
// UpdatedAt), archives the exempt user's (exemption removed), imports the failing user's
// once it has failed for more than noticePeriod days, and leaves alone the finding of an
// account that failed in the run. The third archives every one whose condition ended.
func TestFindingsAppearUpdateAndResolveAcrossRuns(t *testing.T) {
	hub := &recordedHub{findings: map[string]map[string]any{}}
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 100}
	r := findingsHandler(store, hubClient(t, hub))
	prod, dev := workflow.Account{AccountID: "111111111111", Name: "prod"}, workflow.Account{AccountID: "222222222222", Name: "dev"}
	day1 := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	noEmail := workflow.UserResult{UserName: "alice", Status: policy.StatusOK, EmailProblem: "no Email tag", Keys: key, OldestKeyAgeDays: 30}
	exempt := workflow.UserResult{UserName: "bob", Status: policy.StatusExempt, Reason: "tagged NoRotate=true", OldestKeyAgeDays: 120}
	failing := workflow.UserResult{UserName: "carol", Status: policy.StatusRotate, Error: "AccessDenied: iam:CreateAccessKey"}
	fine := workflow.UserResult{UserName: "dave", Status: policy.StatusOK, Keys: key, OldestKeyAgeDays: 10}
	devNoEmail := workflow.UserResult{UserName: "erin", Status: policy.StatusOK, EmailProblem: "address example.net not allowed", Keys: key}

	state := func(id string) (string, map[string]any) {
		f := hub.findings[id]
		s, _ := f["RecordState"].(string)
		return s, f
	}
	alice, bob, carol, erin := FindingID(prod.AccountID, "alice"), FindingID(prod.AccountID, "bob"), FindingID(prod.AccountID, "carol"),
		FindingID(dev.AccountID, "erin")

	findingsRun(t, r, store, "run-1", day1, map[workflow.Account][]workflow.UserResult{
		prod: {noEmail, exempt, failing, fine}, dev: {devNoEmail}})
	for _, id := range []string{alice, bob, erin} {
		if s, _ := state(id); s != "ACTIVE" {
			t.Errorf("run 1: finding %s is %q, want ACTIVE", id, s)
		}
	}
	if len(hub.findings) != 3 {
		t.Errorf("run 1: %d findings, want 3 (alice, bob, erin): %v", len(hub.findings), slices.Collect(maps.Keys(hub.findings)))
	}
	_, first := state(alice)
	if desc, _ := first["Description"].(string); !strings.Contains(desc, "no Email tag") {
		t.Errorf("run 1: alice's description %q does not say why", desc)
	}

	day10 := day1.AddDate(0, 0, 9)
	exempt.Status, exempt.Reason = policy.StatusOK, ""
	findingsRun(t, r, store, "run-2", day10, map[workflow.Account][]workflow.UserResult{prod: {noEmail, exempt, failing, fine}}, dev)
	if s, f := state(alice); s != "ACTIVE" || f["CreatedAt"] != first["CreatedAt"] || f["UpdatedAt"] == first["UpdatedAt"] {
		t.Errorf("run 2: alice's finding %s created %v updated %v, want ACTIVE, created %v, updated later", s, f["CreatedAt"], f["UpdatedAt"], first["CreatedAt"])
	}
	if s, _ := state(bob); s != "ARCHIVED" {
		t.Errorf("run 2: bob's finding is %q, want ARCHIVED (no longer exempt)", s)
	}
	if s, f := state(carol); s != "ACTIVE" || f["Severity"].(map[string]any)["Label"] != "HIGH" {
		t.Errorf("run 2: carol's finding is %q, want ACTIVE, HIGH (failing for 9 days > 7)", s)
	}
	for _, req := range hub.requests[len(hub.requests)-1:] {
		for _, f := range req {
			if f["Id"] == erin {
				t.Errorf("run 2: erin's finding was imported although dev failed in the run")
			}
		}
	}

	noEmail.EmailProblem, failing.Error, failing.Keys = "", "", key
	findingsRun(t, r, store, "run-3", day10.AddDate(0, 0, 1), map[workflow.Account][]workflow.UserResult{
		prod: {noEmail, failing, fine}, dev: {{UserName: "erin", Status: policy.StatusOK, Keys: key}}})
	for _, id := range []string{alice, bob, carol, erin} {
		if s, _ := state(id); s != "ARCHIVED" {
			t.Errorf("run 3: finding %s is %q, want ARCHIVED", id, s)
		}
	}
	var kept FindingsState
	if err := json.Unmarshal(store.objects[FindingsKey], &kept); err != nil {
		t.Fatal(err)
	}
	if len(kept.Open) != 0 || len(kept.Failing) != 0 {
		t.Errorf("run 3: the state keeps %v open and %v failing, want none", kept.Open, kept.Failing)
	}
	for _, req := range hub.requests {
		for _, f := range req {
			checkFinding(t, f)
		}
	}
}

// TestFindingsImportInBatchesOfAHundredAndRetryRefusedArchives: 250 findings go in three
// requests of at most 100 (BatchImportFindings' limit); an archive Security Hub refuses stays
// open in the state and is archived by the next run.
func TestFindingsImportInBatchesOfAHundredAndRetryRefusedArchives(t *testing.T) {
	hub := &recordedHub{findings: map[string]map[string]any{}}
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 1000}
	r := findingsHandler(store, hubClient(t, hub))
	prod := workflow.Account{AccountID: "111111111111", Name: "prod"}
	var users []workflow.UserResult
	for i := range 250 {
		users = append(users, workflow.UserResult{UserName: fmt.Sprintf("user-%03d", i), Status: policy.StatusOK, EmailProblem: "no Email tag", Keys: key})
	}
	day1 := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	findingsRun(t, r, store, "run-1", day1, map[workflow.Account][]workflow.UserResult{prod: users})
	var sizes []int
	for _, req := range hub.requests {
		sizes = append(sizes, len(req))
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("requests of %v findings, want [100 100 50]", sizes)
	}

	refused := FindingID(prod.AccountID, "user-007")
	hub.refuse = map[string]bool{refused: true}
	findingsRun(t, r, store, "run-2", day1.AddDate(0, 0, 1), map[workflow.Account][]workflow.UserResult{prod: {}})
	if s := hub.findings[refused]["RecordState"]; s != "ACTIVE" {
		t.Fatalf("run 2: the refused archive is %v in Security Hub, want still ACTIVE", s)
	}
	var kept FindingsState
	if err := json.Unmarshal(store.objects[FindingsKey], &kept); err != nil {
		t.Fatal(err)
	}
	if _, open := kept.Open[refused]; !open || len(kept.Open) != 1 {
		t.Errorf("run 2: the state keeps %d open findings (refused one open: %v), want just the refused one", len(kept.Open), open)
	}

	hub.refuse = nil
	findingsRun(t, r, store, "run-3", day1.AddDate(0, 0, 2), map[workflow.Account][]workflow.UserResult{prod: {}})
	if s := hub.findings[refused]["RecordState"]; s != "ARCHIVED" {
		t.Errorf("run 3: the refused archive is %v, want ARCHIVED", s)
	}
	for _, req := range hub.requests {
		for _, f := range req {
			checkFinding(t, f)
		}
	}
}

// TestNoFindingsUnlessAskedOrInADryRun: without the setting CleanupReport calls no Security
// Hub at all; a dry run imports nothing either.
func TestNoFindingsUnlessAskedOrInADryRun(t *testing.T) {
	hub := &recordedHub{findings: map[string]map[string]any{}}
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 100}
	r := findingsHandler(store, nil)
	prod := workflow.Account{AccountID: "111111111111", Name: "prod"}
	users := []workflow.UserResult{{UserName: "alice", Status: policy.StatusOK, EmailProblem: "no Email tag", Keys: key}}
	findingsRun(t, r, store, "run-1", time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC), map[workflow.Account][]workflow.UserResult{prod: users})
	if _, ok := store.objects[FindingsKey]; ok {
		t.Errorf("without the setting, the findings state was written")
	}
	doc := Document{Run: workflow.Run{RunID: "dry", DryRun: true}, Accounts: []workflow.AccountResult{{Account: prod, Status: workflow.AccountDone, Users: users}}}
	r.SecurityHub = hubClient(t, hub)
	if plan, err := r.findings(context.Background(), doc); err != nil || len(plan.Findings) != 0 || len(hub.requests) != 0 {
		t.Errorf("a dry run imported %d findings in %d requests (err %v), want none", len(plan.Findings), len(hub.requests), err)
	}
}

// TestHeldUserGetsAFindingUntilTheHoldEnds: a user whose keys an operator's hold keeps
// (pkg/hold) gets a LOW finding naming the hold's reason, the execution that placed it and
// its last day, whose Remediation says to move the application to the newer key before then
// or release the hold; the next run inside the hold updates it; the run after the hold's last
// day archives it. A hold released early (its last day the release's) is archived the run
// after the release once its owner was told (the user no longer Held), though the book still
// lists the hold through the day its placing asked for.
func TestHeldUserGetsAFindingUntilTheHoldEnds(t *testing.T) {
	hub := &recordedHub{findings: map[string]map[string]any{}}
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 100}
	r := findingsHandler(store, hubClient(t, hub))
	prod := workflow.Account{AccountID: "111111111111", Name: "prod"}
	day1 := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	book := hold.Book{Holds: []hold.Hold{
		{Account: prod.AccountID, User: "ci-bot", Until: "2026-12-09", Reason: "INC-4711", Reactivate: true, PlacedBy: "run-0", PlacedAt: day1.Add(-time.Hour)},
		{Account: prod.AccountID, User: "batch", Until: "2026-12-20", Reason: "CHG-17", PlacedBy: "run-0", PlacedAt: day1.Add(-time.Hour)},
	}}
	store.putJSON(t, workflow.HoldsKey, book)
	held := func(name string, status policy.UserStatus) workflow.UserResult {
		return workflow.UserResult{UserName: name, Status: status, Keys: key, OldestKeyAgeDays: 95, Held: true, Hold: "held until … placed by execution run-0"}
	}
	ciBot, batch := FindingID(prod.AccountID, "ci-bot"), FindingID(prod.AccountID, "batch")
	state := func(id string) (string, map[string]any) {
		f := hub.findings[id]
		s, _ := f["RecordState"].(string)
		return s, f
	}
	text := func(f map[string]any, path ...string) string {
		var v any = f
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}

	mute := held("mute", policy.StatusHeld) // held, and no usable address: the more severe finding, which says the hold
	mute.EmailProblem = "no Email tag"
	findingsRun(t, r, store, "run-1", day1, map[workflow.Account][]workflow.UserResult{prod: {held("ci-bot", policy.StatusNotify), held("batch", policy.StatusHeld), mute}})
	if s, f := state(FindingID(prod.AccountID, "mute")); s != "ACTIVE" || text(f, "GeneratorId") != "iam-access-key-rotator/no-delivery" ||
		!strings.Contains(text(f, "Description"), "An operator's hold keeps its keys for now (held until") {
		t.Errorf("run 1: mute's finding %q %s %q, want ACTIVE, no-delivery, saying the hold", s, text(f, "GeneratorId"), text(f, "Description"))
	}
	s, first := state(ciBot)
	if s != "ACTIVE" || text(first, "GeneratorId") != "iam-access-key-rotator/held" || text(first, "Severity", "Label") != "LOW" {
		t.Fatalf("run 1: ci-bot's finding %q %s %s, want ACTIVE, iam-access-key-rotator/held, LOW", s, text(first, "GeneratorId"), text(first, "Severity", "Label"))
	}
	for _, w := range []string{"INC-4711", "run-0", "2026-12-09"} {
		if !strings.Contains(text(first, "Title"), w) || !strings.Contains(text(first, "Description"), w) {
			t.Errorf("run 1: title %q or description %q does not name %q", text(first, "Title"), text(first, "Description"), w)
		}
	}
	rem := text(first, "Remediation", "Recommendation", "Text")
	for _, w := range []string{"newer key", "2026-12-09", "release", "An application broke at deactivation"} {
		if !strings.Contains(rem, w) {
			t.Errorf("run 1: remediation %q does not say %q", rem, w)
		}
	}

	// The next day: batch's hold released by run-2 (its last day now run-2's), both still held.
	day2 := day1.AddDate(0, 0, 1)
	at := day2
	book.Holds[1].ReleasedBy, book.Holds[1].ReleasedAt, book.Holds[1].Asked, book.Holds[1].Until = "run-2", &at, "2026-12-20", "2026-12-08"
	store.putJSON(t, workflow.HoldsKey, book)
	findingsRun(t, r, store, "run-2", day2, map[workflow.Account][]workflow.UserResult{prod: {held("ci-bot", policy.StatusHeld), held("batch", policy.StatusNotify)}})
	if s, f := state(ciBot); s != "ACTIVE" || f["CreatedAt"] != first["CreatedAt"] || f["UpdatedAt"] == first["UpdatedAt"] {
		t.Errorf("run 2: ci-bot's finding %s created %v updated %v, want ACTIVE, created %v, updated later", s, f["CreatedAt"], f["UpdatedAt"], first["CreatedAt"])
	}
	if s, f := state(batch); s != "ACTIVE" || !strings.Contains(text(f, "Description"), "Released early by execution run-2") || !strings.Contains(text(f, "Title"), "2026-12-08") {
		t.Errorf("run 2: batch's finding %s %q / %q, want ACTIVE, released by run-2, last day 2026-12-08", s, text(f, "Title"), text(f, "Description"))
	}

	// Day 3: ci-bot still held (its last day); batch no longer (its owner was told of the release).
	day3 := day2.AddDate(0, 0, 1)
	free := func(name string, status policy.UserStatus) workflow.UserResult {
		return workflow.UserResult{UserName: name, Status: status, Keys: key, OldestKeyAgeDays: 97}
	}
	findingsRun(t, r, store, "run-3", day3, map[workflow.Account][]workflow.UserResult{prod: {held("ci-bot", policy.StatusHeld), free("batch", policy.StatusDeactivate)}})
	if s, _ := state(ciBot); s != "ACTIVE" {
		t.Errorf("run 3 (ci-bot's last day): its finding is %q, want ACTIVE", s)
	}
	if s, _ := state(batch); s != "ARCHIVED" {
		t.Errorf("run 3 (the day after batch's release): its finding is %q, want ARCHIVED", s)
	}

	// Day 4: ci-bot's hold has ended.
	findingsRun(t, r, store, "run-4", day3.AddDate(0, 0, 1), map[workflow.Account][]workflow.UserResult{prod: {free("ci-bot", policy.StatusDeactivate), free("batch", policy.StatusOK)}})
	if s, _ := state(ciBot); s != "ARCHIVED" {
		t.Errorf("run 4 (the day after ci-bot's hold): its finding is %q, want ARCHIVED", s)
	}
	var kept FindingsState
	if err := json.Unmarshal(store.objects[FindingsKey], &kept); err != nil {
		t.Fatal(err)
	}
	if len(kept.Open) != 0 {
		t.Errorf("run 4: the state keeps %v open, want none", kept.Open)
	}
	for _, req := range hub.requests {
		for _, f := range req {
			checkFinding(t, f)
		}
	}
}
