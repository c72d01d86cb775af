package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
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
				tags[s.spell("EmailID")] = name + "." + acct + "@" + domain
			case r < w.Email+w.BadEmail:
				tags[s.spell("EmailID")] = "not an address"
			case r < w.Email+w.BadEmail+w.ForeignEmail:
				tags[s.spell("EmailID")] = name + "@elsewhere.org"
			}
			if s.chance(w.Exempt) {
				tags[s.spell("Exempt")] = "true"
			}
			if s.chance(w.RotationDays) {
				tags[s.spell(policy.RotationDaysTag)] = rotationDays[s.rng.IntN(len(rotationDays))]
			}
			must(s.w.CreateUser(acct, name, tags))
			o := &owner{account: acct, user: name, held: map[string]bool{}, actedOn: -1, shortenedOn: -1, noticesForgedOn: -1}
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
			if s.chance(w.ManyTags) {
				s.happened("user-with-many-tags")
				for i, n := 0, 45+s.rng.IntN(6)-len(s.w.Tags(acct, name)); i < n; i++ {
					must(s.w.SetTag(acct, name, fmt.Sprintf("CostCenter%02d", i), "4711"))
				}
			}
		}
		// The account's credential report in the IAM user guide's casing (TRUE/FALSE) or in
		// the one seen in reports (true/false).
		if s.chance(s.cfg.World.DocumentedReportCase) {
			s.happened("report-in-documented-case")
			s.w.DocumentedReportCase(acct, true)
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
	o.iac = appValue(k.AccessKeyID, s.secretOf[k.AccessKeyID])
	if w := s.cfg.World; w.ParamStore > 0 && s.chance(w.ParamStore) {
		s.happened("machine-user-delivered-to-ssm")
		o.app = appsecret.ParamScheme + "/app/" + o.user
		must(s.w.SetTag(o.account, o.user, s.spell(appsecret.DeliveryTag), appsecret.TagValue(o.app)))
		must(s.w.CreateAppParameter(o.account, paramOf(o), "SecureString", o.iac, optIn))
		if s.chance(w.SecretWriteDenied) {
			s.happened("parameter-write-denied-by-" + awsmodel.DenyByKMSKey)
			must(s.w.DenyMemberParamWrites(o.account, paramOf(o), awsmodel.DenyByKMSKey))
		}
		return
	}
	if w := s.cfg.World; w.GitHubStore > 0 && s.chance(w.GitHubStore) {
		s.gitHubUser(o, optIn)
		return
	}
	must(s.w.SetTag(o.account, o.user, s.spell(appsecret.DeliveryTag), appsecret.Scheme+o.app))
	must(s.w.CreateAppSecret(o.account, o.app, o.iac, optIn))
	if s.chance(s.cfg.World.SecretWriteDenied) {
		by := []string{awsmodel.DenyByKMSKey, awsmodel.DenyByResourcePolicy}[s.rng.IntN(2)]
		s.happened("secret-write-denied-by-" + by)
		must(s.w.DenyMemberWrites(o.account, o.app, by))
	}
}

// paramOf is the name of o's SSM parameter, "" when o's keys go elsewhere.
func paramOf(o *owner) string {
	name, _ := strings.CutPrefix(o.app, appsecret.ParamScheme)
	if name == o.app {
		return ""
	}
	return name
}

// appStore is a machine user's secret or SSM parameter as the world holds it.
type appStore struct {
	Value string
	Tags  map[string]string
	// Scheduled: a secret scheduled for deletion (a parameter is deleted at once).
	Scheduled   bool
	WriteDenied string
}

// store is o's secret or parameter, and whether it exists.
func (s *sim) store(o *owner) (appStore, bool) {
	if o.app == "" {
		return appStore{}, false
	}
	if t, ok := gitHubOf(o); ok {
		return s.gitHubStore(o, t)
	}
	if name := paramOf(o); name != "" {
		p, ok := s.w.AppParameter(o.account, name)
		return appStore{Value: p.Value, Tags: p.Tags, WriteDenied: p.MemberWriteDenied}, ok
	}
	sec, ok := s.w.SecretIn(o.account, o.app)
	return appStore{Value: sec.Value, Tags: sec.Tags, Scheduled: sec.DeletedDate != nil, WriteDenied: sec.MemberWriteDenied}, ok
}

// setOptIn sets (or with "" removes) the opt-in tag of o's store: the application team's side.
func (s *sim) setOptIn(o *owner, value string) {
	if t, ok := gitHubOf(o); ok {
		s.gitHubOptIn(o, t, value)
		return
	}
	if name := paramOf(o); name != "" {
		must(s.w.SetAppParameterTag(o.account, name, appsecret.OptInTag, value))
		return
	}
	must(s.w.SetAppSecretTag(o.account, o.app, appsecret.OptInTag, value))
}

