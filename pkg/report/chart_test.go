package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// knownAges is a known organization's key ages: 3 keys under 10 days, 5 of 80 to 89 days,
// 2 of 90 to 99 and one older than 360, against a limit of 90 days.
func knownAges() workflow.Counts {
	ages := make([]int, workflow.KeyAgeBuckets)
	ages[0], ages[8], ages[9], ages[workflow.KeyAgeBuckets-1] = 3, 5, 2, 1
	return workflow.Counts{KeyAges: ages, KeyAgeLimit: 90}
}

// barPixel is the colour of a chart at the foot of bar i (where any bar of it is drawn).
func barPixel(t *testing.T, img image.Image, i int) color.RGBA {
	t.Helper()
	r := barRect(i)
	return color.RGBAModel.Convert(img.At((r.Min.X+r.Max.X)/2, r.Max.Y-1)).(color.RGBA)
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the chart is not a PNG: %v", err)
	}
	return img
}

// TestKeyAgeChartMarksBucketsPastTheLimitInRed: the key-age histogram of a known report is a
// PNG of a few hundred bytes, one bar per 10-day bucket, those holding keys at or past the
// limit red and the others blue, an empty bucket no bar; its table has the same numbers.
func TestKeyAgeChartMarksBucketsPastTheLimitInRed(t *testing.T) {
	c, err := keyAgeChart(knownAges())
	if err != nil || c == nil {
		t.Fatalf("chart %v, %v", c, err)
	}
	img := decodePNG(t, c.PNG)
	wantW := 2*chartMargin + workflow.KeyAgeBuckets*(barWidth+barGap) - barGap
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != chartHeight || len(c.PNG) > 2000 {
		t.Errorf("chart %dx%d of %d bytes, want %dx%d of at most 2000", b.Dx(), b.Dy(), len(c.PNG), wantW, chartHeight)
	}
	for _, tc := range []struct {
		bucket int
		want   color.RGBA
	}{{0, chartBar}, {1, chartBackground}, {8, chartBar}, {9, chartPast}, {10, chartBackground}, {workflow.KeyAgeBuckets - 1, chartPast}} {
		if got := barPixel(t, img, tc.bucket); got != tc.want {
			t.Errorf("bucket %d: colour %v, want %v", tc.bucket, got, tc.want)
		}
	}
	// The tallest bar (bucket 8, 5 keys) reaches the top; bucket 9 (2 keys) does not.
	if top := barRect(8); color.RGBAModel.Convert(img.At(top.Min.X, top.Min.Y)) != chartBar ||
		color.RGBAModel.Convert(img.At(barRect(9).Min.X, top.Min.Y)) != chartBackground {
		t.Errorf("bars not scaled to the largest bucket")
	}
	table := strings.Join(c.Table, "\n")
	for _, want := range []string{"0-9 days          3", "80-89 days        5\n", "90-99 days        2 (past the limit)", "360+ days         1 (past the limit)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// A limit inside a bucket makes the bucket red: it holds keys past it.
	c95, _ := keyAgeChart(workflow.Counts{KeyAges: knownAges().KeyAges, KeyAgeLimit: 95})
	if img := decodePNG(t, c95.PNG); barPixel(t, img, 9) != chartPast || barPixel(t, img, 8) != chartBar {
		t.Errorf("limit 95: bucket 9 %v (want red), bucket 8 %v (want blue)", barPixel(t, img, 9), barPixel(t, img, 8))
	}
}

// mailPart is one leaf part of a MIME message, decoded.
type mailPart struct {
	contentType, contentID, disposition string
	body                                []byte
}

func mailParts(t *testing.T, raw []byte) []mailPart {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	var out []mailPart
	var walk func(h func(string) string, body io.Reader)
	walk = func(h func(string) string, body io.Reader) {
		mediaType, params, err := mime.ParseMediaType(h("Content-Type"))
		if err != nil {
			t.Fatalf("content type %q: %v", h("Content-Type"), err)
		}
		if strings.HasPrefix(mediaType, "multipart/") {
			parts := multipart.NewReader(body, params["boundary"])
			for {
				p, err := parts.NextPart() // decodes quoted-printable
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("next part: %v", err)
				}
				walk(p.Header.Get, p)
			}
		}
		if strings.EqualFold(h("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read %s: %v", mediaType, err)
		}
		out = append(out, mailPart{mediaType, h("Content-ID"), h("Content-Disposition"), data})
	}
	walk(msg.Header.Get, msg.Body)
	return out
}

