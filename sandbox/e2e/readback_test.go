package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// fillerMessages are sent before the run, each of fillerBytes, from the rotator's sender to
// an address no owner has: more mail than one answer of the stand-in can carry
// (sandbox.MaxAnswerBytes). At 3,000 accounts /moto-api/data.json, the stand-in's whole
// state with every SES message, outgrew it and `keyrotator run` failed after the execution.
const (
	fillerMessages = 72
	fillerBytes    = 1 << 20
	fillerTo       = "archive@example.org"
)

// TestE2ERunWritesEveryFileWhenTheStandInHoldsMoreMailThanOneAnswer: a stand-in that has
// already accepted more mail than one answer can carry (as at 3,000 accounts) still gives the
// runner the run's own emails, in bounded pieces: the run writes execution.json, report.json,
// report.csv and one file for each of its emails, and none of the mail sent before it. The
// run's own mail is more than one page of the read-back too (sandbox.SESPageMessages).
func TestE2ERunWritesEveryFileWhenTheStandInHoldsMoreMailThanOneAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the stand-in takes 72 MiB of mail first")
	}
	const notices = sandbox.SESPageMessages + 20
	sb := sandboxtest.New(t, scaleOrganization(notices, 2))
	checkAlerts(t, sb)
	s, err := sb.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fill(t, sb.URL, s.Rotator.SenderEmail)
	t.Logf("sent %d messages of %d bytes in %s", fillerMessages, fillerBytes, time.Since(start).Round(time.Second))

	settings := runner.SettingsFrom(s)
	settings.SESMaxSendRate = 100
	settings.NotifyConcurrency = 8
	ex := runAudited(t, runner.Options{Endpoint: sb.URL, Input: json.RawMessage(`{}`), Settings: settings,
		BinDir: binDir, RetryInterval: 50 * time.Millisecond, MaxInstances: 8})
	out := t.TempDir()
	if err := ex.Write(out); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, ex)
	for _, name := range []string{"execution.json", "report.json", "report.csv"} {
		if info, err := os.Stat(filepath.Join(out, name)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v (want a file that is not empty)", name, err)
		}
	}
	if ex.Report == nil || ex.Report.Totals.Notices != notices {
		t.Fatalf("report %v: want %d notices", ex.Report != nil, notices)
	}
	mail, err := filepath.Glob(filepath.Join(out, "mail", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mail) != notices || len(ex.Emails) != notices {
		t.Errorf("%d email files, %d emails; want the run's %d notices", len(mail), len(ex.Emails), notices)
	}
	for _, path := range mail {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), fillerTo) || !strings.Contains(filepath.Base(path), "owner-") {
			t.Errorf("%s: not one of the run's notices (%d bytes)", filepath.Base(path), len(body))
		}
	}
}

// fill sends fillerMessages raw messages of fillerBytes through SES v2 from sender.
func fill(t *testing.T, url, sender string) {
	t.Helper()
	client := sesv2.NewFromConfig(sandbox.Config(url))
	line := strings.Repeat("archived log line, not for an owner. ", 2) + "\r\n"
	body := strings.Repeat(line, fillerBytes/len(line))
	for i := range fillerMessages {
		raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: filler %d\r\nContent-Type: text/plain\r\n\r\n%s", sender, fillerTo, i, body)
		_, err := client.SendEmail(context.Background(), &sesv2.SendEmailInput{FromEmailAddress: aws.String(sender),
			Destination: &sesv2types.Destination{ToAddresses: []string{fillerTo}},
			Content:     &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}}})
		if err != nil {
			t.Fatalf("filler message %d: %v", i, err)
		}
	}
	if fillerMessages*fillerBytes <= sandbox.MaxAnswerBytes {
		t.Fatalf("%d bytes of filler: not more than one answer (%d)", fillerMessages*fillerBytes, sandbox.MaxAnswerBytes)
	}
}
