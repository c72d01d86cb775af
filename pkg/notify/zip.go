package notify

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/yeka/zip"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Names of the zip attachment and of the files inside it.
const (
	CredentialsZipName  = "credentials.zip"
	CredentialsCSVName  = "credentials.csv"
	CredentialsFileName = "credentials"
)

// MinPasswordLength is the shortest zip password CredentialsZip accepts.
const MinPasswordLength = 20

// CredentialsZip returns a zip, encrypted with AES-256 under password, holding the key pair
// twice: credentials.csv in the format the AWS console downloads, and credentials, a profile
// for the AWS CLI credentials file named after the account and user (see ProfileName).
func CredentialsZip(accountID, userName, accessKeyID string, secretKey, password secret.Secret) ([]byte, error) {
	switch {
	case !workflow.ValidAccountID(accountID):
		return nil, fmt.Errorf("credentials zip for %s in %q: account ID is not 12 digits", accessKeyID, accountID)
	case userName == "":
		return nil, fmt.Errorf("credentials zip for %s in %s: empty user name", accessKeyID, accountID)
	case accessKeyID == "":
		return nil, fmt.Errorf("credentials zip for %s in %s: empty access key ID", userName, accountID)
	case secretKey.IsZero():
		return nil, fmt.Errorf("credentials zip for %s in %s: empty secret access key", accessKeyID, accountID)
	case len(password.Reveal()) < MinPasswordLength:
		return nil, fmt.Errorf("credentials zip for %s in %s: password shorter than %d characters", accessKeyID, accountID, MinPasswordLength)
	}

	var table bytes.Buffer
	w := csv.NewWriter(&table)
	_ = w.WriteAll([][]string{ // WriteAll's error is the buffer's, and a bytes.Buffer does not fail
		{"Access key ID", "Secret access key"},
		{accessKeyID, secretKey.Reveal()},
	})
	profile := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		ProfileName(accountID, userName), accessKeyID, secretKey.Reveal())

	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	now := time.Now()
	for _, f := range []struct {
		name    string
		content []byte
	}{
		{CredentialsCSVName, table.Bytes()},
		{CredentialsFileName, []byte(profile)},
	} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		h.SetModTime(now)
		h.SetPassword(password.Reveal())
		h.SetEncryptionMethod(zip.AES256Encryption)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return nil, fmt.Errorf("credentials zip for %s in %s: add %s: %w", accessKeyID, accountID, f.name, err)
		}
		if _, err := fw.Write(f.content); err != nil {
			return nil, fmt.Errorf("credentials zip for %s in %s: write %s: %w", accessKeyID, accountID, f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("credentials zip for %s in %s: close: %w", accessKeyID, accountID, err)
	}
	return out.Bytes(), nil
}

// profileUnsafe matches what may not appear in a CLI profile name: IAM allows ",=+@" in user
// names, and "=" or "," would confuse INI parsers.
var profileUnsafe = regexp.MustCompile(`[^A-Za-z0-9._@+-]`)

// ProfileName is the AWS CLI profile the credentials file defines: "<accountID>-<userName>",
// with characters that are unsafe in an INI section name replaced by "-".
func ProfileName(accountID, userName string) string {
	return profileUnsafe.ReplaceAllString(strings.Join([]string{accountID, userName}, "-"), "-")
}
