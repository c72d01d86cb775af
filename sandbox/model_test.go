package sandbox

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestUniqueAddressesKeepsFirstOfEach(t *testing.T) {
	got := UniqueAddresses([]string{"a@example.com", "b@example.com", "a@example.com"})
	if !slices.Equal(got, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("UniqueAddresses = %v", got)
	}
}

// TestSeederDropsTheKeyOfALostCreate: when a CreateAccessKey was retried after its response
// was lost, the seeder deletes the key it never saw and keeps the ones it recorded.
func TestSeederDropsTheKeyOfALostCreate(t *testing.T) {
	ctx := context.Background()
	srv, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("local AWS stand-in: %v", err)
	}
	defer srv.Stop()
	client := iam.NewFromConfig(srv.Config())
	const user, account = "lost-create", "123456789012"
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		k, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(k.AccessKey.AccessKeyId))
	}
	s := &seeder{progress: io.Discard, out: &Seeded{Keys: []SeededKey{{AccountID: account, AccessKeyID: ids[0]}}}}
	if err := s.dropUnknownKeys(ctx, client, account, user); err != nil {
		t.Fatal(err)
	}
	left, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.AccessKeyMetadata) != 1 || aws.ToString(left.AccessKeyMetadata[0].AccessKeyId) != ids[0] {
		t.Errorf("keys left %v, want only the recorded %s", left.AccessKeyMetadata, ids[0])
	}
}
