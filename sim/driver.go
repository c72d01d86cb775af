package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// daily is one day's runs: most days the scheduled execution (sometimes overlapped by a
// console re-run of one account), some days none; then, without faults, a re-run that
// finishes what failed, and a second that must write and send nothing.
func (s *sim) daily() {
	f := s.cfg.Faults
	if s.fault(f.MissedDay) {
		s.res.Faults["missed-day"]++
		s.pendingHolds, s.pendingReleases = nil, nil // the operator's execution: on another day
	} else {
		s.placeHolds(fmt.Sprintf("run-%d", s.day))
		s.faults = true
		overlap := s.fault(f.Overlap)
		if overlap {
			s.res.Faults["overlapping-execution"]++
		}
		s.execution(fmt.Sprintf("run-%d", s.day), overlap)
		s.faults = false
		s.check.told.days.ranOn = s.day
	}
	// The checking re-runs are the driver's, not the world's nor a fault: the workload draws them.
	clean := s.chance(0.25)
	if clean {
		s.now = s.now.Add(30 * time.Minute)
		s.execution(fmt.Sprintf("rerun-%d", s.day), false)
		s.check.told.days.ranOn = s.day
		s.now = s.now.Add(10 * time.Minute)
		s.writes = nil
		s.execution(fmt.Sprintf("check-%d", s.day), false)
		s.check.runs.rerunWroteNothing()
	}
	s.check.afterDay(clean)
}

// execution runs one Step Functions execution over every account: ScanAndRotate, then
// NotifyUser for each notification, each retried as the ASL retries them. With overlap, a
// second execution scans one account between the first one's scan and its notifications.
func (s *sim) execution(runID string, overlap bool) {
	run := workflow.Run{RunID: runID, Now: s.now}
	// ListAccounts checks SES's suppression settings once per execution.
	problem, err := suppression.Check(context.Background(), s.w.SES(), s.settings.SESConfigurationSet)
	if err != nil {
		problem = "SES's suppression settings could not be read: " + err.Error()
	}
	run.BouncesSuppressed, run.BounceProblem = problem == "", problem
	for a := range s.cfg.Accounts {
		acct := workflow.Account{AccountID: fmt.Sprintf("1000000000%02d", a), Name: fmt.Sprintf("account-%d", a)}
		notes := s.scanAndRotate(run, acct)
		if overlap && a == 0 {
			other := run
			other.RunID = runID + "-console"
			s.notifyAll(s.scanAndRotate(other, acct))
		}
		s.notifyAll(notes)
		s.now = s.now.Add(time.Second)
	}
}

// scanAttempts and notifyAttempts are how often ScanAndRotate and NotifyUser are tried: a
// retryable error or a crash is retried as the ASL's Retry does.
var (
	scanAttempts   = statemachine.Attempts("ScanAndRotate")
	notifyAttempts = statemachine.Attempts("NotifyUser")
)

func (s *sim) scanAndRotate(run workflow.Run, acct workflow.Account) []workflow.Notification {
	r := rotate.New(s.settings, rotate.Clients{IAM: s.w.IAM(acct.AccountID), AppSecrets: s.w.MemberSecretsIn(acct.AccountID), AppParams: s.w.MemberParamsIn(acct.AccountID),
		GitHub: s.gitHubApp(), Secrets: s.w.Secrets(), SES: s.w.SES(), S3: s.w.S3()}, s.seal, s.log)
	// The simulation's clock, and no real waits.
	r.Clock, r.Leases.Clock = s.clock, s.clock
	r.Leases.Sleep = func(d time.Duration) { s.now = s.now.Add(d) }
	r.Scanner.PollInterval = time.Nanosecond
	var notes []workflow.Notification
	for attempt := 1; attempt <= scanAttempts; attempt++ {
		var res workflow.AccountResult
		var err error
		crashed := s.lambda(func() { res, notes, err = r.Process(context.Background(), run, acct) })
		s.emit(res, notes, err)
		s.check.runs.account(acct, err)
		if crashed || err != nil && workflow.IsRetryable(err) {
			notes = nil
			continue
		}
		// Its response lost, a Lambda that succeeded is run again by Step Functions.
		if s.faults && s.fault(s.cfg.Faults.ScanRetried) {
			s.res.Faults["sfn-retry-after-success"]++
			continue
		}
		break
	}
	return notes
}

func (s *sim) notifyAll(notes []workflow.Notification) {
	for _, n := range notes {
		for _, notice := range n.Notices {
			s.writes = append(s.writes, fmt.Sprintf("notice %s %s to %s", notice.Kind, notice.AccessKeyID, n.UserName))
		}
		if n.NewKey != nil {
			s.writes = append(s.writes, fmt.Sprintf("new key %s to %s", n.NewKey.AccessKeyID, n.UserName))
		}
		d := notify.New(s.settings, notify.Clients{Secrets: s.w.Secrets(), SES: s.w.SES(),
			History:    func(accountID string) history.TagAPI { return s.w.IAM(accountID) },
			AppSecrets: func(accountID string) appsecret.API { return s.w.MemberSecretsIn(accountID) },
			AppParams:  func(accountID string) appsecret.ParamAPI { return s.w.MemberParamsIn(accountID) }, GitHub: s.gitHubApp()}, s.seal, s.log)
		d.Now = s.clock
		for attempt := 1; attempt <= notifyAttempts; attempt++ {
			var out notify.Delivery
			var err error
			crashed := s.lambda(func() { out, err = d.Handle(context.Background(), n) })
			s.emit(out, nil, err)
			if err != nil && !s.faults {
				s.writes = append(s.writes, "NotifyUser failed: "+err.Error())
			}
			s.readMail()
			if !crashed && (err == nil || !workflow.IsRetryable(err)) {
				if err == nil && s.faults && s.fault(s.cfg.Faults.NotifyRetried) {
					s.res.Faults["sfn-retry-after-success"]++
					continue
				}
				break
			}
		}
	}
}

// lambda runs one invocation, reporting whether it crashed (a Crash panic from the model).
func (s *sim) lambda(f func()) (crashed bool) {
	outer := s.inRotator
	s.inRotator = true
	defer func() {
		s.inRotator = outer
		if p := recover(); p != nil {
			if _, ok := p.(awsmodel.Crash); !ok {
				panic(p)
			}
			crashed = true
		}
	}()
	f()
	return false
}

func (s *sim) emit(v any, notes []workflow.Notification, err error) {
	if res, ok := v.(workflow.AccountResult); ok {
		for _, u := range res.Users {
			s.lastPlan[res.Account.AccountID+"/"+u.UserName] = u
		}
	}
	b, _ := json.Marshal(v)
	s.emitted.Write(b)
	b, _ = json.Marshal(notes)
	s.emitted.Write(b)
	if err != nil {
		s.emitted.WriteString(err.Error())
	}
	for _, n := range notes {
		for _, notice := range n.Notices {
			if notice.Kind == policy.DeactivationScheduled {
				if _, ok := s.warnDue[notice.AccessKeyID]; !ok {
					s.warnDue[notice.AccessKeyID] = notice.ActBy
				}
			}
		}
		if n.NewKey != nil {
			if _, ok := s.warnDue[n.NewKey.ReplacesAccessKeyID]; !ok {
				s.warnDue[n.NewKey.ReplacesAccessKeyID] = n.NewKey.DeactivateOn
			}
		}
	}
}
