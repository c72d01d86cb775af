package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// MaxAnswerBytes is the most of one answer of the stand-in's own endpoints (and data.json)
// that a client here reads: a larger answer is an error, not a truncated document.
const MaxAnswerBytes = 64 << 20

// ReadModel decodes the stand-in's /moto-api/data.json into v: moto lists every instance of
// its models there, per service and class, with their public attributes (SES messages, SNS
// publications, STS sessions, …). v declares the part the caller reads. It is the whole
// state in one answer, every account's IAM included: fit for a test's small organization,
// not for a run at scale (SES messages are read in pieces with SESMessages).
func ReadModel(ctx context.Context, url string, v any) error {
	return callJSON(ctx, http.MethodGet, url+"/moto-api/data.json", nil, v)
}

// SNSMessages reads every message published to a topic (GET /keyrotator/sns-messages) into
// v: {"Topic": [{"arn", "sent_notifications": [[message_id, message, subject,
// message_attributes, group_id, message_structure], ...]}]}.
func SNSMessages(ctx context.Context, url string, v any) error {
	return callJSON(ctx, http.MethodGet, url+"/keyrotator/sns-messages", nil, v)
}

// SESPage is one piece of the raw messages SES accepted (every account and region), in the
// order it accepted them: Messages are those from the index asked for to Next (exclusive),
// of Total so far.
type SESPage[T any] struct {
	Total    int `json:"total"`
	Next     int `json:"next"`
	Messages []T `json:"messages"`
}

// SESPageMessages and SESPageBytes bound a page of SESMessages: at most that many messages,
// and past the first no more than that many bytes of raw MIME, whatever the stand-in holds.
const (
	SESPageMessages = 100
	SESPageBytes    = 8 << 20
)

// SESMessages reads the page of SES's raw messages that starts at index from (0-based;
// from = Total gives an empty page), each decoded into T (its JSON fields: id, source,
// destinations, raw_data, sent_at). limit 0 reads the total alone.
func SESMessages[T any](ctx context.Context, url string, from, limit int) (*SESPage[T], error) {
	var p SESPage[T]
	q := fmt.Sprintf("%s/keyrotator/ses-messages?from=%d&limit=%d&maxBytes=%d", url, from, limit, SESPageBytes)
	if err := callJSON(ctx, http.MethodGet, q, nil, &p); err != nil {
		return nil, err
	}
	if p.Next != from+len(p.Messages) || p.Next > p.Total || (limit > 0 && from < p.Total && len(p.Messages) == 0) {
		return nil, fmt.Errorf("GET %s: a page of %d messages from %d ends at %d of %d", q, len(p.Messages), from, p.Next, p.Total)
	}
	return &p, nil
}

// UniqueAddresses drops repeated addresses, keeping the first: moto's SES adds the
// message's To/Cc/Bcc header addresses to the envelope destinations, so each one appears
// twice.
func UniqueAddresses(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}
