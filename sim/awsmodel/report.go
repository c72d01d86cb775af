package awsmodel

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// credentialReport is an account's last credential report. AWS generates one at most every
// ReportInterval and takes a while to: the model generates it at once but answers the
// request that started it with STARTED, and the first GetCredentialReport after that with
// ReportInProgress (a generation takes one poll); a GenerateCredentialReport before then
// answers COMPLETE, as moto does, and the report is served from then on.
type credentialReport struct {
	generated time.Time // zero: never generated
	content   []byte
	ready     bool
	polled    bool // a GetCredentialReport found the generation in progress
}

// reportHeader is the credential report's header, as the IAM User Guide documents it.
var reportHeader = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
	"password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

const notApplicable = "N/A"

// reportTime formats a time as the credential report does: 2014-01-23T19:15:33+00:00.
func reportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// GenerateCredentialReport starts a report when none was generated within ReportInterval
// (STARTED); otherwise the existing one stands (COMPLETE).
func (c *IAM) GenerateCredentialReport(_ context.Context, in *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	return do(c.w, c.call("GenerateCredentialReport", in), "", func() (*iam.GenerateCredentialReportOutput, error) {
		r, now := &c.acc.report, c.w.now()
		if r.generated.IsZero() || now.Sub(r.generated) >= c.w.ReportInterval {
			*r = credentialReport{generated: now, content: c.w.renderReport(c.acc)}
			return &iam.GenerateCredentialReportOutput{State: types.ReportStateTypeStarted,
				Description: aws.String("No report exists. Starting a new report generation task")}, nil
		}
		r.ready = true
		return &iam.GenerateCredentialReportOutput{State: types.ReportStateTypeComplete}, nil
	})
}

// GetCredentialReport returns the report: ReportNotPresent before any generation,
// ReportInProgress while it is being generated (at the first poll).
func (c *IAM) GetCredentialReport(_ context.Context, in *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	return do(c.w, c.call("GetCredentialReport", in), "", func() (*iam.GetCredentialReportOutput, error) {
		r := c.acc.report
		switch {
		case r.generated.IsZero():
			return nil, fail(410, &types.CredentialReportNotPresentException{Message: aws.String("Credential report not present.")})
		case !r.ready && !r.polled:
			c.acc.report.polled = true
			return nil, fail(404, &types.CredentialReportNotReadyException{Message: aws.String("Credential report is being generated.")})
		}
		c.acc.report.ready = true
		return &iam.GetCredentialReportOutput{Content: slices.Clone(r.content), GeneratedTime: aws.Time(r.generated),
			ReportFormat: types.ReportFormatTypeTextCsv}, nil
	})
}

// renderReport writes the account's credential report as of now: a row for the root
// account, then one per user in name order. Users have no password, MFA or certificates
// in the model; their keys fill the two slots oldest first. No key IDs; N/A for what
// does not apply, including the last_rotated of an inactive key.
func (w *World) renderReport(a *account) []byte {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(reportHeader) // a bytes.Buffer does not fail
	root := []string{"<root_account>", "arn:aws:iam::" + a.id + ":root", reportTime(a.created),
		"not_supported", notApplicable, "not_supported", "not_supported", "false"}
	root = append(root, emptySlot...)
	root = append(root, emptySlot...)
	_ = cw.Write(w.reportCase(a, append(root, noCerts...)))
	for _, name := range a.names {
		u := a.users[name]
		row := []string{u.name, a.userARN(u.name), reportTime(u.created), "false", notApplicable, notApplicable, notApplicable, "false"}
		keys := slices.Clone(u.keys)
		slices.SortStableFunc(keys, func(a, b *key) int { return a.created.Compare(b.created) })
		for slot := range maxKeysPerUser {
			if slot >= len(keys) {
				row = append(row, emptySlot...)
				continue
			}
			row = append(row, keySlot(keys[slot])...)
		}
		_ = cw.Write(w.reportCase(a, append(row, noCerts...)))
	}
	cw.Flush()
	return buf.Bytes()
}

// DocumentedReportCase makes account's credential report write its booleans as the IAM
// user guide documents them, TRUE and FALSE (documented), or as the reports seen carry them,
// true and false (the default).
func (w *World) DocumentedReportCase(account string, documented bool) {
	w.account(account).documentedCase = documented
}

// reportCase writes a row's booleans in the account's casing.
func (w *World) reportCase(a *account, row []string) []string {
	if !a.documentedCase {
		return row
	}
	for i, name := range reportHeader {
		if (strings.HasSuffix(name, "_active") || strings.HasSuffix(name, "_enabled")) && (row[i] == "true" || row[i] == "false") {
			row[i] = strings.ToUpper(row[i])
		}
	}
	return row
}

var (
	emptySlot = []string{"false", notApplicable, notApplicable, notApplicable, notApplicable}
	noCerts   = []string{"false", notApplicable, "false", notApplicable}
)

func keySlot(k *key) []string {
	slot := []string{"false", notApplicable, notApplicable, notApplicable, notApplicable}
	if k.status == types.StatusTypeActive {
		slot[0], slot[1] = "true", reportTime(k.created)
	}
	if k.lastUsed != nil {
		slot[2], slot[3], slot[4] = reportTime(*k.lastUsed), k.region, k.service
	}
	return slot
}
