package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
)

// Bounces passes when SES adds an owner's address that hard-bounces to the account-level
// suppression list, the rotator's only sign that a new key's email did not arrive
// (pkg/suppression): the stack's configuration set configSet suppresses BOUNCE, or, before
// the deploy creates it, the account's settings do.
func Bounces(api suppression.API, configSet string) Check {
	return func(ctx context.Context) Result {
		const name = "SES bounce suppression"
		problem, err := suppression.Check(ctx, api, configSet)
		if err == nil && strings.Contains(problem, "does not exist") {
			// Before the deploy: the stack creates the set suppressing BOUNCE and COMPLAINT;
			// until then, what the account's settings say.
			if problem, err = suppression.Check(ctx, api, ""); err == nil && problem == "" {
				return pass(name, fmt.Sprintf("the configuration set %s does not exist yet (the stack creates it suppressing BOUNCE and COMPLAINT); the account's settings suppress BOUNCE", configSet))
			}
		}
		switch {
		case err != nil:
			return cannotTell(name, err, "allow ses:GetAccount and ses:GetConfigurationSet to the credentials preflight runs with")
		case problem != "":
			detail, fix, _ := strings.Cut(problem, "; fix: ")
			return fail(name, detail, fix)
		}
		return pass(name, "SES adds an owner's address that hard-bounces to the account-level suppression list, which the rotator reads")
	}
}
