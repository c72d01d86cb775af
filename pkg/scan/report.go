package scan

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// ReportUser is one user's row of the credential report: its keys without their IDs (the
// report has none), enough to decide whether the user needs a closer look.
type ReportUser struct {
	UserName string
	// Created is the user's creation time: no key of the user is older.
	Created time.Time
	// Keys are the keys the report shows with their dates.
	Keys []policy.Key
	// Hidden are the slots that may hold an Inactive key the report does not date: AWS
	// writes last_rotated N/A for an Inactive key, exactly as for an empty slot.
	Hidden []HiddenSlot
	// Console: the user has a console password (password_enabled): evidence of a person,
	// read by pkg/advice only.
	Console bool
}

// Usage returns the last use of every key the row shows, hidden slots included: the
// evidence pkg/advice reads.
func (u ReportUser) Usage() []policy.Usage {
	var out []policy.Usage
	for _, k := range u.Keys {
		out = append(out, k.Usage())
	}
	for _, h := range u.Hidden {
		if h.LastUsedDate != nil {
			out = append(out, policy.Usage{LastUsedDate: h.LastUsedDate, Service: h.Service, Region: h.Region})
		}
	}
	return out
}

// HiddenSlot is a key slot that reads active=false and last_rotated=N/A: empty, or an
// Inactive key of unknown age (at most the user's).
type HiddenSlot struct {
	// LastUsedDate is the slot's last use when the report has one (then the slot surely
	// holds a key); nil for N/A or no_information.
	LastUsedDate *time.Time
	// Service and Region are its last use's, "" when not known.
	Service, Region string
}

// worstCase returns the user's keys with each hidden slot filled by the oldest key it could
// hold: Inactive, created with the user. Whatever the slot really holds is no more due.
func (u ReportUser) worstCase() []policy.Key {
	keys := slices.Clone(u.Keys)
	for _, h := range u.Hidden {
		keys = append(keys, policy.Key{Status: policy.Inactive, CreateDate: u.Created, LastUsedDate: h.LastUsedDate,
			LastUsedService: h.Service, LastUsedRegion: h.Region})
	}
	return keys
}

// userCreated is the report's column of the user's creation time.
const userCreated = "user_creation_time"

// rootRow is the report's row for the account's root user, which has no IAM user to act on.
const rootRow = "<root_account>"

// The columns the scanner reads, per key slot: the first three drive decisions and must be
// there; the last use's service and region are evidence for people (pkg/advice), read when
// there, "" when not.
var keyColumns = [2]struct{ active, rotated, used, service, region string }{
	{"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_service", "access_key_1_last_used_region"},
	{"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_service", "access_key_2_last_used_region"},
}

// passwordEnabled is the report's column that says whether the user has a console password
// (true, false; not_supported for the root row): evidence only, read when there.
const passwordEnabled = "password_enabled"

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
	for _, name := range []string{"user", userCreated, keyColumns[0].active, keyColumns[0].rotated, keyColumns[0].used,
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
		created, err := reportTime(userCreated, row[col[userCreated]])
		if err == nil && created == nil {
			err = fmt.Errorf("column %s: %q is not a time", userCreated, row[col[userCreated]])
		}
		if err != nil {
			return nil, fmt.Errorf("credential report line %d (user %s): %w", line, u.UserName, err)
		}
		u.Created = *created
		u.Console = strings.EqualFold(evidence(row, col, passwordEnabled), "true")
		for _, kc := range keyColumns {
			key, present, err := parseKeySlot(row, col, kc.active, kc.rotated, kc.used)
			if err != nil {
				return nil, fmt.Errorf("credential report line %d (user %s): %w", line, u.UserName, err)
			}
			if key.LastUsedDate != nil {
				key.LastUsedService, key.LastUsedRegion = evidence(row, col, kc.service), evidence(row, col, kc.region)
			}
			switch {
			case present:
				u.Keys = append(u.Keys, key)
			case key.Status == policy.Inactive:
				u.Hidden = append(u.Hidden, HiddenSlot{LastUsedDate: key.LastUsedDate, Service: key.LastUsedService, Region: key.LastUsedRegion})
			}
		}
		users = append(users, u)
	}
}

// parseKeySlot reads one key slot. A slot with a last_rotated date holds a key (present).
// One without (N/A) and inactive is empty or holds an Inactive key, which AWS does not
// date: it is returned not present, with Status Inactive and the slot's last use. An
// active key without a date is an error.
func parseKeySlot(row []string, col map[string]int, activeCol, rotatedCol, usedCol string) (policy.Key, bool, error) {
	rotated, err := reportTime(rotatedCol, row[col[rotatedCol]])
	if err != nil {
		return policy.Key{}, false, err
	}
	k := policy.Key{Status: policy.Inactive}
	// The IAM user guide documents TRUE and FALSE, the reports seen carry true and false:
	// either is read, any casing.
	switch v := row[col[activeCol]]; strings.ToLower(v) {
	case "true":
		k.Status = policy.Active
	case "false":
	default:
		return policy.Key{}, false, fmt.Errorf("column %s: %q is not true or false", activeCol, v)
	}
	if k.LastUsedDate, err = reportTime(usedCol, row[col[usedCol]]); err != nil {
		return policy.Key{}, false, err
	}
	if rotated == nil {
		if k.Status == policy.Active {
			return policy.Key{}, false, fmt.Errorf("column %s: N/A for an active key", rotatedCol)
		}
		return k, false, nil
	}
	k.CreateDate = *rotated
	return k, true, nil
}

// evidence is a column read as evidence for people, never for a decision: its value, "" when
// the report lacks the column or says N/A (or no_information, not_supported).
func evidence(row []string, col map[string]int, name string) string {
	i, ok := col[name]
	if !ok {
		return ""
	}
	switch v := row[i]; strings.ToLower(v) {
	case "n/a", "no_information", "not_supported":
		return ""
	default:
		return v
	}
}

// reportTime parses a report timestamp; N/A (and the like) is nil.
func reportTime(column, v string) (*time.Time, error) {
	switch strings.ToLower(v) { // in any casing, as the booleans
	case "n/a", "no_information", "not_supported":
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("column %s: %q is not a time or N/A", column, v)
	}
	return &t, nil
}
