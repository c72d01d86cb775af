package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// Email is a message SES accepted: its envelope and raw MIME text.
type Email struct {
	ID           string   `json:"id"`
	Source       string   `json:"source"`
	Destinations []string `json:"destinations"`
	Raw          string   `json:"raw_data"`
}

// model is the part of the stand-in's /moto-api/data.json the runner reads: the raw
// messages SES accepted, in order.
type model struct {
	SES struct {
		RawMessage []Email `json:"RawMessage"`
	} `json:"ses"`
}

func readModel(ctx context.Context, endpoint string) (*model, error) {
	url := endpoint + "/moto-api/data.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var m model
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return &m, nil
}

// emailsSince returns the messages accepted after before was read: moto appends them.
func (m *model) emailsSince(before *model) ([]Email, error) {
	n := len(before.SES.RawMessage)
	if len(m.SES.RawMessage) < n || (n > 0 && m.SES.RawMessage[n-1].ID != before.SES.RawMessage[n-1].ID) {
		return nil, fmt.Errorf("the stand-in's SES messages changed order during the run: cannot tell this run's emails")
	}
	out := append([]Email{}, m.SES.RawMessage[n:]...)
	for i := range out {
		out[i].Destinations = unique(out[i].Destinations)
	}
	return out, nil
}

// unique drops repeated addresses, keeping the first: moto adds the message's To/Cc/Bcc
// header addresses to the envelope destinations, so each appears twice.
func unique(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
