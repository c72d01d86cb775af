package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
)

// Settings are the rotator settings a seeded scenario carries, as the stand-in serves
// them at GET /keyrotator/settings.
type Settings struct {
	Region              string `json:"region"`
	OrganizationID      string `json:"organizationId"`
	ManagementAccountID string `json:"managementAccountId"`
	// Rotator is the rotator's configuration the scenario decides (its member role, sender,
	// support address, allowed domains, exclusions and GitHub delivery), the rest unset. The
	// stand-in serves it as the Lambdas' variables ("rotator": config.Settings.Environ), and
	// GetSettings reads it back as a Lambda does (config.Load: an unset variable takes its
	// default), so that a setting of config.Table needs nothing here.
	Rotator  config.Settings   `json:"-"`
	Accounts []AccountSettings `json:"accounts"`
	// SeededAt is the "now" the scenario's ages were counted from.
	SeededAt time.Time `json:"seededAt"`
}

// settingsJSON is Settings as the stand-in stores it: the rotator's configuration as its
// variables.
type settingsJSON struct {
	*plainSettings
	Rotator map[string]string `json:"rotator"`
}

type plainSettings Settings

// MarshalJSON writes the rotator's configuration as its variables (config.Settings.Environ).
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(settingsJSON{plainSettings: (*plainSettings)(&s), Rotator: s.Rotator.Environ()})
}

// UnmarshalJSON reads the rotator's configuration from its variables, as a Lambda does
// (config.Load).
func (s *Settings) UnmarshalJSON(data []byte) error {
	v := settingsJSON{plainSettings: (*plainSettings)(s)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	rotator, err := config.Load(func(name string) string { return v.Rotator[name] })
	if err != nil {
		return fmt.Errorf("the rotator's settings: %w", err)
	}
	s.Rotator = rotator
	return nil
}

// AccountSettings is one entry of the name → ID map.
type AccountSettings struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Management bool   `json:"management,omitempty"`
	// Excluded: the rotator never assumes into it (by ID, OU or tag: Scenario.Excluded).
	Excluded bool `json:"excluded,omitempty"`
	// OU is the account's OU path below the root (Account.OU); empty: the root.
	OU string `json:"ou,omitempty"`
}

// Bindings are the values of the placeholders of the synthesized policies
// (sandbox/permissions) that the seeded organization decides; the local runner adds those of
// the rotator's resources. The rotator runs in the management account.
func (s *Settings) Bindings() permissions.Bindings {
	return permissions.Bindings{
		permissions.Partition:           Partition,
		permissions.Region:              s.Region,
		permissions.RotatorAccountID:    s.ManagementAccountID,
		permissions.ManagementAccountID: s.ManagementAccountID,
		permissions.OrganizationID:      s.OrganizationID,
		permissions.MemberRoleName:      s.Rotator.MemberRoleName,
		permissions.SenderEmail:         s.Rotator.SenderEmail,
		permissions.SenderDomain:        s.Rotator.SenderEmail[strings.LastIndex(s.Rotator.SenderEmail, "@")+1:],
		// Without a github section, the grant names a secret that does not exist.
		permissions.GitHubAppSecretARN: cmp.Or(s.Rotator.GitHubAppSecretARN,
			"arn:"+Partition+":secretsmanager:"+s.Region+":"+s.ManagementAccountID+":secret:no-github-app-configured"),
	}
}

// AccountID returns the ID of the account named name.
func (s *Settings) AccountID(name string) (string, bool) {
	for _, a := range s.Accounts {
		if a.Name == name {
			return a.ID, true
		}
	}
	return "", false
}

// GetSettings reads the settings from the stand-in at url.
func GetSettings(ctx context.Context, url string) (*Settings, error) {
	var s Settings
	if err := callJSON(ctx, http.MethodGet, url+"/keyrotator/settings", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func putSettings(ctx context.Context, url string, s *Settings) error {
	return callJSON(ctx, http.MethodPut, url+"/keyrotator/settings", s, nil)
}

// callJSON sends in (if any) as JSON and decodes the answer into out (if any).
func callJSON(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if len(data) > MaxAnswerBytes {
		return fmt.Errorf("%s %s: the answer is over %d MiB: read it in pieces", method, url, MaxAnswerBytes>>20)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	return nil
}
