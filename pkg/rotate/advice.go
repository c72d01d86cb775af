package rotate

import (
	"maps"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// judged is what the evidence shows of one user's keys: their use (advice.Classify), and
// when its active keys were created.
type judged struct {
	use     advice.Use
	active  bool
	created []time.Time // of the active keys
}

// judge classifies keys, read with the given KeyDelivery tag value ("" when unread) and
// console password.
func judge(delivery string, console bool, keys []policy.Key, usage []policy.Usage) judged {
	j := judged{use: advice.Classify(advice.Evidence{Delivery: delivery, Console: console, Keys: usage})}
	for _, k := range keys {
		if k.Status == policy.Active {
			j.active = true
			j.created = append(j.created, k.CreateDate)
		}
	}
	return j
}

// judgeRead classifies a user read in full: its fresh keys and KeyDelivery tag, and its
// credential report row's console password (none without a row). Nothing is asked of AWS.
func (e *execution) judgeRead(u policy.User) advice.Use {
	usage := make([]policy.Usage, len(u.Keys))
	for i, k := range u.Keys {
		usage[i] = k.Usage()
	}
	j := judge(u.Tags.Get(appsecret.DeliveryTag), e.rows[u.UserName].Console, u.Keys, usage)
	e.judgedRead[u.UserName] = j
	return j.use
}

// advise gives each user of the result the advice for its use, and counts the account's users
// with an active key by use (workflow.Counts.UsersWithKeys) and its active keys by age
// (Counts.KeyAges): a user read in full by its fresh read, any other by its credential report
// (or listing) row, whose tags the run did not read.
func (e *execution) advise() {
	all := maps.Clone(e.judgedRead)
	for name, row := range e.rows {
		if _, read := all[name]; !read {
			all[name] = judge("", row.Console, row.Keys, row.Usage())
		}
	}
	counts := map[advice.Use]int{}
	for _, use := range advice.Uses {
		counts[use] = 0
	}
	ages := make([]int, workflow.KeyAgeBuckets)
	for _, j := range all {
		if j.active {
			counts[j.use]++
		}
		for _, t := range j.created {
			ages[workflow.KeyAgeBucket(policy.AgeDays(t, e.run.Now))]++
		}
	}
	e.res.Counts.UsersWithKeys = counts
	e.res.Counts.KeyAges, e.res.Counts.KeyAgeLimit = ages, e.cfg.LimitDays
	for i := range e.res.Users {
		if j, ok := all[e.res.Users[i].UserName]; ok {
			e.res.Users[i].Advice = advice.For(j.use)
		}
	}
}

// rowsByName indexes the scan's rows by user name.
func rowsByName(rows []scan.ReportUser) map[string]scan.ReportUser {
	out := make(map[string]scan.ReportUser, len(rows))
	for _, r := range rows {
		out[r.UserName] = r
	}
	return out
}
