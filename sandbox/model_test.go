package sandbox

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestUniqueAddressesKeepsFirstOfEach(t *testing.T) {
	got := UniqueAddresses([]string{"a@example.com", "b@example.com", "a@example.com"})
	if !slices.Equal(got, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("UniqueAddresses = %v", got)
	}
}

// TestBulkUsersCheckEveryEntryFirst: POST /keyrotator/users (the seeder's bulk path) creates
// nothing when one entry is wrong, and names the entry.
func TestBulkUsersCheckEveryEntryFirst(t *testing.T) {
	ctx := context.Background()
	srv, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("local AWS stand-in: %v", err)
	}
	defer srv.Stop()
	body := map[string]any{"accountId": "123456789012", "users": []map[string]any{
		{"name": "first", "keys": []map[string]any{{"status": "Active", "createDate": "2026-01-02T03:04:05Z"}}},
		{"name": "second", "keys": []map[string]any{{"status": "On", "createDate": "2026-01-02T03:04:05Z"}}},
	}}
	err = callJSON(ctx, "POST", srv.URL+"/keyrotator/users", body, nil)
	if err == nil || !strings.Contains(err.Error(), "users[1].keys[0].status") {
		t.Fatalf("error %v, want one naming users[1].keys[0].status", err)
	}
	users, err := iam.NewFromConfig(srv.Config()).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 0 {
		t.Errorf("users %v created by a refused request", users.Users)
	}
}
