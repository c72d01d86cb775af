package report

import (
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TestReportListsActiveHolds: every report (its CSV) and the support email list the
// operators' active holds, which bring the support email on their own.
func TestReportListsActiveHolds(t *testing.T) {
	placed := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	doc := Document{Run: workflow.Run{RunID: "run-2", Now: placed.AddDate(0, 0, 1)}, Holds: []hold.Hold{{Account: "111122223333", User: "ci-bot",
		AccessKeyID: "AKIAOLD", Until: "2026-12-20", Reason: "INC-4711", PlacedBy: "run-1", PlacedAt: placed}}}
	if !needsHuman(doc) {
		t.Error("an active hold does not bring the support email")
	}
	want := "111122223333/ci-bot until 2026-12-20 (INC-4711), key AKIAOLD, placed by execution run-1 on 2026-12-07"
	summary := strings.Join(supportSummary(doc, workflow.Report{JSONKey: "reports/run-2/report.json"}, "bucket"), "\n")
	for _, w := range []string{"Active holds: 1", "Hold: " + want} {
		if !strings.Contains(summary, w) {
			t.Errorf("support summary lacks %q:\n%s", w, summary)
		}
	}
	if table := string(CSV(doc)); !strings.Contains(table, "ci-bot,held,Hold,AKIAOLD") || !strings.Contains(table, want) {
		t.Errorf("report.csv lacks the hold:\n%s", table)
	}
}
