package scan

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// ReportUser is one user's row of the credential report: its keys without their IDs (the
// report has none), enough to decide whether the user needs a closer look.
type ReportUser struct {
	UserName string
	Keys     []policy.Key
}

// rootRow is the report's row for the account's root user, which has no IAM user to act on.
const rootRow = "<root_account>"

// The columns the scanner reads, per key slot.
var keyColumns = [2]struct{ active, rotated, used string }{
	{"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date"},
	{"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date"},
}

// ParseCredentialReport reads IAM's credential report CSV strictly: a missing column, a row
// of the wrong width, an unknown boolean or a malformed date is an error naming its line and
// column, so that a report we do not understand never drives a write.
func ParseCredentialReport(content []byte) ([]ReportUser, error) {
	r := csv.NewReader(bytes.NewReader(content))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("credential report header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[name] = i
	}
	for _, name := range []string{"user", keyColumns[0].active, keyColumns[0].rotated, keyColumns[0].used,
		keyColumns[1].active, keyColumns[1].rotated, keyColumns[1].used} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("credential report: column %s is missing", name)
		}
	}
	var users []ReportUser
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return users, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("credential report: %w", err)
		}
		if row[col["user"]] == rootRow {
			continue
		}
		u := ReportUser{UserName: row[col["user"]]}
		if u.UserName == "" {
			return nil, fmt.Errorf("credential report line %d: empty user name", line)
		}
		for _, kc := range keyColumns {
			key, present, err := parseKeySlot(row, col, kc.active, kc.rotated, kc.used)
			if err != nil {
				return nil, fmt.Errorf("credential report line %d (user %s): %w", line, u.UserName, err)
			}
			if present {
				u.Keys = append(u.Keys, key)
			}
		}
		users = append(users, u)
	}
}

// parseKeySlot reads one key slot; a slot whose last_rotated is N/A holds no key.
func parseKeySlot(row []string, col map[string]int, activeCol, rotatedCol, usedCol string) (policy.Key, bool, error) {
	rotated, err := reportTime(rotatedCol, row[col[rotatedCol]])
	if err != nil || rotated == nil {
		return policy.Key{}, false, err
	}
	k := policy.Key{CreateDate: *rotated, Status: policy.Inactive}
	switch v := row[col[activeCol]]; v {
	case "true":
		k.Status = policy.Active
	case "false":
	default:
		return policy.Key{}, false, fmt.Errorf("column %s: %q is not true or false", activeCol, v)
	}
	if k.LastUsedDate, err = reportTime(usedCol, row[col[usedCol]]); err != nil {
		return policy.Key{}, false, err
	}
	return k, true, nil
}

// reportTime parses a report timestamp; N/A (and the like) is nil.
func reportTime(column, v string) (*time.Time, error) {
	switch v {
	case "N/A", "no_information", "not_supported":
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("column %s: %q is not a time or N/A", column, v)
	}
	return &t, nil
}
