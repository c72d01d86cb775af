package sim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

var (
	secretKeyID      = regexp.MustCompile(`handoff/\d+/[^/]+/(AKIA[A-Z0-9]{16})`)
	zipSubject       = regexp.MustCompile(`^New AWS access key (AKIA[A-Z0-9]+) `)
	passwordSubject  = regexp.MustCompile(`^Password for the new AWS access key (AKIA[A-Z0-9]+) `)
	secretKeySubject = regexp.MustCompile(`^New access key (AKIA[A-Z0-9]+) of IAM user \S+ in account .+ is in (?:secret|SSM parameters?|GitHub secrets) `)
	warnSubject      = regexp.MustCompile(`^AWS access key (AKIA[A-Z0-9]+) of IAM user \S+ in account .+ will be deactivated`)
	passwordLine     = regexp.MustCompile(`(?m)^\s*([A-Za-z0-9!#$%&*+\-=?@^_~]{20,})\s*$`)
)

// readMail reads the messages SES accepted since the last look: what reached the owner (not
// bounced) counts as received. A message is its key's owner's whatever notification sent it
// (an overlapping execution's NotifyUser may run inside another's).
func (s *sim) readMail() {
	msgs := s.w.Messages()
	for _, m := range msgs[s.lastSubmit:] {
		raw := string(m.Raw)
		subject := ""
		if parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw)); err == nil {
			subject, _ = new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		}
		if p := passwordSubject.FindStringSubmatch(subject); p != nil {
			for _, line := range passwordLine.FindAllStringSubmatch(raw, -1) {
				s.secrets = append(s.secrets, line[1])
			}
		}
		if len(m.Bounced) > 0 {
			s.check.told.bounced(m.Raw)
			continue
		}
		s.check.told.heard(m.Raw, subject)
		if z := zipSubject.FindStringSubmatch(subject); z != nil && s.keyOwner[z[1]] != nil {
			s.received(s.keyOwner[z[1]], z[1], "zip")
		}
		if p := passwordSubject.FindStringSubmatch(subject); p != nil && s.keyOwner[p[1]] != nil {
			s.received(s.keyOwner[p[1]], p[1], "password")
		}
		if w := warnSubject.FindStringSubmatch(subject); w != nil {
			s.warned(w[1])
		}
		if k := secretKeySubject.FindStringSubmatch(subject); k != nil && s.rotatorKeys[k[1]] != "" {
			s.warned(s.rotatorKeys[k[1]]) // the notice of a key delivered to a secret gives the old key's date
		}
	}
	s.lastSubmit = len(msgs)
}

func (s *sim) received(o *owner, keyID, part string) {
	if s.got[keyID] == nil {
		s.got[keyID] = map[string]bool{}
	}
	s.got[keyID][part] = true
	if !s.got[keyID]["zip"] || !s.got[keyID]["password"] || o.held[keyID] {
		return
	}
	s.holds(o, keyID, "received by the owner")
	s.warned(s.rotatorKeys[keyID])
}

// holds records that o now holds the new key keyID (how says by which way).
func (s *sim) holds(o *owner, keyID, how string) {
	old := s.rotatorKeys[keyID]
	s.check.delivery.onePerOldKey(o, keyID)
	o.held[keyID] = true
	s.note(keyID, "%s (replaces %s)", how, old)
}

// written records a key the rotator wrote to a machine user's secret, which its application
// holds from now on, once the write is checked.
func (s *sim) written(account, store, value string) {
	var k appKey
	_ = json.Unmarshal([]byte(value), &k)
	o := s.keyOwner[k.AccessKeyID]
	if s.check.delivery.toItsSecret(account, store, o, k) && !o.held[k.AccessKeyID] {
		s.holds(o, k.AccessKeyID, "written to "+o.app)
	}
	if o != nil {
		s.writtenTo[k.AccessKeyID] = true
	}
}

func (s *sim) warned(keyID string) {
	s.note(keyID, "warning received")
	if _, ok := s.warnedOn[keyID]; !ok {
		s.warnedOn[keyID] = s.day
	}
}

func (s *sim) active(o *owner, keyID string) bool {
	return slices.ContainsFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool {
		return k.AccessKeyID == keyID && k.Status == types.StatusTypeActive
	})
}

