package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// ScheduleAPI reads the daily schedule's rule, in the rotator's account.
type ScheduleAPI interface {
	DescribeRule(context.Context, *eventbridge.DescribeRuleInput, ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
}

// ExecutionsAPI lists the state machine's executions, in the rotator's account.
type ExecutionsAPI interface {
	sfn.ListExecutionsAPIClient
}

// notDeployed is the fix of a deployed-stack check before the first deploy.
const notDeployed = "deploy the stacks (npx cdk deploy --all), then run preflight again"

// Schedule passes when the daily schedule's rule is enabled.
func Schedule(api ScheduleAPI, rule string) Check {
	return func(ctx context.Context) Result {
		const name = "daily schedule"
		out, err := api.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule)})
		var notFound *ebtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			return cannotTell(name, fmt.Errorf("the rule %s does not exist yet", rule), notDeployed)
		case err != nil:
			return cannotTell(name, fmt.Errorf("EventBridge DescribeRule %s: %w", rule, err), "allow events:DescribeRule to the credentials preflight runs with")
		case out.State != ebtypes.RuleStateEnabled:
			return fail(name, fmt.Sprintf("the rule %s is %s: no daily run starts", rule, out.State), "aws events enable-rule --name "+rule)
		}
		return pass(name, fmt.Sprintf("the rule %s starts a run on %s", rule, aws.ToString(out.ScheduleExpression)))
	}
}

// RecentRuns passes when none of the state machine's executions of the last week failed,
// timed out or was aborted; it names those that did, newest first.
func RecentRuns(api ExecutionsAPI, stateMachineARN string, now time.Time) Check {
	return func(ctx context.Context) Result {
		const name = "recent runs"
		since := now.AddDate(0, 0, -7)
		var bad []string
		succeeded, running := 0, 0
		p := sfn.NewListExecutionsPaginator(api, &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN)})
	pages:
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			var notFound *sfntypes.StateMachineDoesNotExist
			switch {
			case errors.As(err, &notFound):
				return cannotTell(name, fmt.Errorf("the state machine %s does not exist yet", stateMachineARN), notDeployed)
			case err != nil:
				return cannotTell(name, fmt.Errorf("list the state machine's executions (states:ListExecutions): %w", err), "allow states:ListExecutions to the credentials preflight runs with")
			}
			for _, e := range page.Executions { // newest first
				if aws.ToTime(e.StartDate).Before(since) {
					break pages
				}
				switch e.Status {
				case sfntypes.ExecutionStatusSucceeded:
					succeeded++
				case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
					running++
				default:
					bad = append(bad, fmt.Sprintf("%s %s on %s", aws.ToString(e.Name), e.Status, aws.ToTime(e.StartDate).UTC().Format(time.DateOnly)))
				}
			}
		}
		if len(bad) > 0 {
			return fail(name, fmt.Sprintf("%d runs of the last 7 days did not succeed: %s (%d succeeded, %d running)", len(bad), strings.Join(head(bad), "; "), succeeded, running),
				"read each one's failure on the failure topic or with aws stepfunctions describe-execution --execution-arn <its ARN> "+
					"(docs/operations.md, \"What each message on the failure topic means\")")
		}
		if succeeded == 0 && running == 0 {
			return pass(name, "no run in the last 7 days yet")
		}
		return pass(name, fmt.Sprintf("%d runs of the last 7 days succeeded, %d running", succeeded, running))
	}
}
