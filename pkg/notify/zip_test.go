package notify

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yeka/zip"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

const (
	testAccountID   = "111122223333"
	testUserName    = "alice"
	testAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	testSecretKey   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	wantCSV         = "Access key ID,Secret access key\n" + testAccessKeyID + "," + testSecretKey + "\n"
	wantCredentials = "[111122223333-alice]\naws_access_key_id = " + testAccessKeyID +
		"\naws_secret_access_key = " + testSecretKey + "\n"
)

func testZip(t *testing.T) (zipped []byte, password secret.Secret) {
	t.Helper()
	password = handoff.NewZipPassword()
	zipped, err := CredentialsZip(testAccountID, testUserName, testAccessKeyID, secret.New(testSecretKey), password)
	if err != nil {
		t.Fatalf("CredentialsZip: %v", err)
	}
	return zipped, password
}

// sevenZip returns the path of the 7-Zip CLI, which checks the zip independently of the
// library that wrote it.
func sevenZip(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("7zz")
	if err != nil {
		t.Fatalf("7zz (7-Zip) is needed to check the credentials zip: install it with `apt-get install 7zip` (Debian/Ubuntu): %v", err)
	}
	return path
}

func TestCredentialsZipWith7Zip(t *testing.T) {
	bin := sevenZip(t)
	zipped, password := testZip(t)
	dir := t.TempDir()
	zipPath := filepath.Join(dir, CredentialsZipName)
	if err := os.WriteFile(zipPath, zipped, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("method is AES-256", func(t *testing.T) {
		out, err := exec.Command(bin, "l", "-slt", "-p"+password.Reveal(), zipPath).CombinedOutput()
		if err != nil {
			t.Fatalf("7zz l: %v\n%s", err, out)
		}
		var methods []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Method = ") {
				methods = append(methods, strings.TrimSpace(l))
			}
		}
		if len(methods) != 2 {
			t.Fatalf("7zz l lists %d files, want 2:\n%s", len(methods), out)
		}
		for _, m := range methods {
			if m != "Method = AES-256 Deflate" {
				t.Errorf("7zz l says %q, want %q", m, "Method = AES-256 Deflate")
			}
		}
		t.Logf("7zz l -slt: %s", methods[0])
	})

	t.Run("right password extracts the key", func(t *testing.T) {
		outDir := filepath.Join(dir, "right")
		out, err := exec.Command(bin, "x", "-y", "-p"+password.Reveal(), "-o"+outDir, zipPath).CombinedOutput()
		if err != nil {
			t.Fatalf("7zz x with the password: %v\n%s", err, out)
		}
		table, err := os.ReadFile(filepath.Join(outDir, CredentialsCSVName))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(table)).ReadAll()
		if err != nil {
			t.Fatalf("parse %s: %v", CredentialsCSVName, err)
		}
		want := [][]string{{"Access key ID", "Secret access key"}, {testAccessKeyID, testSecretKey}}
		if len(rows) != 2 || len(rows[1]) != 2 || rows[0][0] != want[0][0] || rows[0][1] != want[0][1] ||
			rows[1][0] != want[1][0] || rows[1][1] != want[1][1] {
			t.Errorf("%s rows = %q, want %q", CredentialsCSVName, rows, want)
		}
		profile, err := os.ReadFile(filepath.Join(outDir, CredentialsFileName))
		if err != nil {
			t.Fatal(err)
		}
		if string(profile) != wantCredentials {
			t.Errorf("%s = %q, want %q", CredentialsFileName, profile, wantCredentials)
		}
	})

	t.Run("wrong password fails", func(t *testing.T) {
		outDir := filepath.Join(dir, "wrong")
		out, err := exec.Command(bin, "x", "-y", "-pNotThePassword23456789abc", "-o"+outDir, zipPath).CombinedOutput()
		if err == nil {
			t.Fatalf("7zz x with a wrong password succeeded:\n%s", out)
		}
		if !strings.Contains(string(out), "Wrong password") {
			t.Errorf("7zz x with a wrong password failed without saying so:\n%s", out)
		}
		if table, err := os.ReadFile(filepath.Join(outDir, CredentialsCSVName)); err == nil && bytes.Contains(table, []byte(testSecretKey)) {
			t.Errorf("7zz x with a wrong password wrote the secret key")
		}
	})
}

func TestCredentialsZipInProcess(t *testing.T) {
	zipped, password := testZip(t)
	if bytes.Contains(zipped, []byte(testSecretKey)) || bytes.Contains(zipped, []byte(password.Reveal())) {
		t.Fatal("the zip holds the secret key or the password in clear")
	}
	r, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	want := map[string]string{CredentialsCSVName: wantCSV, CredentialsFileName: wantCredentials}
	if len(r.File) != len(want) {
		t.Fatalf("zip has %d files, want %d", len(r.File), len(want))
	}
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"right password", password.Reveal(), false},
		{"wrong password", "NotThePassword23456789abc", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range r.File {
				if !f.IsEncrypted() {
					t.Fatalf("%s is not encrypted", f.Name)
				}
				f.SetPassword(tc.password)
				got, err := readZipFile(f)
				if tc.wantErr {
					if err == nil {
						t.Errorf("%s opened with a wrong password", f.Name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("read %s: %v", f.Name, err)
				}
				if got != want[f.Name] {
					t.Errorf("%s = %q, want %q", f.Name, got, want[f.Name])
				}
			}
		})
	}
}

func readZipFile(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestCredentialsZipRejects(t *testing.T) {
	if handoff.ZipPasswordLength < MinPasswordLength {
		t.Fatalf("the hand-off's passwords have %d characters, CredentialsZip wants at least %d", handoff.ZipPasswordLength, MinPasswordLength)
	}
	good := handoff.NewZipPassword()
	tests := []struct {
		name                             string
		accountID, userName, accessKeyID string
		secretKey, password              secret.Secret
		wantErr                          string
	}{
		{"short account ID", "11112222333", testUserName, testAccessKeyID, secret.New(testSecretKey), good, "not 12 digits"},
		{"empty user", testAccountID, "", testAccessKeyID, secret.New(testSecretKey), good, "empty user name"},
		{"empty key ID", testAccountID, testUserName, "", secret.New(testSecretKey), good, "empty access key ID"},
		{"empty secret", testAccountID, testUserName, testAccessKeyID, secret.Secret{}, good, "empty secret access key"},
		{"short password", testAccountID, testUserName, testAccessKeyID, secret.New(testSecretKey), secret.New("abcdefghijk234567"), "shorter than 20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CredentialsZip(tc.accountID, tc.userName, tc.accessKeyID, tc.secretKey, tc.password)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			}
			for _, s := range []string{testSecretKey, tc.password.Reveal()} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestProfileName(t *testing.T) {
	tests := []struct{ accountID, userName, want string }{
		{"111122223333", "alice", "111122223333-alice"},
		{"111122223333", "svc.build@ci+x_y-z", "111122223333-svc.build@ci+x_y-z"},
		{"111122223333", "a=b,c", "111122223333-a-b-c"},
	}
	for _, tc := range tests {
		if got := ProfileName(tc.accountID, tc.userName); got != tc.want {
			t.Errorf("ProfileName(%q, %q) = %q, want %q", tc.accountID, tc.userName, got, tc.want)
		}
	}
}
