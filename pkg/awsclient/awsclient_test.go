package awsclient

import (
	"regexp"
	"testing"
)

func TestSessionName(t *testing.T) {
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tests := []struct{ parts []string }{
		{[]string{"scan", "run-2026-11-25"}},
		{[]string{"scan", "a/b c:d"}},
		{[]string{"scan", "0123456789012345678901234567890123456789012345678901234567890123456789"}},
	}
	for _, tt := range tests {
		if got := SessionName(tt.parts...); !valid.MatchString(got) {
			t.Errorf("SessionName(%q) = %q, not a valid STS session name", tt.parts, got)
		}
	}
	if got := SessionName("scan", "a/b"); got != "key-rotator-scan-a_b" {
		t.Errorf("SessionName = %q", got)
	}
}

func TestRoleARN(t *testing.T) {
	tests := []struct{ region, want string }{
		{"us-east-1", "arn:aws:iam::111122223333:role/provisioning-admin"},
		{"cn-north-1", "arn:aws-cn:iam::111122223333:role/provisioning-admin"},
		{"us-gov-west-1", "arn:aws-us-gov:iam::111122223333:role/provisioning-admin"},
	}
	for _, tt := range tests {
		if got := RoleARN(tt.region, "111122223333", "provisioning-admin"); got != tt.want {
			t.Errorf("RoleARN(%s) = %s, want %s", tt.region, got, tt.want)
		}
	}
}
