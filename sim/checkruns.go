package sim

import (
	"fmt"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// runChecks keep the invariants of the runs themselves: a fault-free run completes every
// account, S3's 409 is retried, and a same-day re-run writes and sends nothing.
type runChecks struct{ *sim }

// account: an account fails a run only on faults. A run without injected faults
// completes every account (a report in either casing is read, no lease is held by another
// run), and no run fails on S3's 409 ConditionalRequestConflict, which AWS asks to retry.
func (s runChecks) account(acct workflow.Account, err error) {
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "ConditionalRequestConflict"):
		s.violate("a conditional write's 409 is retried, not fatal", fmt.Sprintf("%s: %v", acct.AccountID, err))
	case !s.faults && !s.overlapping:
		s.violate("a fault-free run completes every account", fmt.Sprintf("%s: %v", acct.AccountID, err))
	}
}

// rerunWroteNothing: a same-day re-run (the third run of a day) writes and sends nothing.
func (s runChecks) rerunWroteNothing() {
	if len(s.writes) > 0 {
		s.violate("same-day re-run writes nothing", fmt.Sprintf("day-%d: a third run made writes or sends: %s", s.day, strings.Join(s.writes, "; ")))
	}
}
