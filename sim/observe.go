package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

var (
	secretKeyID      = regexp.MustCompile(`handoff/\d+/[^/]+/(AKIA[A-Z0-9]{16})`)
	zipSubject       = regexp.MustCompile(`^New AWS access key (AKIA[A-Z0-9]+) `)
	passwordSubject  = regexp.MustCompile(`^Password for the new AWS access key (AKIA[A-Z0-9]+) `)
	secretKeySubject = regexp.MustCompile(`^New access key (AKIA[A-Z0-9]+) of IAM user \S+ in account .+ is in secret `)
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
			s.bounced(m.Raw)
			continue
		}
		s.heard(m.Raw, subject)
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

// holds records that o now holds the new key keyID (how says by which way), checking that no
// other new key for the same old key was delivered and is still active.
func (s *sim) holds(o *owner, keyID, how string) {
	old := s.rotatorKeys[keyID]
	for other, replaced := range s.rotatorKeys {
		if other != keyID && replaced == old && o.held[other] && s.active(o, other) {
			s.violate("at most one new key per old key", fmt.Sprintf("%s got new key %s for %s while %s, delivered for it earlier, is still active", o.user, keyID, old, other))
		}
	}
	o.held[keyID] = true
	s.note(keyID, "%s (replaces %s)", how, old)
}

// written checks a key the rotator wrote to a machine user's secret: the user's own key, with
// the secret access key IAM returned for it; the application holds it from now on.
func (s *sim) written(account string, in *secretsmanager.PutSecretValueInput) {
	var k appKey
	_ = json.Unmarshal([]byte(aws.ToString(in.SecretString)), &k)
	o := s.keyOwner[k.AccessKeyID]
	switch {
	case o == nil || o.account != account || o.app != aws.ToString(in.SecretId):
		s.violate("a key goes only to its user's secret", fmt.Sprintf("%s in %s: key %s is not its user's", aws.ToString(in.SecretId), account, k.AccessKeyID))
	case !s.deliverable(o):
		s.violate("a key goes only to a secret that opts in", fmt.Sprintf("%s: key %s of %s written to a secret without %s=%s", o.app, k.AccessKeyID, o.user, appsecret.OptInTag, o.user))
	case k.SecretAccessKey != s.secretOf[k.AccessKeyID]:
		s.violate("the application's secret holds its key's secret access key", fmt.Sprintf("%s: the value written for %s does not match the key IAM made", o.app, k.AccessKeyID))
	case !o.held[k.AccessKeyID]:
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
		s.checkTagRoom(c, err)
		return
	}
	switch in := c.Input.(type) {
	case *iam.TagUserInput:
		if slices.ContainsFunc(in.Tags, func(t types.Tag) bool { return aws.ToString(t.Key) == history.PendingTag }) {
			s.marks[c.Account+"/"+aws.ToString(in.UserName)] = s.now
		}
	case *iam.DeleteAccessKeyInput:
		s.note(aws.ToString(in.AccessKeyId), "rotator deletes")
	case *iam.UpdateAccessKeyInput:
		s.note(aws.ToString(in.AccessKeyId), "rotator deactivates")
	}
	switch o := out.(type) {
	case *iam.CreateAccessKeyOutput:
		s.note(aws.ToString(o.AccessKey.AccessKeyId), "rotator creates; user's calls: %s", strings.Join(s.trace[c.Account+"/"+aws.ToString(o.AccessKey.UserName)], "; "))
		s.keyOwner[aws.ToString(o.AccessKey.AccessKeyId)] = s.owners[c.Account+"/"+aws.ToString(o.AccessKey.UserName)]
		s.rotatorKeys[aws.ToString(o.AccessKey.AccessKeyId)] = ""
		s.secrets = append(s.secrets, aws.ToString(o.AccessKey.SecretAccessKey))
		s.secretOf[aws.ToString(o.AccessKey.AccessKeyId)] = aws.ToString(o.AccessKey.SecretAccessKey)
	case *secretsmanager.PutSecretValueOutput:
		s.written(c.Account, c.Input.(*secretsmanager.PutSecretValueInput))
	case *iam.UpdateAccessKeyOutput:
		s.deactivatedOn[aws.ToString(c.Input.(*iam.UpdateAccessKeyInput).AccessKeyId)] = s.day
	}

}

func (s *sim) learnReplacements() {
	for _, sec := range s.w.SecretsList() {
		if id := sec.Tags[handoff.AccessKeyIDTag]; id != "" && s.rotatorKeys[id] == "" {
			s.rotatorKeys[id] = sec.Tags[handoff.ReplacesTag]
		}
	}
}
