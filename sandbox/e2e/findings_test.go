package e2e

import (
	"context"
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
// attributes, the caller's account and default product). The first imports a finding for
// the user without an email tag and for the exempt user with a 120-day key; the second, after
// the exemption is removed, updates the first (same CreatedAt, later UpdatedAt) and archives
// the second; the third, after the owner's email tag is added, archives the first.
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

	ex, _ := o.run(t, `{}`)
	mustSucceed(t, ex)
	first := findings()
	if len(first) != 2 || first[nomail].RecordState != shtypes.RecordStateActive || first[frozen].RecordState != shtypes.RecordStateActive {
		t.Fatalf("run 1: findings %v, want nomail's and frozen's, ACTIVE", states(first))
	}

	if _, err := prodIAM.UntagUser(ctx, &iam.UntagUserInput{UserName: aws.String("frozen"), TagKeys: []string{"Exempt"}}); err != nil {
		t.Fatal(err)
	}
	o.advance(t, 24*time.Hour)
	ex, _ = o.run(t, `{}`)
	mustSucceed(t, ex)
	second := findings()
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
	if len(third) != 2 || third[nomail].RecordState != shtypes.RecordStateArchived || third[frozen].RecordState != shtypes.RecordStateArchived {
		t.Errorf("run 3: findings %v, want both ARCHIVED", states(third))
	}
}

func states(fs map[string]shtypes.AwsSecurityFinding) map[string]shtypes.RecordState {
	out := map[string]shtypes.RecordState{}
	for id, f := range fs {
		out[id] = f.RecordState
	}
	return out
}
