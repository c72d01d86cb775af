package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// setup makes the organization: users with one or two keys of any age, most with an email,
// some exempt, some without a usable address, some machine users whose keys go to their
// application's secret (most of those secrets opt in, some do not).
func (s *sim) setup() {
	// The stack's configuration set: NotifyUser sends through it, and it suppresses bounces
	// and complaints whatever the account's settings.
	s.w.SetConfigurationSet(configurationSet, &sestypes.SuppressionOptions{
		SuppressedReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}})
	for a := range s.cfg.Accounts {
		acct := fmt.Sprintf("1000000000%02d", a)
		for u := range s.cfg.Users {
			name := fmt.Sprintf("user%03d", u)
			tags := map[string]string{}
			w := s.cfg.World
			switch r := s.rng.Float64(); {
			case r < w.Email:
				tags["EmailID"] = name + "." + acct + "@" + domain
			case r < w.Email+w.BadEmail:
				tags["EmailID"] = "not an address"
			case r < w.Email+w.BadEmail+w.ForeignEmail:
				tags["EmailID"] = name + "@elsewhere.org"
			}
			if s.chance(w.Exempt) {
				tags["Exempt"] = "true"
			}
			if s.chance(w.RotationDays) {
				tags[policy.RotationDaysTag] = rotationDays[s.rng.IntN(len(rotationDays))]
			}
			must(s.w.CreateUser(acct, name, tags))
			o := &owner{account: acct, user: name, held: map[string]bool{}}
			s.owners[acct+"/"+name] = o
			for range 1 + s.rng.IntN(2) {
				status := types.StatusTypeActive
				if s.chance(w.InactiveKey) {
					status = types.StatusTypeInactive
				}
				created := s.now.AddDate(0, 0, -s.rng.IntN(200))
				id, secretKey, err := s.w.AddKey(acct, name, created, status)
				must(err)
				if s.chance(w.UsedKey) {
					must(s.w.UseKey(acct, id, created.Add(time.Duration(s.rng.Float64()*float64(s.now.Sub(created)))), "s3", "us-east-1"))
				}
				o.held[id] = true
				s.secrets = append(s.secrets, secretKey)
				s.secretOf[id] = secretKey
				if status == types.StatusTypeInactive {
					s.deactivatedOn[id] = -1
				}
			}
			if s.chance(w.MachineUser) {
				s.machineUser(o)
			}
		}
	}
}

// machineUser makes o a machine user: its KeyDelivery tag names the secret app/<user>, which
// holds one of its Active keys and opts in (mostly: some name nobody, or another user).
func (s *sim) machineUser(o *owner) {
	i := slices.IndexFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool { return k.Status == types.StatusTypeActive })
	if i < 0 {
		return
	}
	k := s.w.Keys(o.account, o.user)[i]
	optIn := map[string]string{appsecret.OptInTag: o.user}
	switch r := s.rng.Float64(); {
	case r < 0.1:
		optIn = nil
	case r < 0.2:
		optIn[appsecret.OptInTag] = "someone-else"
	}
	o.app = "app/" + o.user
	must(s.w.SetTag(o.account, o.user, appsecret.DeliveryTag, appsecret.Scheme+o.app))
	must(s.w.CreateAppSecret(o.account, o.app, appValue(k.AccessKeyID, s.secretOf[k.AccessKeyID]), optIn))
}

func appValue(keyID, secretKey string) string {
	b, _ := json.Marshal(appKey{AccessKeyID: keyID, SecretAccessKey: secretKey})
	return string(b)
}

// appKey is what an application reads from its secret.
type appKey struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// appReads is the key o's application reads from its secret, and the secret's tags.
func (s *sim) appReads(o *owner) (appKey, map[string]string) {
	sec, ok := s.w.SecretIn(o.account, o.app)
	if o.app == "" || !ok {
		return appKey{}, nil
	}
	var k appKey
	_ = json.Unmarshal([]byte(sec.Value), &k)
	return k, sec.Tags
}

// deliverable reports whether a new key of o can be delivered: o's owner has a usable
// address and, for a machine user, its secret opts in (one that refuses is, for the rotator,
// like no address: rule 6).
func (s *sim) deliverable(o *owner) bool {
	if s.address(o) == "" {
		return false
	}
	_, tags := s.appReads(o)
	return o.app == "" || tags[appsecret.OptInTag] == o.user
}

// appServed reports whether the rotator must keep o's application running on the key it
// wrote to its secret: a machine user whose key can be delivered, not exempt, not given up.
// (An original key, not written by the rotator, follows the ordinary rules.)
func (s *sim) appServed(o *owner) bool {
	return o.app != "" && s.deliverable(o) && !s.givenUp(o) && !policy.Exempt(s.w.Tags(o.account, o.user), s.policy)
}

// address is the owner's usable address now, or "".
func (s *sim) address(o *owner) string {
	email, _ := policy.OwnerEmail(s.w.Tags(o.account, o.user), s.policy)
	return email
}
