package runner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// readReport reads reports/<run>/report.{json,csv} when CleanupReport wrote them.
func (e *Execution) readReport(ctx context.Context, cfg aws.Config) error {
	client := s3.NewFromConfig(cfg, awsclient.PathStyle)
	get := func(format string) ([]byte, error) {
		key := workflow.ReportKey(e.Name, format)
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &e.Resources.Bucket, Key: &key})
		var missing *s3types.NoSuchKey
		if errors.As(err, &missing) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read s3://%s/%s: %w", e.Resources.Bucket, key, err)
		}
		defer out.Body.Close()
		body, err := io.ReadAll(out.Body)
		if err != nil {
			return nil, fmt.Errorf("read s3://%s/%s: %w", e.Resources.Bucket, key, err)
		}
		return body, nil
	}
	var err error
	if e.ReportJSON, err = get("json"); err != nil {
		return err
	}
	if e.ReportCSV, err = get("csv"); err != nil {
		return err
	}
	if e.ReportJSON != nil {
		e.Report = &report.Document{}
		if err := json.Unmarshal(e.ReportJSON, e.Report); err != nil {
			return fmt.Errorf("decode report.json of %s: %w", e.Name, err)
		}
	}
	return nil
}

// Write stores the execution in dir: execution.json (status, output, event log),
// mail/NNN-<to>.eml (each email, in order, NNN of at least 3 digits; mode 0600: the password emails),
// beside an email with inline pictures (the support email's charts) each picture as
// mail/NNN-<to>-<name> and its HTML as mail/NNN-<to>.html showing them (open it in a browser),
// report.json and report.csv (when written) and logs/<function>.log.
func (e *Execution) Write(dir string) error {
	// The emails hold the zip passwords: only their owner may read them.
	for sub, mode := range map[string]os.FileMode{"mail": 0o700, "logs": 0o755} {
		if err := os.MkdirAll(filepath.Join(dir, sub), mode); err != nil {
			return fmt.Errorf("write the run's output: %w", err)
		}
	}
	files := map[string][]byte{}
	body, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode execution.json: %w", err)
	}
	files["execution.json"] = append(body, '\n')
	// NNN has as many digits as the last number, so that the names sort in order.
	width := max(3, len(strconv.Itoa(len(e.Emails))))
	for i, m := range e.Emails {
		to := "unknown"
		if len(m.Destinations) > 0 {
			to = fileSafe.ReplaceAllString(m.Destinations[0], "_")
		}
		base := filepath.Join(dir, "mail", fmt.Sprintf("%0*d-%s", width, i+1, to))
		if err := os.WriteFile(base+".eml", []byte(m.Raw), 0o600); err != nil {
			return fmt.Errorf("write the run's output: %w", err)
		}
		if err := writeInline(base, m.Raw); err != nil {
			return fmt.Errorf("write the run's output: %w", err)
		}
	}
	if e.ReportJSON != nil {
		files["report.json"] = e.ReportJSON
	}
	if e.ReportCSV != nil {
		files["report.csv"] = e.ReportCSV
	}
	for fn, log := range e.Logs {
		files[filepath.Join("logs", fn+".log")] = log
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write the run's output: %w", err)
		}
	}
	return nil
}

var fileSafe = regexp.MustCompile(`[^A-Za-z0-9@._-]`)

// writeInline writes the inline pictures of an email as base-<name>, and its HTML, their
// cid: references made file names, as base.html; nothing for an email without any.
func writeInline(base, raw string) error {
	e, err := sandboxtest.ParseEmail(raw)
	if err != nil || len(e.Inline) == 0 {
		return nil // a message the runner cannot parse is still in the .eml
	}
	html := e.HTML
	for _, p := range e.Inline {
		file := filepath.Base(base) + "-" + fileSafe.ReplaceAllString(cmp.Or(p.Filename, p.ContentID), "_")
		if err := os.WriteFile(filepath.Join(filepath.Dir(base), file), p.Data, 0o600); err != nil {
			return err
		}
		html = strings.ReplaceAll(html, "cid:"+p.ContentID, file)
	}
	return os.WriteFile(base+".html", []byte(html), 0o600)
}

// Summary prints the run's outcome: the status, and per account what the report says.
func (e *Execution) Summary(w io.Writer) {
	fmt.Fprintf(w, "execution %s: %s", e.Name, e.Status)
	if !e.Succeeded() {
		fmt.Fprintf(w, ": %s: %s", e.Error, e.Cause)
	}
	most, _ := BusiestSecond(e.Emails)
	fmt.Fprintf(w, "\nemails sent: %d, at most %d in one second", len(e.Emails), most)
	if e.Report != nil {
		fmt.Fprintf(w, " (the run's SES send rate: %d per second)", e.Report.Run.SendRate)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "executions: %d (the execution and its Distributed Maps' children); most history events in one: %d of %d (%s); largest payload: %d of %d bytes (%s)\n",
		e.Stats.Executions, e.Stats.MostEvents, HistoryLimit, e.Stats.MostEventsIn, e.Stats.LargestPayload, PayloadLimit, e.Stats.LargestPayloadAt)
	fmt.Fprintf(w, "state transitions: %d; Lambda invocations:", e.Stats.Transitions)
	for _, l := range e.Lambdas {
		fmt.Fprintf(w, " %s %d (%.1f GB-s)", l.Function, l.Invocations, l.GBSeconds())
	}
	fmt.Fprintln(w)
	if e.Report == nil {
		fmt.Fprintln(w, "no report was written")
		return
	}
	mode := "daily run"
	switch {
	case e.Report.Run.Cleanup:
		mode = "initial cleanup"
	case e.Report.Run.DryRun:
		mode = "dry run: nothing was changed, the counts are what would happen"
	}
	fmt.Fprintf(w, "report (%s, as of %s):\n\n", mode, e.Report.Run.Now.Format("2006-01-02"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "account\tname\tstatus\tusers\tcreated\tdeactivated\tdeleted\tnotices\texempt\tno email\tdeferred\tfailures\tnot notified\tiam calls\t")
	accounts := slices.Clone(e.Report.Accounts)
	slices.SortFunc(accounts, func(a, b workflow.AccountResult) int { return strings.Compare(a.Account.Name, b.Account.Name) })
	row := func(id, name, status string, c workflow.Counts) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", id, name, status, c.Users, c.KeysCreated,
			c.KeysDeactivated, c.KeysDeleted, c.Notices, c.Exempt, c.NoUsableEmail, c.Deferred, c.Failures, c.NotifyFailures, c.IAMCalls)
	}
	for _, a := range accounts {
		row(a.Account.AccountID, a.Account.Name, string(a.Status), a.Counts)
	}
	row("total", "", "", e.Report.Totals)
	_ = tw.Flush()
	for _, a := range accounts {
		if a.Error != "" {
			fmt.Fprintf(w, "\naccount %s (%s) failed: %s", a.Account.AccountID, a.Account.Name, a.Error)
		}
	}
	fmt.Fprintln(w)
}
