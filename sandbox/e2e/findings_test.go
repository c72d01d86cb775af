package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
)

// TestE2ESecurityHubFindings: with securityHubFindings, three daily runs on the stand-in
// (whose BatchImportFindings checks what AWS checks: Security Hub enabled, the required
// attributes, the caller's account and default product). The first places operators' holds
// on paused (its last day the next day) and oncall, and imports a finding for the user
// without an email tag, for the exempt user with a 120-day key and for each held user (LOW,
// naming the hold's reason, the execution that placed it and its last day); the second, after
// the exemption is removed and with oncall's hold released, updates the first and paused's
// (same CreatedAt, later UpdatedAt) and archives the second; the third, after the owner's
// email tag is added, archives the first, paused's (its hold ended) and oncall's (released).
func TestE2ESecurityHubFindings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := start(t, "testdata/findings.json")
	o.settings.SecurityHubFindings = true
	hub := securityhub.NewFromConfig(o.sb.Config()) // the rotator (management) account's
	if _, err := hub.EnableSecurityHub(ctx, &securityhub.EnableSecurityHubInput{}); err != nil {
		t.Fatal(err)
	}
	prod := o.id(t, "prod")
	nomail, frozen := report.FindingID(prod, "nomail"), report.FindingID(prod, "frozen")
	paused, oncall := report.FindingID(prod, "paused"), report.FindingID(prod, "oncall")
	findings := func() map[string]shtypes.AwsSecurityFinding {
		t.Helper()
		out := map[string]shtypes.AwsSecurityFinding{}
		pages := securityhub.NewGetFindingsPaginator(hub, &securityhub.GetFindingsInput{})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range page.Findings {
				out[aws.ToString(f.Id)] = f
			}
		}
		return out
	}
	prodIAM, err := o.sb.IAM("prod")
	if err != nil {
		t.Fatal(err)
	}

	today := time.Now().UTC()
	last := today.AddDate(0, 0, 1).Format(time.DateOnly)
	ex, _ := o.run(t, fmt.Sprintf(`{"hold":[{"account":%q,"user":"paused","until":%q,"reason":"INC-4711"},`+
		`{"account":%q,"user":"oncall","until":%q,"reason":"CHG-17"}]}`, prod, last, prod, today.AddDate(0, 0, 5).Format(time.DateOnly)))
	mustSucceed(t, ex)
	first := findings()
	if len(first) != 4 {
		t.Fatalf("run 1: findings %v, want nomail's, frozen's, paused's and oncall's", states(first))
	}
	for _, id := range []string{nomail, frozen, paused, oncall} {
		if first[id].RecordState != shtypes.RecordStateActive {
			t.Errorf("run 1: finding %s is %s, want ACTIVE", id, first[id].RecordState)
		}
	}
	f := first[paused]
	t.Logf("run 1: paused's finding %s %s %q", aws.ToString(f.GeneratorId), f.Severity.Label, aws.ToString(f.Title))
	if aws.ToString(f.GeneratorId) != "iam-access-key-rotator/held" || f.Severity.Label != shtypes.SeverityLabelLow {
		t.Errorf("run 1: paused's finding %s %s, want iam-access-key-rotator/held, LOW", aws.ToString(f.GeneratorId), f.Severity.Label)
	}
	for _, w := range []string{"INC-4711", ex.Name, last} {
		if !strings.Contains(aws.ToString(f.Title), w) || !strings.Contains(aws.ToString(f.Description), w) {
			t.Errorf("run 1: paused's finding %q / %q does not name %q", aws.ToString(f.Title), aws.ToString(f.Description), w)
		}
	}
	if rem := aws.ToString(f.Remediation.Recommendation.Text); !strings.Contains(rem, "newer key") || !strings.Contains(rem, "release") {
		t.Errorf("run 1: paused's remediation %q, want the newer key and the release", rem)
	}

	if _, err := prodIAM.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("frozen"), TagKeys: []string{"Exempt"}}); err != nil {
		t.Fatal(err)
	}
	o.advance(t, 24*time.Hour)
	ex, _ = o.run(t, fmt.Sprintf(`{"release":[{"account":%q,"user":"oncall"}]}`, prod))
	mustSucceed(t, ex)
	second := findings()
	for _, id := range []string{paused, oncall} {
		if f := second[id]; f.RecordState != shtypes.RecordStateActive || aws.ToString(f.CreatedAt) != aws.ToString(first[id].CreatedAt) ||
			aws.ToString(f.UpdatedAt) <= aws.ToString(first[id].UpdatedAt) {
			t.Errorf("run 2 (inside the hold, or the day of its release): finding %s %s created %s updated %s, want ACTIVE, created %s, updated later",
				id, f.RecordState, aws.ToString(f.CreatedAt), aws.ToString(f.UpdatedAt), aws.ToString(first[id].CreatedAt))
		}
	}
	if f := second[nomail]; f.RecordState != shtypes.RecordStateActive || aws.ToString(f.CreatedAt) != aws.ToString(first[nomail].CreatedAt) ||
		aws.ToString(f.UpdatedAt) <= aws.ToString(first[nomail].UpdatedAt) {
		t.Errorf("run 2: nomail's finding %s created %s updated %s, want ACTIVE, created %s, updated after %s", f.RecordState,
			aws.ToString(f.CreatedAt), aws.ToString(f.UpdatedAt), aws.ToString(first[nomail].CreatedAt), aws.ToString(first[nomail].UpdatedAt))
	}
	if f := second[frozen]; f.RecordState != shtypes.RecordStateArchived {
		t.Errorf("run 2: frozen's finding is %s, want ARCHIVED (no longer exempt)", f.RecordState)
	}

	if _, err := prodIAM.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("nomail"),
		Tags: []iamtypes.Tag{{Key: aws.String("EmailID"), Value: aws.String("nomail@example.com")}}}); err != nil {
		t.Fatal(err)
	}
	o.advance(t, 24*time.Hour)
	ex, _ = o.run(t, `{}`)
	mustSucceed(t, ex)
	third := findings()
	if len(third) != 4 {
		t.Errorf("run 3: findings %v, want the same four", states(third))
	}
	for _, id := range []string{nomail, frozen, paused, oncall} {
		if third[id].RecordState != shtypes.RecordStateArchived {
			t.Errorf("run 3: finding %s is %s, want ARCHIVED (paused's hold ended, oncall's released)", id, third[id].RecordState)
		}
	}
}

func states(fs map[string]shtypes.AwsSecurityFinding) map[string]shtypes.RecordState {
	out := map[string]shtypes.RecordState{}
	for id, f := range fs {
		out[id] = f.RecordState
	}
	return out
}
