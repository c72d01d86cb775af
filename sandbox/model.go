package sandbox

import (
	"context"
	"net/http"
	"slices"
)

// ReadModel decodes the stand-in's /moto-api/data.json into v: moto lists every instance of
// its models there, per service and class, with their public attributes (SES messages, SNS
// publications, STS sessions, …). v declares the part the caller reads.
func ReadModel(ctx context.Context, url string, v any) error {
	return callJSON(ctx, http.MethodGet, url+"/moto-api/data.json", nil, v)
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
