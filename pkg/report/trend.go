package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TrendKey is the report bucket's record of the last TrendRuns runs' figures (a JSON array of
// TrendPoint, oldest first), which each run's report reads and writes back with its own: the
// trend chart costs one GET and one PUT a run, whatever the reports kept. Where it is missing
// (the first run with it), it is made from the last TrendRuns reports.json in the bucket,
// reading only the start of each (the run and its totals come first).
const TrendKey = "reports/trend.json"

// TrendRuns bounds the trend: the runs it keeps, and the reports read to make it.
const TrendRuns = 30

// trendHeadBytes is what is read of a report.json to make the trend: its run and totals.
const trendHeadBytes = 64 << 10

// TrendPoint is one run's figures in the trend.
type TrendPoint struct {
	RunID         string `json:"runId"`
	Day           string `json:"day"` // the run's day, YYYY-MM-DD
	UsersWithKeys int    `json:"usersWithKeys"`
	ActiveKeys    int    `json:"activeKeys"`
}

// inTrend says whether a run's report belongs in the trend: one over the whole organization
// (a run of named accounts counts a part of it).
func inTrend(run workflow.Run) bool { return len(run.Accounts) == 0 }

func trendPoint(run workflow.Run, t workflow.Counts) TrendPoint {
	p := TrendPoint{RunID: run.RunID, Day: run.Now.UTC().Format(time.DateOnly)}
	for _, n := range t.UsersWithKeys {
		p.UsersWithKeys += n
	}
	for _, n := range t.KeyAges {
		p.ActiveKeys += n
	}
	return p
}

// trend reads the trend, adds the run's point (in place of an earlier one of the same run: a
// retried report), keeps the last TrendRuns and writes it back when the run belongs in it.
// The trend is a picture, not a record: what fails here is logged, and the email goes without.
func (r *Handler) trend(ctx context.Context, doc Document) []TrendPoint {
	points, err := r.readTrend(ctx)
	if err != nil {
		r.Log.WarnContext(ctx, "trend of users with keys not read", "error", err.Error())
		return nil
	}
	if !inTrend(doc.Run) {
		return points
	}
	points = slices.DeleteFunc(points, func(p TrendPoint) bool { return p.RunID == doc.Run.RunID })
	points = append(points, trendPoint(doc.Run, doc.Totals))
	points = points[max(0, len(points)-TrendRuns):]
	body, err := json.Marshal(points)
	if err == nil {
		err = r.put(ctx, TrendKey, "application/json", body)
	}
	if err != nil {
		r.Log.WarnContext(ctx, "trend of users with keys not written", "error", err.Error())
	}
	return points
}

// readTrend reads TrendKey, or where it is missing makes the trend from the reports in the
// bucket.
func (r *Handler) readTrend(ctx context.Context) ([]TrendPoint, error) {
	var points []TrendPoint
	err := r.getJSON(ctx, TrendKey, &points)
	var missing *s3types.NoSuchKey
	if errors.As(err, &missing) {
		return r.trendFromReports(ctx)
	}
	return points, err
}

// trendFromReports makes the trend from the last TrendRuns whole-organization reports in the
// bucket, by their time of writing: one listing (a page holds 500 runs' reports) and a ranged
// GET of the head of each. A report that cannot be read is left out.
func (r *Handler) trendFromReports(ctx context.Context) ([]TrendPoint, error) {
	type found struct {
		key string
		at  time.Time
	}
	var reports []found
	pages := s3.NewListObjectsV2Paginator(r.S3, &s3.ListObjectsV2Input{Bucket: &r.Bucket, Prefix: aws.String("reports/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/reports/: %w", r.Bucket, err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, "/report.json") {
				reports = append(reports, found{k, aws.ToTime(o.LastModified)})
			}
		}
	}
	slices.SortStableFunc(reports, func(a, b found) int { return a.at.Compare(b.at) })
	var points []TrendPoint
	// The newest first, until TrendRuns are found or 2 × TrendRuns read.
	for i, read := len(reports)-1, 0; i >= 0 && len(points) < TrendRuns && read < 2*TrendRuns; i, read = i-1, read+1 {
		head, err := r.reportHead(ctx, reports[i].key)
		if err != nil {
			r.Log.WarnContext(ctx, "report left out of the trend", "key", reports[i].key, "error", err.Error())
			continue
		}
		if inTrend(head.Run) {
			points = append(points, trendPoint(head.Run, head.Totals))
		}
	}
	slices.Reverse(points)
	return points, nil
}

// reportHead reads a report.json's run and totals from its first trendHeadBytes.
func (r *Handler) reportHead(ctx context.Context, key string) (Document, error) {
	out, err := r.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.Bucket, Key: &key,
		Range: aws.String(fmt.Sprintf("bytes=0-%d", trendHeadBytes-1))})
	if err != nil {
		return Document{}, err
	}
	defer out.Body.Close()
	return decodeHead(io.LimitReader(out.Body, trendHeadBytes))
}

// decodeHead decodes a report.json's "run" and "totals", which come first (Document's field
// order), and stops there: the accounts after them may be cut off.
func decodeHead(body io.Reader) (Document, error) {
	var doc Document
	dec := json.NewDecoder(body)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return doc, fmt.Errorf("not a report: %v", err)
	}
	seen := 0
	for seen < 2 {
		t, err := dec.Token()
		if err != nil {
			return doc, err
		}
		switch t {
		case "run":
			err = dec.Decode(&doc.Run)
		case "totals":
			err = dec.Decode(&doc.Totals)
		default:
			return doc, fmt.Errorf("no run and totals at the start of the report")
		}
		if err != nil {
			return doc, err
		}
		seen++
	}
	return doc, nil
}
