package runner

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
)

// TestOutputWritesTheSupportEmailsChartsViewable: beside the support email's .eml, the run's
// output has each inline chart as a PNG file and the HTML showing them by file name, so that
// out/demo/mail can be looked at in a browser.
func TestOutputWritesTheSupportEmailsChartsViewable(t *testing.T) {
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	chart := pic.Bytes()
	m, err := notify.SupportReportMail("rotator@example.com", []string{"support@example.com"}, notify.SupportReport{
		Day: "2026-12-07", Summary: []string{"Accounts processed: 1"}, CSV: []byte("a,b\n"), Location: "s3://b/r.csv",
		Charts: []notify.Chart{{Name: "key-ages.png", PNG: chart, Title: "Active access keys by age", Table: []string{"0-9 days 1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &Execution{Emails: []Email{{Destinations: []string{"support@example.com"}, Raw: string(m.Raw)}}}
	if err := e.Write(dir); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(dir, "mail", "001-support@example.com-key-ages.png"))
	if err != nil || !bytes.Equal(img, chart) {
		t.Errorf("chart file: %v (%d bytes)", err, len(img))
	}
	html, err := os.ReadFile(filepath.Join(dir, "mail", "001-support@example.com.html"))
	if err != nil || !strings.Contains(string(html), `src="001-support@example.com-key-ages.png"`) {
		t.Errorf("HTML %v: does not show the chart file:\n%s", err, html)
	}
}
