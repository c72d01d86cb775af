package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	listed, _, err := b.SuppressedSince(ctx, address)
	return listed, err
}

// SuppressedSince reports whether address is on the suppression list, and since when: the
// entry's LastUpdateTime, when SES put it there (zero when SES gives none).
func (b SESBounces) SuppressedSince(ctx context.Context, address string) (bool, time.Time, error) {
	if address == "" {
		return false, time.Time{}, nil
	}
	out, err := b.SES.GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &address})
	var notFound *sestypes.NotFoundException
	switch {
	case errors.As(err, &notFound):
		return false, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, fmt.Errorf("read the SES suppression list: %w", err)
	}
	var since time.Time
	if out.SuppressedDestination != nil && out.SuppressedDestination.LastUpdateTime != nil {
		since = *out.SuppressedDestination.LastUpdateTime
	}
	return true, since, nil
}
