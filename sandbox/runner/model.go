package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// Email is a message SES accepted: its envelope, raw MIME text, and when SES received it
// (the stand-in stamps each).
type Email struct {
	ID           string    `json:"id"`
	Source       string    `json:"source"`
	Destinations []string  `json:"destinations"`
	Raw          string    `json:"raw_data"`
	Sent         time.Time `json:"sent_at"`
}

// BusiestSecond is the most emails SES accepted in one UTC second, and that second.
func BusiestSecond(emails []Email) (int, time.Time) {
	perSecond := map[int64]int{}
	most, at := 0, time.Time{}
	for _, e := range emails {
		s := e.Sent.Unix()
		if perSecond[s]++; perSecond[s] > most {
			most, at = perSecond[s], e.Sent.Truncate(time.Second)
		}
	}
	return most, at
}

// model is the part of the stand-in's /moto-api/data.json the runner reads: the raw
// messages SES accepted, in order.
type model struct {
	SES struct {
		RawMessage []Email `json:"RawMessage"`
	} `json:"ses"`
}

func readModel(ctx context.Context, endpoint string) (*model, error) {
	var m model
	if err := sandbox.ReadModel(ctx, endpoint, &m); err != nil {
		return nil, err
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
		out[i].Destinations = sandbox.UniqueAddresses(out[i].Destinations)
	}
	return out, nil
}
