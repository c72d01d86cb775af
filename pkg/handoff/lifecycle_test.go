package handoff

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecrets answers DeleteSecret and RestoreSecret with err, and records the deletions.
type fakeSecrets struct {
	SecretsAPI
	err     error
	deletes []*secretsmanager.DeleteSecretInput
}

func (f *fakeSecrets) DeleteSecret(_ context.Context, in *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	f.deletes = append(f.deletes, in)
	return &secretsmanager.DeleteSecretOutput{}, f.err
}

func (f *fakeSecrets) RestoreSecret(context.Context, *secretsmanager.RestoreSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error) {
	return &secretsmanager.RestoreSecretOutput{}, f.err
}

var _ SecretsAPI = (*fakeSecrets)(nil)

// TestScheduleAndRestoreOutcomes: scheduling asks for the minimum recovery window, and a
// secret already scheduled (a retry) or gone is no failure; restoring reports a secret gone
// (deleted for good since the listing) and takes one already restored for restored.
func TestScheduleAndRestoreOutcomes(t *testing.T) {
	scheduled := &smtypes.InvalidRequestException{Message: aws.String("already scheduled for deletion")}
	gone := &smtypes.ResourceNotFoundException{Message: aws.String("not found")}
	throttled := errors.New("throttled")
	tests := []struct {
		name          string
		err           error
		scheduleFails bool
		restored      bool
		restoreFails  bool
	}{
		{"ok", nil, false, true, false},
		{"already scheduled, or not scheduled", scheduled, false, true, false},
		{"gone", gone, false, false, false},
		{"other failure", throttled, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSecrets{err: tt.err}
			if err := Schedule(context.Background(), f, "arn:s"); (err != nil) != tt.scheduleFails {
				t.Errorf("Schedule: %v, want failure %v", err, tt.scheduleFails)
			}
			if in := f.deletes[0]; aws.ToInt64(in.RecoveryWindowInDays) != RecoveryWindowDays || in.ForceDeleteWithoutRecovery != nil {
				t.Errorf("Schedule asked for window %d, force %v; want %d days, no force", aws.ToInt64(in.RecoveryWindowInDays), in.ForceDeleteWithoutRecovery, RecoveryWindowDays)
			}
			restored, err := Restore(context.Background(), f, "arn:s")
			if restored != tt.restored || (err != nil) != tt.restoreFails {
				t.Errorf("Restore: %v, %v; want %v, failure %v", restored, err, tt.restored, tt.restoreFails)
			}
		})
	}
}
