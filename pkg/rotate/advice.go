package rotate

import (
	"maps"
	"slices"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
)

// judged is what the evidence shows of one user's keys: their use (advice.Classify), and
// whether one of them is active.
type judged struct {
	use    advice.Use
	active bool
}

// judge classifies keys, read with the given KeyDelivery tag value ("" when unread) and
// console password.
func judge(delivery string, console bool, keys []policy.Key, usage []policy.Usage) judged {
	return judged{use: advice.Classify(advice.Evidence{Delivery: delivery, Console: console, Keys: usage}),
		active: slices.ContainsFunc(keys, func(k policy.Key) bool { return k.Status == policy.Active })}
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
// with an active key by use (workflow.Counts.UsersWithKeys): a user read in full by its fresh
// read, any other by its credential report (or listing) row, whose tags the run did not read.
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
	for _, j := range all {
		if j.active {
			counts[j.use]++
		}
	}
	e.res.Counts.UsersWithKeys = counts
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
