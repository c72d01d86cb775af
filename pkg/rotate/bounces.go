package rotate

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SuppressionAPI is the SES v2 call that says whether an address is on the account's
// suppression list (it bounced, or its owner complained).
type SuppressionAPI interface {
	GetSuppressedDestination(context.Context, *sesv2.GetSuppressedDestinationInput, ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error)
}

// SESBounces reads SES's account-level suppression list.
type SESBounces struct{ SES SuppressionAPI }

// Suppressed reports whether address is on the suppression list.
func (b SESBounces) Suppressed(ctx context.Context, address string) (bool, error) {
	if address == "" {
		return false, nil
	}
	_, err := b.SES.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &address})
	var notFound *sestypes.NotFoundException
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the SES suppression list: %w", err)
	}
	return true, nil
}