// TestSupportEmailShowsKeyAgesAndTrendInline: the support email of a known report carries the
// key-age histogram and the trend of users with keys (the two runs in the bucket's trend and
// this one) as inline PNG parts that its HTML references by cid:, and its text part has their
// numbers; the trend in the bucket gains the run.
func TestSupportEmailShowsKeyAgesAndTrendInline(t *testing.T) {
	store, listing := failedNotifications(t)
	var prod workflow.AccountResult
	key := workflow.ResultKey(listing.Run.RunID, "111111111111")
	if err := json.Unmarshal(store.objects[key], &prod); err != nil {
		t.Fatal(err)
	}
	prod.Counts.KeyAges, prod.Counts.KeyAgeLimit = knownAges().KeyAges, 90
	prod.Counts.UsersWithKeys = map[advice.Use]int{advice.Person: 7}
	store.putJSON(t, key, prod)
	store.putJSON(t, TrendKey, []TrendPoint{{RunID: "run-a", Day: "2026-11-23", UsersWithKeys: 12}, {RunID: "run-b", Day: "2026-11-24", UsersWithKeys: 9}})
	ses := &fakeSES{}
	r := &Handler{S3: store, SNS: &fakeSNS{}, Sender: notify.NewSender(ses, "", nil), Bucket: "reports", From: "rotator@example.com",
		SupportEmail: "support@example.com", TopicARN: "arn:aws:sns:us-east-1:999999999999:failures",
		Log: slog.New(slog.DiscardHandler), Metrics: io.Discard}
	if _, err := r.Handle(context.Background(), workflow.ReportRequest{Listing: listing}); err != nil {
		t.Fatal(err)
	}
	if len(ses.raws) != 1 {
		t.Fatalf("%d support emails, want 1", len(ses.raws))
	}
	var html, text string
	images := map[string][]byte{}
	for _, p := range mailParts(t, ses.raws[0]) {
		switch {
		case p.contentType == "text/html":
			html = string(p.body)
		case p.contentType == "text/plain":
			text = string(p.body)
		case p.contentType == "image/png" && strings.HasPrefix(p.disposition, "inline"):
			images[p.contentID] = p.body
		}
	}
	for _, name := range []string{KeyAgesChartName, TrendChartName} {
		if !strings.Contains(html, `src="cid:`+name+`"`) {
			t.Errorf("the HTML does not show cid:%s", name)
		}
		img, ok := images["<"+name+">"]
		if !ok {
			t.Fatalf("no inline part with Content-ID <%s>; inline images %v", name, keys(images))
		}
		decodePNG(t, img)
		if len(img) > 4000 {
			t.Errorf("%s is %d bytes, want a few KB at most", name, len(img))
		}
	}
	if img := decodePNG(t, images["<"+KeyAgesChartName+">"]); barPixel(t, img, 9) != chartPast || barPixel(t, img, 8) != chartBar {
		t.Errorf("the emailed key-age chart does not mark 90-99 days red and 80-89 blue")
	}
	for _, want := range []string{"90-99 days        2 (past the limit)", "2026-11-23     12", "2026-11-25      7", "over the last 3 runs"} {
		if !strings.Contains(text, want) || !strings.Contains(html, want) {
			t.Errorf("the text part or the HTML lacks %q:\n%s", want, text)
		}
	}
	var points []TrendPoint
	if err := json.Unmarshal(store.objects[TrendKey], &points); err != nil || len(points) != 3 ||
		points[2] != (TrendPoint{RunID: "run-1", Day: "2026-11-25", UsersWithKeys: 7, ActiveKeys: 11}) {
		t.Errorf("trend %+v (%v), want run-a, run-b and run-1 with 7 users and 11 keys", points, err)
	}
}

// TestTrendIsMadeFromTheReportsInTheBucket: without a trend record, the trend is made from the
// whole-organization reports in the bucket, oldest first (a run of named accounts is left
// out, and so is a report that cannot be read), then this run; the record is written.
func TestTrendIsMadeFromTheReportsInTheBucket(t *testing.T) {
	store := &fakeS3{objects: map[string][]byte{}, pageSize: 2}
	for i, d := range []struct {
		id       string
		accounts []string
		users    int
	}{{"a-old", nil, 20}, {"b-canary", []string{"111111111111"}, 1}, {"c-new", nil, 18}} {
		store.putJSON(t, workflow.ReportKey(d.id, "json"), Document{
			Run:      workflow.Run{RunID: d.id, Now: time.Date(2026, 11, 20+i, 13, 0, 0, 0, time.UTC), Accounts: d.accounts},
			Totals:   workflow.Counts{UsersWithKeys: map[advice.Use]int{advice.Person: d.users}},
			Accounts: []workflow.AccountResult{{Status: workflow.AccountDone}}})
		store.objects[workflow.ReportKey(d.id, "csv")] = []byte("a,b\n")
	}
	store.objects[workflow.ReportKey("d-broken", "json")] = []byte("{\"accounts\": []}")
	r := &Handler{S3: store, Bucket: "reports", Log: slog.New(slog.DiscardHandler)}
	run := workflow.Run{RunID: "e-today", Now: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}
	got := r.trend(context.Background(), Document{Run: run, Totals: workflow.Counts{UsersWithKeys: map[advice.Use]int{advice.Person: 15}}})
	var days []string
	for _, p := range got {
		days = append(days, p.RunID+"="+p.Day)
	}
	if strings.Join(days, " ") != "a-old=2026-11-20 c-new=2026-11-22 e-today=2026-11-25" || got[0].UsersWithKeys != 20 || got[2].UsersWithKeys != 15 {
		t.Errorf("trend %+v, want a-old (20), c-new and e-today (15)", got)
	}
	if _, ok := store.objects[TrendKey]; !ok {
		t.Errorf("no %s written", TrendKey)
	}
}
