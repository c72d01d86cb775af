package sim

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// tagChecks keep the invariants of the rotator's own tags on IAM users: each is signed,
// carries nothing forged, and is written only where IAM's 50 tags leave room.
type tagChecks struct{ *sim }

// signed: every rotator tag the rotator writes is signed, and carries nothing it read
// from a tag someone else wrote (a forged rotator tag is taken as absent: it can postpone an
// action, never hasten one).
func (s tagChecks) signed(o *owner, in *iam.TagUserInput) {
	for _, t := range in.Tags {
		key := aws.ToString(t.Key)
		if !strings.HasPrefix(key, config.RotatorTagKeyPrefix) {
			continue
		}
		value, signed := s.seal.Open(o.account, o.user, key, aws.ToString(t.Value))
		if !signed {
			s.violate("the rotator signs its tags", fmt.Sprintf("%s's tag %s=%q", o.user, key, aws.ToString(t.Value)))
			continue
		}
		for _, entry := range strings.Fields(value) {
			if s.forged[o.account+"/"+o.user][entry] {
				s.violate("a forged rotator tag is taken as absent", fmt.Sprintf("%s's %s written with %q, which someone else forged; its story:\n    %s",
					o.user, key, entry, strings.Join(s.trace[o.account+"/"+o.user], "\n    ")))
			}
		}
	}
}

// room: the rotator writes a tag of its own only where the user's tags leave room for
// it (IAM allows 50): a user without is told and left alone, never failed by IAM's quota day
// after day. (Owners here add tags only before the run: none races the rotator's read.)
func (s tagChecks) room(c awsmodel.Call, err error) {
	var apiErr smithy.APIError
	if _, tagging := c.Input.(*iam.TagUserInput); tagging && errors.As(err, &apiErr) && apiErr.ErrorCode() == "LimitExceeded" {
		user, _ := c.Target()
		s.violate("the rotator writes its tags only where there is room", fmt.Sprintf("TagUser of %s in %s refused: %v", user, c.Account, err))
	}
}