// paramApplication: application's acts on an SSM parameter (see application).
func (s *sim) paramApplication(o *owner) {
	w, name := s.cfg.World, paramOf(o)
	p, ok := s.w.AppParameter(o.account, name)
	if !ok { // deleted by its application: its IaC makes it again
		if s.chance(w.AppRestoresSecret) && s.w.CreateAppParameter(o.account, name, "SecureString", o.iac, map[string]string{appsecret.OptInTag: o.user}) == nil {
			s.happened("app-recreates-parameter")
		}
		return
	}
	switch {
	case p.MemberWriteDenied != "" && s.chance(w.SecretWriteFixed):
		s.happened("parameter-write-allowed")
		must(s.w.DenyMemberParamWrites(o.account, name, ""))
	case s.chance(w.AppRewritesSecret):
		s.happened("app-rewrites-parameter")
		must(s.w.WriteAppParameter(o.account, name, p.Value))
	case s.chance(w.AppRevertsSecret):
		s.happened("app-reverts-parameter")
		must(s.w.WriteAppParameter(o.account, name, o.iac))
	case s.chance(w.AppDeletesSecret):
		s.happened("app-deletes-parameter")
		s.w.DeleteAppParameter(o.account, name)
	}
}

// application: a machine user's application team acts on its secret, before the daily run.
func (s *sim) application(o *owner) {
	w := s.cfg.World
	if o.app == "" {
		return
	}
	if paramOf(o) != "" {
		s.paramApplication(o)
		return
	}
	if t, ok := gitHubOf(o); ok {
		s.gitHubApplication(o, t)
		return
	}
	sec, ok := s.w.SecretIn(o.account, o.app)
	if !ok { // deleted for good at the end of its recovery window: its IaC makes it again
		if s.chance(w.AppRestoresSecret) && s.w.CreateAppSecret(o.account, o.app, o.iac, map[string]string{appsecret.OptInTag: o.user}) == nil {
			s.happened("app-recreates-secret")
		}
		return
	}
	switch {
	case sec.MemberWriteDenied != "" && s.chance(w.SecretWriteFixed):
		s.happened("secret-write-allowed")
		must(s.w.DenyMemberWrites(o.account, o.app, ""))
	case sec.DeletedDate != nil:
		if s.chance(w.AppRestoresSecret) {
			s.happened("app-restores-secret")
			must(s.w.RestoreAppSecret(o.account, o.app))
		}
	case s.chance(w.AppRewritesSecret):
		s.happened("app-rewrites-secret")
		must(s.w.WriteAppSecret(o.account, o.app, sec.Value))
	case s.chance(w.AppRevertsSecret):
		s.happened("app-reverts-secret")
		must(s.w.WriteAppSecret(o.account, o.app, o.iac))
	case s.chance(w.AppDeletesSecret):
		s.happened("app-deletes-secret")
		must(s.w.DeleteAppSecret(o.account, o.app, 7+s.rng.IntN(24)))
	}
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
	sec, ok := s.store(o)
	if !ok {
		return appKey{}, nil
	}
	var k appKey
	_ = json.Unmarshal([]byte(sec.Value), &k)
	return k, sec.Tags
}

// deliverable reports whether a new key of o can be delivered: o's owner has a usable
// address and, for a machine user, its secret opts in and is not scheduled for deletion (one
// that refuses takes no new key: its owner is told, docs/policy.md rule 6).
func (s *sim) deliverable(o *owner) bool {
	if s.address(o) == "" {
		return false
	}
	if o.app == "" {
		return true
	}
	sec, ok := s.store(o)
	return ok && !sec.Scheduled && sec.Tags[appsecret.OptInTag] == o.user // a secret scheduled for deletion takes no key
}

// appServed reports whether the rotator must keep o's application running on the key it
// wrote to its secret: a machine user whose key can be delivered, not exempt, not given up.
// (An original key, not written by the rotator, follows the ordinary rules.)
func (s *sim) appServed(o *owner) bool {
	return o.app != "" && s.deliverable(o) && !s.givenUp(o) && !policy.Exempt(s.tags(o), s.policy)
}

// spell is how an owner or administrator spells a tag key: as documented, or (World.TagKeyCase)
// in another case, which IAM takes for the same key.
func (s *sim) spell(key string) string {
	if !s.chance(s.cfg.World.TagKeyCase) {
		return key
	}
	s.happened("tag-key-in-another-case")
	switch s.rng.IntN(3) {
	case 0:
		return strings.ToLower(key)
	case 1:
		return strings.ToUpper(key)
	}
	return strings.ToLower(key[:1]) + strings.ToUpper(key[1:])
}

// tags are the owner's user's tags now, each tag the rotator reads under its documented key
// however the user spells it: the checker's own reading of IAM's case-insensitive keys
// (strings.EqualFold), not the rotator's (policy.Tags), so that a rotator reading them
// otherwise is caught.
func (s *sim) tags(o *owner) policy.Tags {
	known := append([]string{s.policy.ExemptTagKey, policy.RotationDaysTag, appsecret.DeliveryTag,
		history.NoticesTag, history.PendingTag, history.DeactivatedTag, history.UndeliverableTag}, s.policy.EmailTagKeys...)
	out := policy.Tags{}
	for k, v := range s.w.Tags(o.account, o.user) {
		if i := slices.IndexFunc(known, func(d string) bool { return strings.EqualFold(d, k) }); i >= 0 {
			k = known[i]
		}
		out[k] = v
	}
	return out
}

// address is the owner's usable address now, or "".
func (s *sim) address(o *owner) string {
	email, _ := policy.OwnerEmail(s.tags(o), s.policy)
	return email
}