func (s *sim) observe(c awsmodel.Call, out any, err error) {
	if !s.inRotator {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
		if len(outcome) > 80 {
			outcome = outcome[:80]
		}
	}
	switch c.Input.(type) {
	case *iam.TagUserInput, *iam.UntagUserInput, *iam.CreateAccessKeyInput:
		user, _ := c.Target()
		s.note(c.Account+"/"+user, "%s -> %s", c.Operation, outcome)
	}
	if m := secretKeyID.FindStringSubmatch(c.SecretName()); m != nil {
		s.note(m[1], "%s -> %s", c.Operation, outcome)
	}
	if c.Operation == "CreateSecret" {
		// The secret's tags say which key the new key replaces (also when the response was
		// lost: the secret exists).
		s.learnReplacements()
	}
	if err != nil {
		if in, ok := c.Input.(*iam.UpdateAccessKeyInput); ok && in.Status == types.StatusTypeInactive {
			// A deactivation whose response was lost (or that failed after taking effect):
			// the key is Inactive all the same, by the rotator's call, checked before it
			// took effect (checkers.write).
			user := s.owners[c.Account+"/"+aws.ToString(in.UserName)]
			if user != nil && !s.active(user, aws.ToString(in.AccessKeyId)) && slices.ContainsFunc(s.w.Keys(user.account, user.user), func(k awsmodel.Key) bool { return k.AccessKeyID == aws.ToString(in.AccessKeyId) }) {
				s.note(aws.ToString(in.AccessKeyId), "rotator deactivates")
				s.deactivatedOn[aws.ToString(in.AccessKeyId)] = s.day
			}
		}
		s.check.tags.room(c, err)
		return
	}
	switch in := c.Input.(type) {
	case *iam.ListAccessKeysInput:
		user := c.Account + "/" + aws.ToString(in.UserName)
		s.keysRead[user] = lastTwo(s.keysRead, user, s.day)
		s.listedOn[user] = s.day
	case *iam.ListUserTagsInput:
		user := c.Account + "/" + aws.ToString(in.UserName)
		if listed, ok := s.listedOn[user]; ok && listed == s.day {
			s.usersRead[user] = lastTwo(s.usersRead, user, s.day)
		}
	case *iam.TagUserInput:
		if slices.ContainsFunc(in.Tags, func(t types.Tag) bool { return aws.ToString(t.Key) == history.PendingTag }) {
			s.marks[c.Account+"/"+aws.ToString(in.UserName)] = s.now
		}
	case *iam.UntagUserInput:
		if slices.Contains(in.TagKeys, history.PendingTag) {
			// The mark is gone: a key it covered is no orphan from here on, and a deletion of
			// it is another rule's (rule 2's, say, of a key never used), checked as such.
			delete(s.marks, c.Account+"/"+aws.ToString(in.UserName))
		}
	case *iam.DeleteAccessKeyInput:
		s.note(aws.ToString(in.AccessKeyId), "rotator deletes")
	case *iam.UpdateAccessKeyInput:
		if in.Status == types.StatusTypeActive {
			s.note(aws.ToString(in.AccessKeyId), "rotator reactivates (hold)")
		} else {
			s.note(aws.ToString(in.AccessKeyId), "rotator deactivates")
		}
	}
	switch o := out.(type) {
	case *iam.CreateAccessKeyOutput:
		s.note(aws.ToString(o.AccessKey.AccessKeyId), "rotator creates; user's calls: %s", strings.Join(s.trace[c.Account+"/"+aws.ToString(o.AccessKey.UserName)], "; "))
		s.keyOwner[aws.ToString(o.AccessKey.AccessKeyId)] = s.owners[c.Account+"/"+aws.ToString(o.AccessKey.UserName)]
		s.rotatorKeys[aws.ToString(o.AccessKey.AccessKeyId)] = ""
		s.secrets = append(s.secrets, aws.ToString(o.AccessKey.SecretAccessKey))
		s.secretOf[aws.ToString(o.AccessKey.AccessKeyId)] = aws.ToString(o.AccessKey.SecretAccessKey)
	case *secretsmanager.PutSecretValueOutput:
		in := c.Input.(*secretsmanager.PutSecretValueInput)
		s.written(c.Account, aws.ToString(in.SecretId), aws.ToString(in.SecretString))
	case *ssm.PutParameterOutput:
		in := c.Input.(*ssm.PutParameterInput)
		s.written(c.Account, appsecret.ParamScheme+aws.ToString(in.Name), aws.ToString(in.Value))
	case *iam.UpdateAccessKeyOutput:
		if in := c.Input.(*iam.UpdateAccessKeyInput); in.Status != types.StatusTypeActive {
			s.deactivatedOn[aws.ToString(in.AccessKeyId)] = s.day
		}
	}

}

func (s *sim) learnReplacements() {
	for _, sec := range s.w.SecretsList() {
		if id := sec.Tags[handoff.AccessKeyIDTag]; id != "" && s.rotatorKeys[id] == "" {
			s.rotatorKeys[id] = sec.Tags[handoff.ReplacesTag]
		}
	}
}

// lastTwo is days[user]'s last two days (the later last, -1: none) once day is one of them.
func lastTwo(days map[string][2]int, user string, day int) [2]int {
	read, ok := days[user]
	if !ok {
		read = [2]int{-1, -1}
	}
	if read[1] != day {
		read = [2]int{read[1], day}
	}
	return read
}
