package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
)

// Selection is what a run over the whole organization would select (org.Handler.Preview),
// read once for the checks that need it.
type Selection struct {
	preview func(context.Context) (org.Preview, error)
	once    sync.Once
	p       org.Preview
	err     error
}

// NewSelection reads the selection with preview, once, when a check first needs it.
func NewSelection(preview func(context.Context) (org.Preview, error)) *Selection {
	return &Selection{preview: preview}
}

func (s *Selection) get(ctx context.Context) (org.Preview, error) {
	s.once.Do(func() { s.p, s.err = s.preview(ctx) })
	return s.p, s.err
}

// settingNames are the cdk.json keys of the settings org.Preview counts by variable name.
var settingNames = map[string]string{"EXCLUDE_ACCOUNTS": "excludeAccounts", "EXCLUDE_OUS": "excludeOus", "EXCLUDE_ACCOUNT_TAG": "excludeAccountTag"}

// Exclusions says what the exclusion settings exclude and how many accounts a run processes;
// it fails on a setting that cannot be what its author meant: an excluded account ID that is
// no ACTIVE account (a typo leaves the account meant processed), an excluded OU that does not
// exist, or exclusions that leave nothing to rotate.
func (s *Selection) Exclusions() Check {
	return func(ctx context.Context) Result {
		const name = "exclusions"
		p, err := s.get(ctx)
		var noOU *orgtypes.ParentNotFoundException
		switch {
		case errors.As(err, &noOU):
			return fail(name, err.Error(), "correct excludeOus (cdk.json, --exclude-ous): each must be an OU ID of the organization, ou-...")
		case err != nil:
			return cannotTell(name, err, "run preflight with --management-profile (organizations:List*)")
		case len(p.NotActive) > 0:
			return fail(name, fmt.Sprintf("excludeAccounts lists %s, no ACTIVE account of the organization: if it is a typo, the account meant is rotated",
				strings.Join(head(p.NotActive), ", ")), "correct excludeAccounts (cdk.json, --exclude-accounts), or drop accounts that left")
		case len(p.Selected) == 0:
			return fail(name, fmt.Sprintf("every one of the %d ACTIVE accounts is excluded: each run would fail with no account to rotate", len(p.Active)),
				"exclude fewer accounts")
		}
		var by []string
		for _, setting := range []string{"EXCLUDE_ACCOUNTS", "EXCLUDE_OUS", "EXCLUDE_ACCOUNT_TAG"} {
			if ids := p.Excluded[setting]; len(ids) > 0 {
				by = append(by, fmt.Sprintf("%d by %s (%s)", len(ids), settingNames[setting], strings.Join(head(ids), ", ")))
			}
		}
		detail := fmt.Sprintf("a run processes %d of the %d ACTIVE accounts", len(p.Selected), len(p.Active))
		if len(by) > 0 {
			detail += "; excluded: " + strings.Join(by, "; ")
		}
		return pass(name, detail)
	}
}
