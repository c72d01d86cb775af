// Package metrics names the run metrics: CleanupReport emits each (pkg/report, as a CloudWatch
// embedded-metric-format log line, which needs no API permission) and the CDK app's dashboard
// charts each (infra/contract). It imports no SDK client, so the CDK app can range over it.
package metrics

import "github.com/keyrotator/iam-access-key-rotator/pkg/workflow"

// Namespace holds the run metrics.
const Namespace = "IAMKeyRotator"

// Run is a dimension-less count per run in Namespace, taken from the run's report.
type Run struct {
	Name string
	// Chart is the dashboard graph that shows it (one graph per Chart, in order of first use).
	Chart string
	Value func(workflow.Report) int
}

// The dashboard's graphs of the run metrics.
const (
	KeysChart     = "Keys and notices"
	FailuresChart = "Failures"
	CallsChart    = "IAM calls"
)

// Runs is every run metric, in the order the dashboard lists them.
var Runs = []Run{
	{"KeysCreated", KeysChart, func(r workflow.Report) int { return r.Totals.KeysCreated }},
	{"KeysDeactivated", KeysChart, func(r workflow.Report) int { return r.Totals.KeysDeactivated }},
	{"KeysDeleted", KeysChart, func(r workflow.Report) int { return r.Totals.KeysDeleted }},
	{"NoticesSent", KeysChart, func(r workflow.Report) int { return r.Totals.Notices }},
	{"AccountsFailed", FailuresChart, func(r workflow.Report) int { return r.FailedAccounts }},
	{"UserFailures", FailuresChart, func(r workflow.Report) int { return r.Totals.Failures }},
	{"NotifyFailures", FailuresChart, func(r workflow.Report) int { return r.Totals.NotifyFailures }},
	{"IAMCalls", CallsChart, func(r workflow.Report) int { return r.Totals.IAMCalls }},
}

// Names lists the names of Runs, in order.
func Names() []string {
	names := make([]string, len(Runs))
	for i, m := range Runs {
		names[i] = m.Name
	}
	return names
}
