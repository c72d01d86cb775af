package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

// BENCHMARKS.md keeps a table of runs by size: one row for each organization size, from the
// last run at that size. A run rewrites the file with its own figures and its own row, and
// keeps the other sizes' rows of the file it replaces (KeepSizes), so that the growth from
// one size to another is measured, not projected.
const sizesHeading = "## By size"

// sizesHeader is the table's header: a row of a file with another header is not kept.
const sizesHeader = "| accounts (mixed, notice users, quiet users) | run | accounts done | the execution | the whole benchmark | largest payload, bytes | most events in one execution | IAM/STS calls per account: rotator | per-user scan | state transitions per account | emails | cost per 1,000 accounts: this run | an ordinary day |"

// sizeKey is the first cell of a size's row: the organization.
func (r *Result) sizeKey(f Figures) string {
	s := r.Options.Size
	return fmt.Sprintf("%s (%s, %s, %s)", thousands(float64(f.Accounts)), thousands(float64(s.Accounts)), thousands(float64(s.NoticeUsers)), thousands(float64(s.QuietUsers)))
}

// sizeRow is the run's row of the table by size.
func (r *Result) sizeRow(f Figures) string {
	per := func(v float64) string { return fmt.Sprintf("%.2f", v/float64(max(f.Accounts, 1))) }
	run := r.Date.Format(time.DateOnly)
	if r.Commit != "" {
		run += " at " + r.Commit
	}
	cells := []string{r.sizeKey(f), run, fmt.Sprintf("%d of %d", f.Done, f.Accounts),
		fmt.Sprintf("%s (%s)", r.Run.Round(time.Second), strings.ToLower(r.Status)), r.Total.Round(time.Second).String(),
		fmt.Sprint(r.Stats.LargestPayload), fmt.Sprint(r.Stats.MostEvents),
		per(float64(f.RotatorCalls)), per(float64(f.PerUserCalls)), per(float64(r.Stats.Transitions)), fmt.Sprint(r.Emails),
		usd(f.per1000(f.Cost)), usd(r.OrdinaryDay(f).Per1000())}
	return "| " + strings.Join(cells, " | ") + " |"
}

// KeepSizes keeps the rows of the table by size in previous (the BENCHMARKS.md the run
// replaces; nil: none) for the sizes other than the run's, and returns how many it kept. A
// table with other columns is not kept: the error says so.
func (r *Result) KeepSizes(previous []byte) (int, error) {
	r.otherSizes = nil
	own := r.sizeKey(r.Figures())
	sc := bufio.NewScanner(bytes.NewReader(previous))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	in, header := false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == sizesHeading:
			in = true
		case !in:
		case strings.HasPrefix(line, "## "):
			in = false
		case !header && strings.HasPrefix(line, "|"):
			if line != sizesHeader {
				return 0, fmt.Errorf("the table by size has other columns (%q): its rows are not kept", line)
			}
			header = true
		case header && strings.HasPrefix(line, "|---"):
		case header && strings.HasPrefix(line, "|"):
			key, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
			if key != own {
				r.otherSizes = append(r.otherSizes, line)
			}
		}
	}
	return len(r.otherSizes), sc.Err()
}

// writeSizes writes the table by size: the kept rows and the run's, by number of accounts.
func (r *Result) writeSizes(w io.Writer, f Figures) {
	rows := append(slices.Clone(r.otherSizes), r.sizeRow(f))
	accounts := func(row string) int {
		n, _ := strconv.Atoi(strings.ReplaceAll(strings.Fields(strings.TrimPrefix(row, "|"))[0], ",", ""))
		return n
	}
	slices.SortStableFunc(rows, func(a, b string) int { return accounts(a) - accounts(b) })
	fmt.Fprintln(w, sizesHeading)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "One row for each size of organization, from the last run at that size (`make bench-scale")
	fmt.Fprintln(w, "ACCOUNTS=N`: N mixed accounts; the notice and quiet accounts and the management account besides),")
	fmt.Fprintln(w, "kept when a run at another size rewrites this file. Calls, state transitions and cost are per")
	fmt.Fprintln(w, "account (or per 1,000) of the whole organization; the largest payload and the most history events")
	fmt.Fprintf(w, "are the run's largest of one execution (Step Functions' limits: %d bytes, %d events).\n", runner.PayloadLimit, runner.HistoryLimit)
	fmt.Fprintf(w, "The sections after this table are the run of %s at %s accounts.\n", r.Date.Format(time.DateOnly), thousands(float64(f.Accounts)))
	fmt.Fprintln(w)
	fmt.Fprintln(w, sizesHeader)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range rows {
		fmt.Fprintln(w, row)
	}
}
