package runner

import (
	"context"
	"errors"
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

// mailMark is where SES's messages stood on the stand-in before the run: how many it had
// accepted (every account's), and the ID of the last one.
type mailMark struct {
	n      int
	lastID string
}

// markMail reads the mark: two small answers, however much mail the stand-in holds.
func markMail(ctx context.Context, endpoint string) (mailMark, error) {
	p, err := sandbox.SESMessages[Email](ctx, endpoint, 0, 0)
	if err != nil {
		return mailMark{}, fmt.Errorf("count the stand-in's SES messages: %w", err)
	}
	m := mailMark{n: p.Total}
	if m.n > 0 {
		last, err := sandbox.SESMessages[Email](ctx, endpoint, m.n-1, 1)
		if err != nil {
			return mailMark{}, fmt.Errorf("read the stand-in's last SES message: %w", err)
		}
		m.lastID = last.Messages[0].ID
	}
	return m, nil
}

// emailsSince returns the messages SES accepted after the mark (the stand-in appends them),
// read a page at a time (sandbox.SESPageMessages messages, sandbox.SESPageBytes bytes at
// most): the run's own mail, whatever the stand-in held before it.
func emailsSince(ctx context.Context, endpoint string, mark mailMark) ([]Email, error) {
	changed := errors.New("the stand-in's SES messages changed order during the run: cannot tell this run's emails")
	from := mark.n
	if mark.n > 0 {
		from = mark.n - 1 // the last one before the run, to see that it is still there
	}
	var out []Email
	for first := true; ; first = false {
		p, err := sandbox.SESMessages[Email](ctx, endpoint, from, sandbox.SESPageMessages)
		if err != nil {
			return nil, fmt.Errorf("read back the run's emails: %w", err)
		}
		page := p.Messages
		if first && mark.n > 0 {
			if len(page) == 0 || page[0].ID != mark.lastID {
				return nil, changed
			}
			page = page[1:]
		}
		for _, e := range page {
			e.Destinations = sandbox.UniqueAddresses(e.Destinations)
			out = append(out, e)
		}
		if from = p.Next; from >= p.Total {
			return out, nil
		}
	}
}
