package policy

import (
	"fmt"
	"testing"
)

// benchUsers builds n users cycling through the situations the rules handle.
func benchUsers(n int) []User {
	shapes := [][]Key{
		{key("A", Active, 10, 0)},
		{key("A", Active, 85, 1)},
		{key("A", Active, 95, 1), key("B", Active, 12, 0)},
		{key("A", Inactive, 101, 20), key("B", Active, 25, 0)},
		{key("A", Active, 300, 1)},
		{key("A", Active, 91, -1)},
	}
	users := make([]User, n)
	for i := range users {
		keys := make([]Key, len(shapes[i%len(shapes)]))
		for j, k := range shapes[i%len(shapes)] {
			k.AccessKeyID = fmt.Sprintf("%s%06d", k.AccessKeyID, i)
			keys[j] = k
		}
		users[i] = User{UserName: fmt.Sprintf("user-%06d", i), Tags: map[string]string{"EmailID": fmt.Sprintf("u%d@example.com", i)}, Keys: keys}
	}
	return users
}

// BenchmarkPlanUsers plans whole accounts (the policy runs once per account per day).
func BenchmarkPlanUsers(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		users := benchUsers(n)
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := PlanUsers(users, Config{}, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
