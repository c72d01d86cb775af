package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
)

// newMonitoring alarms the operators on a failed execution and charts the run metrics.
func newMonitoring(stack awscdk.Stack, sm awsstepfunctions.StateMachine, topic awssns.Topic) {
	alarm := awscloudwatch.NewAlarm(stack, jsii.String("ExecutionsFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(FailedAlarmName),
		AlarmDescription:   jsii.String("An execution of the IAM access key rotator failed"),
		Metric:             sm.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))

	metric := func(name string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(name),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Days(jsii.Number(1)),
		})
	}
	// One graph per chart of the run metrics, in the order of contract.RunMetrics, then the
	// failed executions: one row of 24 columns.
	var charts []string
	byChart := map[string][]awscloudwatch.IMetric{}
	for _, m := range contract.RunMetrics {
		if _, seen := byChart[m.Chart]; !seen {
			charts = append(charts, m.Chart)
		}
		byChart[m.Chart] = append(byChart[m.Chart], metric(m.Name))
	}
	width := 24 / float64(len(charts)+1)
	var row []awscloudwatch.IWidget
	for _, chart := range charts {
		left := byChart[chart]
		row = append(row, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("Daily run: " + chart), Left: &left, Width: jsii.Number(width),
		}))
	}
	row = append(row, awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
		Title:   jsii.String("Executions failed (1 day)"),
		Metrics: &[]awscloudwatch.IMetric{sm.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Days(jsii.Number(1)), Statistic: jsii.String("Sum")})},
		Width:   jsii.Number(width),
	}))
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(DashboardName),
		Widgets:       &[]*[]awscloudwatch.IWidget{&row},
	})
}
