package handoff

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// TestValueKeepsTheZipPasswordWithTheKey: the secret's JSON holds the key and its zip
// password, and reads back whole; a secret stored before the password was kept there reads
// with no password (NotifyUser then makes one).
func TestValueKeepsTheZipPasswordWithTheKey(t *testing.T) {
	password := NewZipPassword()
	stored, err := json.Marshal(Value{AccessKeyID: "AKIANEW", SecretAccessKey: secret.New("wJalrXUtnFEMI/K7MDENG"), ZipPassword: password})
	if err != nil {
		t.Fatal(err)
	}
	var v Value
	if err := json.Unmarshal(stored, &v); err != nil {
		t.Fatal(err)
	}
	if v.AccessKeyID != "AKIANEW" || v.SecretAccessKey.Reveal() != "wJalrXUtnFEMI/K7MDENG" || v.ZipPassword.Reveal() != password.Reveal() {
		t.Errorf("read back key %s with a different secret or password", v.AccessKeyID)
	}

	var old Value
	if err := json.Unmarshal([]byte(`{"accessKeyId":"AKIAOLD","secretAccessKey":"s3cr3t"}`), &old); err != nil {
		t.Fatalf("a secret of the earlier format: %v", err)
	}
	if !old.ZipPassword.IsZero() || old.SecretAccessKey.Reveal() != "s3cr3t" {
		t.Errorf("earlier format read as key %s with a password", old.AccessKeyID)
	}

	for _, bad := range []string{`{"accessKeyId":"AKIA"}`, `{"secretAccessKey":"s"}`, `[]`} {
		err := json.Unmarshal([]byte(bad), &v)
		if err == nil {
			t.Errorf("%s: read without an error", bad)
		} else if strings.Contains(err.Error(), `"s"`) {
			t.Errorf("%s: the error shows the secret: %v", bad, err)
		}
	}
}
