// Package preflight checks, read-only, what the rotator's first real deployment depends on
// and its local stand-in cannot show: SES out of its sandbox and able to tell bounces, the
// organization ready for the member role's StackSet. Each check ends in a verdict and, when
// it does not pass, the exact fix. `keyrotator preflight` runs them with the operator's own
// credentials, before the first deploy and at any time after.
package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Verdict is a check's outcome.
type Verdict string

const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// CannotTell: the check could not read what it needs (an error, a setting not given);
	// the detail says what, and the fix how to let it tell.
	CannotTell Verdict = "cannot-tell"
)

// Result is one check's outcome: what it found and, unless it passed, how to fix it.
type Result struct {
	Check   string  `json:"check"`
	Verdict Verdict `json:"verdict"`
	Detail  string  `json:"detail"`
	Fix     string  `json:"fix,omitempty"`
}

func pass(check, detail string) Result { return Result{Check: check, Verdict: Pass, Detail: detail} }

func fail(check, detail, fix string) Result {
	return Result{Check: check, Verdict: Fail, Detail: detail, Fix: fix}
}

func cannotTell(check string, err error, fix string) Result {
	return Result{Check: check, Verdict: CannotTell, Detail: err.Error(), Fix: fix}
}

// A Check reads one thing and judges it.
type Check func(context.Context) Result

// Run runs the checks in order and returns their results.
func Run(ctx context.Context, checks []Check) []Result {
	out := make([]Result, 0, len(checks))
	for _, c := range checks {
		out = append(out, c(ctx))
	}
	return out
}

// Failed says whether any check failed (a check that cannot tell is not a failure: the
// operator decides).
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Verdict == Fail {
			return true
		}
	}
	return false
}

// WriteText writes one block per check: its verdict and name, what it found, and the fix.
func WriteText(w io.Writer, results []Result) error {
	var b strings.Builder
	counts := map[Verdict]int{}
	for _, r := range results {
		counts[r.Verdict]++
		fmt.Fprintf(&b, "%-11s %s\n            %s\n", r.Verdict, r.Check, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(&b, "            fix: %s\n", r.Fix)
		}
	}
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d fail, %d cannot tell\n", len(results), counts[Pass], counts[Fail], counts[CannotTell])
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the results as one JSON document, for CI.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Failed  bool     `json:"failed"`
		Results []Result `json:"results"`
	}{Failed(results), results})
}
