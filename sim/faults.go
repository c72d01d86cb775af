package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// inject decides the fault of one call of the rotator, and checks, before a write takes
// effect, that it may be made.
func (s *sim) inject(c awsmodel.Call) awsmodel.Fault {
	s.now = s.now.Add(50 * time.Millisecond)
	if !s.inRotator {
		return awsmodel.None
	}
	if c.Writes() && c.Operation != "GenerateCredentialReport" && !(c.Service == "S3") {
		s.writes = append(s.writes, fmt.Sprintf("%s %s %s", c.Operation, c.Account, c.Subject()))
	}
	if c.Service == "IAM" && c.Writes() {
		s.check.write(c)
	}
	f := s.cfg.Faults
	if c.Operation == "ListAccessKeys" && s.faults && s.fault(f.OwnerActsDuringScan) {
		s.ownerActsDuringScan(c)
	}
	if in, ok := c.Input.(*secretsmanager.DescribeSecretInput); ok && s.faults && s.fault(f.OptInWithdrawn) {
		// The application team withdraws its secret's opt-in while the rotator is about to
		// write a key to it.
		o := s.owners[c.Account+"/"+strings.TrimPrefix(aws.ToString(in.SecretId), "app/")]
		if _, exists := s.w.SecretIn(c.Account, aws.ToString(in.SecretId)); o != nil && o.app == aws.ToString(in.SecretId) && exists {
			s.res.Faults["opt-in-withdrawn"]++
			must(s.w.SetAppSecretTag(o.account, o.app, appsecret.OptInTag, ""))
		}
	}
	if in, ok := c.Input.(*ssm.ListTagsForResourceInput); ok && s.faults && s.fault(f.OptInWithdrawn) {
		// Likewise for an SSM parameter, whose opt-in the rotator reads with its tags.
		o := s.owners[c.Account+"/"+strings.TrimPrefix(aws.ToString(in.ResourceId), "/app/")]
		if _, exists := s.w.AppParameter(c.Account, aws.ToString(in.ResourceId)); o != nil && paramOf(o) == aws.ToString(in.ResourceId) && exists {
			s.res.Faults["opt-in-withdrawn"]++
			s.setOptIn(o, "")
		}
	}
	if c.Service == "GitHub" && s.faults && strings.HasSuffix(c.Operation, "/variables/"+appsecret.GitHubOptInVariable) && s.fault(f.OptInWithdrawn) {
		// Likewise for a GitHub repository or environment, whose opt-in is its variable.
		s.gitHubOptInWithdrawn(c)
	}
	if c.Service == "IAM" && s.faults && !s.overlapping && s.fault(f.ConsoleRerun) {
		// An operator's console re-run of this account starts while this run writes there.
		s.res.Faults["overlapping-execution"]++
		s.overlapping = true
		s.notifyAll(s.scanAndRotate(workflow.Run{RunID: fmt.Sprintf("console-%d", s.day), Now: s.now}, workflow.Account{AccountID: c.Account, Name: "overlap"}))
		s.overlapping = false
	}
	if !s.faults {
		return awsmodel.None
	}
	if c.Operation == "SendEmail" && s.sesOutage {
		s.res.Faults["ses-outage"]++
		return awsmodel.ServerError
	}
	if in, ok := c.Input.(*s3.PutObjectInput); ok && (in.IfNoneMatch != nil || in.IfMatch != nil) && s.fault(f.S3Conflict) {
		// Another operation on the key races the conditional write: S3 answers 409.
		s.res.Faults[awsmodel.Conflict.String()]++
		return awsmodel.Conflict
	}
	if in, ok := c.Input.(*iam.UntagUserInput); ok && slices.Contains(in.TagKeys, history.PendingTag) && s.fault(f.MarkUntagFails) {
		s.res.Faults["mark-untag-fails"]++
		return awsmodel.ServerError
	}
	if in, ok := c.Input.(*iam.ListAccessKeysInput); ok && s.marked(c.Account, aws.ToString(in.UserName)) && s.fault(f.MarkedUserReadFails) {
		s.res.Faults["marked-user-read-fails"]++
		return awsmodel.Throttle
	}
	if !s.fault(f.Call) {
		return awsmodel.None
	}
	fault := []awsmodel.Fault{awsmodel.Throttle, awsmodel.ServerError, awsmodel.CrashBefore}[s.frng.IntN(3)]
	if c.Writes() && s.fault(0.5) {
		fault = []awsmodel.Fault{awsmodel.LostResponse, awsmodel.Retried}[s.frng.IntN(2)]
	}
	s.res.Faults[fault.String()]++
	return fault
}

// marked reports whether the user carries a pending mark.
func (s *sim) marked(account, user string) bool {
	o := s.owners[account+"/"+user]
	return o != nil && s.tags(o).Get(history.PendingTag) != ""
}
