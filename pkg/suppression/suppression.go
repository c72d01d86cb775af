// Package suppression says whether SES's account-level suppression list can tell the
// rotator that a new key's email bounced. SES accepting a message is not its delivery: the
// rotator confirms a delivery on a later day by finding the address NOT on that list
// (rotate.SESBounces). That silence means "delivered" only if SES adds an address that hard
// bounces to the list, which it does only for the reasons that govern the message: the
// configuration set's suppression options when the set overrides the account's
// (PutConfigurationSetSuppressionOptions), else the account's (PutAccountSuppressionAttributes;
// BOUNCE and COMPLAINT by default only for accounts that started using SES after
// 2019-11-25). Check reads those settings once per run (ListAccounts), and a run that finds
// BOUNCE not suppressed, or could not tell, confirms no delivery by email.
package suppression

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// API is the two SES v2 calls that tell the suppression settings.
type API interface {
	GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetConfigurationSet(context.Context, *sesv2.GetConfigurationSetInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error)
}

// NotChecked is a run's problem when nothing checked the settings (a Run of an earlier
// version, or a tool's): it confirms no delivery by email.
const NotChecked = "SES's suppression settings were not checked for this run: no new key sent by email is confirmed as delivered " +
	"(the rotator learns of bounces only from SES's account-level suppression list)"

// Check returns "" when SES adds an address to the account-level suppression list when the
// rotator's mail to it hard-bounces: the configuration set the rotator sends through
// (configSet, "" for none) suppresses BOUNCE, or does not override the account's settings and
// the account suppresses BOUNCE. Otherwise it returns what is wrong, naming the setting and
// how to fix it, for the report. An error is returned only when the settings could not be read.
func Check(ctx context.Context, ses API, configSet string) (string, error) {
	consequence := "until it does, no new key sent by email is confirmed as delivered: the key waits (it is no replacement, " +
		"and the old key's deactivation waits with it) and is sent again once bounces are suppressed"
	if configSet != "" {
		out, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String(configSet)})
		var notFound *sestypes.NotFoundException
		switch {
		case errors.As(err, &notFound):
			return fmt.Sprintf("the SES configuration set %s (SES_CONFIGURATION_SET) does not exist: deploy the stack, which creates it "+
				"suppressing BOUNCE and COMPLAINT; %s", configSet, consequence), nil
		case err != nil:
			return "", fmt.Errorf("read the suppression options of SES configuration set %s: %w", configSet, err)
		}
		if o := out.SuppressionOptions; o != nil {
			fix := fmt.Sprintf("aws sesv2 put-configuration-set-suppression-options --configuration-set-name %s --suppressed-reasons BOUNCE COMPLAINT "+
				"(or deploy the stack, which sets it)", configSet)
			switch {
			case o.SuppressionScope != "" && o.SuppressionScope != sestypes.SuppressionListScopeAccount:
				return fmt.Sprintf("the SES configuration set %s keeps its bounces on a %s suppression list (SuppressionOptions.SuppressionScope), "+
					"not the account-level list the rotator reads; %s; fix: %s", configSet, o.SuppressionScope, consequence, fix), nil
			case !slices.Contains(o.SuppressedReasons, sestypes.SuppressionListReasonBounce):
				return fmt.Sprintf("the SES configuration set %s overrides the account's suppression settings with reasons %v, without BOUNCE: "+
					"an owner's address that bounces is never added to the account-level suppression list; %s; fix: %s",
					configSet, o.SuppressedReasons, consequence, fix), nil
			}
			return "", nil
		}
	}
	out, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return "", fmt.Errorf("read the SES account's suppression attributes: %w", err)
	}
	var reasons []sestypes.SuppressionListReason
	if out.SuppressionAttributes != nil {
		reasons = out.SuppressionAttributes.SuppressedReasons
	}
	if slices.Contains(reasons, sestypes.SuppressionListReasonBounce) {
		return "", nil
	}
	where := "the SES account's suppression settings"
	fix := "aws sesv2 put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT"
	if configSet != "" {
		where = fmt.Sprintf("the SES configuration set %s does not override the account's suppression settings, and the account's", configSet)
		fix = fmt.Sprintf("deploy the stack (its configuration set suppresses BOUNCE and COMPLAINT), or aws sesv2 put-configuration-set-suppression-options "+
			"--configuration-set-name %s --suppressed-reasons BOUNCE COMPLAINT, or %s", configSet, fix)
	}
	return fmt.Sprintf("%s (GetAccount SuppressionAttributes) have reasons %v, without BOUNCE: an owner's address that bounces is never added "+
		"to the account-level suppression list; %s; fix: %s", where, reasons, consequence, fix), nil
}
