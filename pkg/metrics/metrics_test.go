package metrics

import (
	"slices"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TestRunsAreDistinctAndEachReadsItsOwnCount: a report whose counts are all different gives
// each metric a different value, so no two metrics read the same count by mistake.
func TestRunsAreDistinctAndEachReadsItsOwnCount(t *testing.T) {
	r := workflow.Report{FailedAccounts: 1, Totals: workflow.Counts{KeysCreated: 2, KeysDeactivated: 3, KeysDeleted: 4,
		Notices: 5, Failures: 6, NotifyFailures: 7, IAMCalls: 8}}
	var values []int
	for _, m := range Runs {
		if m.Name == "" || m.Chart == "" || m.Value == nil {
			t.Errorf("metric %+v: want a name, a chart and a value", m)
			continue
		}
		if v := m.Value(r); slices.Contains(values, v) {
			t.Errorf("%s reads the same count (%d) as another metric", m.Name, v)
		} else {
			values = append(values, v)
		}
	}
	if names := Names(); len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("metric names %v: want distinct", names)
	}
}
