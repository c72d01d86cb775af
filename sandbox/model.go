package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// MaxAnswerBytes is the most of one answer of the stand-in's own endpoints that a client
// here reads: a larger answer is an error, not a truncated document.
const MaxAnswerBytes = 64 << 20

// ModelPage is one piece of the instances of one of moto's models, in the order moto made
// them: Instances are those from the index asked for to Next (exclusive), of Total so far.
type ModelPage[T any] struct {
	Total     int `json:"total"`
	Next      int `json:"next"`
	Instances []T `json:"instances"`
}

// ModelInstances reads every instance of moto's model service.name (what
// /moto-api/data.json lists under it: ses.Message, sts.AssumedRole, sns.Topic, …, with the
// same public attributes), each decoded into T, a page at a time (SESPageMessages instances
// and SESPageBytes bytes of JSON at most, past a page's first): its answers stay bounded
// however much the stand-in holds. data.json is the whole state, every account's IAM and
// every SES message included, in one answer, which stops fitting one (MaxAnswerBytes) near
// 3,000 accounts; nothing here reads it.
func ModelInstances[T any](ctx context.Context, url, service, name string) ([]T, error) {
	var out []T
	for from := 0; ; {
		p, err := ModelInstancesPage[T](ctx, url, service, name, from, SESPageMessages)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Instances...)
		if from = p.Next; from >= p.Total {
			return out, nil
		}
	}
}

// ModelInstancesPage reads the page of model service.name's instances that starts at index
// from (0-based), at most limit of them (1 to 1000) and, past the first, SESPageBytes of
// JSON.
func ModelInstancesPage[T any](ctx context.Context, url, service, name string, from, limit int) (*ModelPage[T], error) {
	var p ModelPage[T]
	q := fmt.Sprintf("%s/keyrotator/model?service=%s&name=%s&from=%d&limit=%d&maxBytes=%d",
		url, service, name, from, limit, SESPageBytes)
	if err := callJSON(ctx, http.MethodGet, q, nil, &p); err != nil {
		return nil, err
	}
	if p.Next != from+len(p.Instances) || p.Next > p.Total || (limit > 0 && from < p.Total && len(p.Instances) == 0) {
		return nil, fmt.Errorf("GET %s: a page of %d instances from %d ends at %d of %d", q, len(p.Instances), from, p.Next, p.Total)
	}
	return &p, nil
}

// SESPage is one piece of the raw messages SES accepted (every account and region), in the
// order it accepted them: Messages are those from the index asked for to Next (exclusive),
// of Total so far.
type SESPage[T any] struct {
	Total    int `json:"total"`
	Next     int `json:"next"`
	Messages []T `json:"messages"`
}

// SESPageMessages and SESPageBytes bound a page of SESMessages (and of ModelInstances): at
// most that many messages, and past the first no more than that many bytes of raw MIME (of
// JSON), whatever the stand-in holds.
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
