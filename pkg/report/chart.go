package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// The support email's charts are small PNGs drawn here, with the standard library alone: no
// chart service sees the organization's figures, and email clients that do not show inline
// SVG show a PNG. A chart has no text; the email says what its axes are, and its text part
// (and the HTML, under the picture) has the same numbers as a table. Each is a few KB.

// Chart geometry: every bar is barWidth pixels wide with barGap between bars, inside a margin.
const (
	barWidth    = 8
	barGap      = 2
	chartMargin = 10
	chartHeight = 120
)

// The palette: a paletted PNG of four colours compresses to a few hundred bytes.
var (
	chartBackground = color.RGBA{0xff, 0xff, 0xff, 0xff}
	chartAxis       = color.RGBA{0x99, 0x99, 0x99, 0xff}
	chartBar        = color.RGBA{0x1f, 0x6f, 0xb4, 0xff} // blue
	chartPast       = color.RGBA{0xd6, 0x27, 0x28, 0xff} // red: past the limit
	chartPalette    = color.Palette{chartBackground, chartAxis, chartBar, chartPast}
)

// barRect is bar i's full-height column of a chart: where its bar is drawn, bottom-aligned.
func barRect(i int) image.Rectangle {
	x := chartMargin + i*(barWidth+barGap)
	return image.Rect(x, chartMargin, x+barWidth, chartHeight-chartMargin)
}

// barChart draws values as bars scaled to the largest (at least 1), bar i in red when past(i).
func barChart(values []int, past func(i int) bool) ([]byte, error) {
	w := 2*chartMargin + len(values)*(barWidth+barGap) - barGap
	img := image.NewPaletted(image.Rect(0, 0, max(w, 2*chartMargin+1), chartHeight), chartPalette)
	top := 1
	for _, v := range values {
		top = max(top, v)
	}
	fill := func(r image.Rectangle, c color.Color) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.Set(x, y, c)
			}
		}
	}
	base := chartHeight - chartMargin
	for i, v := range values {
		if v <= 0 {
			continue
		}
		col := barRect(i)
		h := max(1, v*(base-chartMargin)/top) // a bar of one key still shows
		c := color.Color(chartBar)
		if past != nil && past(i) {
			c = chartPast
		}
		fill(image.Rect(col.Min.X, base-h, col.Max.X, base), c)
	}
	fill(image.Rect(chartMargin-1, base, w-chartMargin+1, base+1), chartAxis)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	return out.Bytes(), nil
}

// pastLimit says whether bucket i of Counts.KeyAges holds keys at or past limit days: those
// the rules deactivate (the last bucket, of every older key, always may).
func pastLimit(i, limit int) bool {
	return limit > 0 && ((i+1)*workflow.KeyAgeBucketDays > limit || i == workflow.KeyAgeBuckets-1)
}

// keyAgeChart is the support email's histogram of the organization's active keys by 10-day
// age bucket, the buckets past the limit in red, with its text table; no chart without keys.
func keyAgeChart(t workflow.Counts) (*notify.Chart, error) {
	total := 0
	for _, n := range t.KeyAges {
		total += n
	}
	if total == 0 {
		return nil, nil
	}
	img, err := barChart(t.KeyAges, func(i int) bool { return pastLimit(i, t.KeyAgeLimit) })
	if err != nil {
		return nil, err
	}
	var rows []string
	for i, n := range t.KeyAges {
		if n == 0 {
			continue
		}
		lo := i * workflow.KeyAgeBucketDays
		span := fmt.Sprintf("%d-%d days", lo, lo+workflow.KeyAgeBucketDays-1)
		if i == workflow.KeyAgeBuckets-1 {
			span = fmt.Sprintf("%d+ days", lo)
		}
		mark := ""
		if pastLimit(i, t.KeyAgeLimit) {
			mark = " (past the limit)"
		}
		rows = append(rows, fmt.Sprintf("%-12s %6d%s", span, n, mark))
	}
	return &notify.Chart{Name: KeyAgesChartName, PNG: img,
		Title: fmt.Sprintf("Active access keys by age: %d keys, one bar per 10 days from 0 (left) to %d+ days (right); red: at or past the %d-day limit",
			total, (workflow.KeyAgeBuckets-1)*workflow.KeyAgeBucketDays, t.KeyAgeLimit),
		Table: rows}, nil
}

// trendChart is the support email's bars of the IAM users with active keys on each of the
// last runs (oldest left, this run right), with its text table; no chart without a point.
func trendChart(points []TrendPoint) (*notify.Chart, error) {
	if len(points) == 0 {
		return nil, nil
	}
	values := make([]int, len(points))
	rows := make([]string, len(points))
	for i, p := range points {
		values[i] = p.UsersWithKeys
		rows[i] = fmt.Sprintf("%-10s %6d", p.Day, p.UsersWithKeys)
	}
	img, err := barChart(values, nil)
	if err != nil {
		return nil, err
	}
	first, last := points[0], points[len(points)-1]
	title := fmt.Sprintf("IAM users with active access keys over the last %d runs, oldest left, this run right: %d on %s, %d on %s",
		len(points), first.UsersWithKeys, first.Day, last.UsersWithKeys, last.Day)
	if len(points) == 1 {
		title = fmt.Sprintf("IAM users with active access keys: %d on %s (each run adds a bar, up to %d)", last.UsersWithKeys, last.Day, TrendRuns)
	}
	return &notify.Chart{Name: TrendChartName, PNG: img, Title: title, Table: rows}, nil
}

// The charts' file names, which their Content-IDs are made of (cid:key-ages.png).
const (
	KeyAgesChartName = "key-ages.png"
	TrendChartName   = "users-with-keys.png"
)
