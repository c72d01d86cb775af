package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SESAPI is what the SES checks read, in the rotator's account and region.
type SESAPI interface {
	GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
}

// EmailsPerUser is the most emails one IAM user's owner gets from one run: a new key's two
// (the zip and its password) and one notice about their other key. A first run
// (cleanupOnce) can send them to every owner on the same day.
const EmailsPerUser = 3

// SES returns the checks of the rotator's SES account: production access, sending enabled,
// the sender verified, and a daily quota for users IAM users' worst day (0: not known).
func SES(api SESAPI, sender string, users int) []Check {
	var account *sesv2.GetAccountOutput
	var accountErr error
	read := func(ctx context.Context) (*sesv2.GetAccountOutput, error) {
		if account == nil && accountErr == nil {
			account, accountErr = api.GetAccount(ctx, &sesv2.GetAccountInput{})
			if accountErr != nil {
				accountErr = fmt.Errorf("SES GetAccount: %w", accountErr)
			}
		}
		return account, accountErr
	}
	readFix := "allow ses:GetAccount to the credentials preflight runs with, in the rotator's account and region"
	return []Check{
		func(ctx context.Context) Result {
			const name = "SES production access"
			a, err := read(ctx)
			switch {
			case err != nil:
				return cannotTell(name, err, readFix)
			case !a.ProductionAccessEnabled:
				return fail(name, "the account's SES is in the sandbox: it sends only to verified addresses, so owners never get their new keys",
					"SES console → Get set up → Request production access (or aws sesv2 put-account-details --production-access-enabled "+
						"--mail-type TRANSACTIONAL --website-url <your URL>); AWS reviews the request within a day")
			}
			return pass(name, "SES may send to any address")
		},
		func(ctx context.Context) Result {
			const name = "SES sending enabled"
			a, err := read(ctx)
			switch {
			case err != nil:
				return cannotTell(name, err, readFix)
			case !a.SendingEnabled:
				return fail(name, fmt.Sprintf("sending is paused for the account (enforcement status %s): no email goes out", aws.ToString(a.EnforcementStatus)),
					"aws sesv2 put-account-sending-attributes --sending-enabled; if AWS paused it (enforcement status SHUTDOWN or PROBATION), "+
						"answer the case in the SES console → Reputation metrics")
			}
			return pass(name, "sending is enabled")
		},
		func(ctx context.Context) Result { return checkSender(ctx, api, sender) },
		func(ctx context.Context) Result {
			const name = "SES daily quota"
			a, err := read(ctx)
			switch {
			case err != nil:
				return cannotTell(name, err, readFix)
			case a.SendQuota == nil:
				return cannotTell(name, errors.New("SES GetAccount gave no send quota"), readFix)
			case users <= 0:
				return cannotTell(name, fmt.Errorf("the quota is %.0f emails a day at %.0f a second; how many the rotator needs depends on the number of IAM users with access keys",
					a.SendQuota.Max24HourSend, a.SendQuota.MaxSendRate), "pass --users <IAM users with access keys in the accounts the rotator processes>")
			}
			need := float64(users*EmailsPerUser + 1) // and the support email
			if a.SendQuota.Max24HourSend < need {
				return fail(name, fmt.Sprintf("%d IAM users can need %.0f emails on one day (%d each, and the support email); the quota is %.0f a day",
					users, need, EmailsPerUser, a.SendQuota.Max24HourSend),
					"request a higher sending quota: Service Quotas console → Amazon SES → Sending quota (emails per 24-hour period)")
			}
			return pass(name, fmt.Sprintf("%.0f emails a day, %.0f a second; %d IAM users need at most %.0f on one day",
				a.SendQuota.Max24HourSend, a.SendQuota.MaxSendRate, users, need))
		},
	}
}

// checkSender passes if SES may send from the sender: the address verified, or its domain.
func checkSender(ctx context.Context, api SESAPI, sender string) Result {
	const name = "SES sender verified"
	at := strings.LastIndex(sender, "@")
	if at < 1 {
		return fail(name, fmt.Sprintf("the sender %q is not an email address", sender), "set senderEmail in cdk.json (and pass --sender)")
	}
	domain := sender[at+1:]
	for _, identity := range []string{sender, domain} {
		out, err := api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String(identity)})
		var notFound *sestypes.NotFoundException
		switch {
		case errors.As(err, &notFound):
			continue
		case err != nil:
			return cannotTell(name, fmt.Errorf("SES GetEmailIdentity %s: %w", identity, err),
				"allow ses:GetEmailIdentity to the credentials preflight runs with")
		case out.VerifiedForSendingStatus:
			return pass(name, fmt.Sprintf("SES may send as %s (identity %s verified)", sender, identity))
		default:
			return fail(name, fmt.Sprintf("the identity %s exists but is not verified for sending (status %s)", identity, out.VerificationStatus),
				fmt.Sprintf("publish the DKIM records that aws sesv2 get-email-identity --email-identity %s lists, then wait for SES to verify them", identity))
		}
	}
	return fail(name, fmt.Sprintf("neither %s nor %s is an SES identity of this account and region", sender, domain),
		fmt.Sprintf("aws sesv2 create-email-identity --email-identity %s, then publish the DKIM records it returns", domain))
}
