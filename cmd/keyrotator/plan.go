package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

const planHelp = `Usage: keyrotator plan --in FILE|- [--table]

Reads a plan input document and prints, for each user, what the rotation policy decides
today: the actions (CreateKey, DeactivateKey, DeleteKey) with their reasons, the notices
the owner receives, and each key's evidence: where it was last used, whether its newer key
is used yet, its deactivation day, and whether it is at risk (still used within 2 days and
deactivated within 2). Nothing is read from or written to AWS.

Input (JSON; every field but users is optional):
  {"now": "2026-11-25T13:00:00Z",
   "config": {"limitDays": 90, "noticePeriod": 10, "maxUsers": 200, "cleanup": false,
              "allowedEmailDomains": ["example.com"],
              "emailTagKeys": ["EmailID", "Email"], "exemptTagKey": "Exempt"},
   "users": [{"userName": "alice", "tags": {"EmailID": "alice@example.com"},
              "keys": [{"accessKeyId": "AKIAEXAMPLE1", "status": "Active",
                        "createDate": "2026-08-27T13:00:00Z",
                        "lastUsedDate": "2026-11-24T08:00:00Z",
                        "lastUsedService": "s3", "lastUsedRegion": "eu-west-1"}],
              "noticesSent": [{"kind": "DeactivationScheduled", "accessKeyId": "AKIAEXAMPLE1"}]}]}

A user tag RotationDays (a limit shorter than limitDays) adds the user's own "timeline" and,
when the tag is ignored or raised, its "rotationDaysProblem".
now defaults to the current time; dates are RFC 3339. Exit status: 0 on success, 2 on bad
input (the message names the field, and nothing is printed on stdout).

Flags:
`

// planInput is the plan CLI's input document. Dates are strings here so that a malformed
// one is reported with its field path.
type planInput struct {
	Now    *string       `json:"now"`
	Config policy.Config `json:"config"`
	Users  []struct {
		UserName string            `json:"userName"`
		Tags     map[string]string `json:"tags"`
		Keys     []struct {
			AccessKeyID  string           `json:"accessKeyId"`
			Status       policy.KeyStatus `json:"status"`
			CreateDate   string           `json:"createDate"`
			LastUsedDate *string          `json:"lastUsedDate"`
			// Where it was last used (empty when never used).
			LastUsedService string `json:"lastUsedService"`
			LastUsedRegion  string `json:"lastUsedRegion"`
		} `json:"keys"`
		NoticesSent []policy.NoticeRef `json:"noticesSent"`
	} `json:"users"`
}

func runPlan(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", planHelp, stderr)
	in := fs.String("in", "", "plan input file, or - for standard input (required)")
	table := fs.Bool("table", false, "print an aligned table instead of JSON")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if *in == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "keyrotator plan: --in FILE (or - for stdin) is required and takes no other arguments")
		return 2
	}
	raw, err := readInput(*in, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator plan: %v\n", err)
		return 2
	}
	users, cfg, now, err := parsePlanInput(raw, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator plan: invalid input: %v\n", err)
		return 2
	}
	plan, err := policy.PlanUsers(users, cfg, now)
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator plan: invalid input: %v\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return 2
	}
	var out bytes.Buffer
	if *table {
		writePlanTable(&out, plan)
	} else {
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(plan); err != nil {
			fmt.Fprintf(stderr, "keyrotator plan: encode plan: %v\n", err)
			return 1
		}
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintf(stderr, "keyrotator plan: write plan: %v\n", err)
		return 1
	}
	return 0
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read plan input: %w", err)
	}
	return b, nil
}

// parsePlanInput decodes the document strictly (unknown fields are errors) and converts it
// to the policy's types; clock gives `now` when the document has none.
func parsePlanInput(raw []byte, clock time.Time) ([]policy.User, policy.Config, time.Time, error) {
	var in planInput
	if err := input.Decode(raw, &in); err != nil {
		return nil, policy.Config{}, time.Time{}, err
	}
	now := clock
	if in.Now != nil {
		var err error
		if now, err = input.Time("now", *in.Now); err != nil {
			return nil, policy.Config{}, time.Time{}, err
		}
	}
	var errs []error
	users := make([]policy.User, len(in.Users))
	for i, u := range in.Users {
		users[i] = policy.User{UserName: u.UserName, Tags: u.Tags, NoticesSent: u.NoticesSent, Keys: make([]policy.Key, len(u.Keys))}
		for j, k := range u.Keys {
			field := fmt.Sprintf("users[%d].keys[%d]", i, j)
			created, err := input.Time(field+".createDate", k.CreateDate)
			errs = append(errs, err)
			users[i].Keys[j] = policy.Key{AccessKeyID: k.AccessKeyID, Status: k.Status, CreateDate: created,
				LastUsedService: k.LastUsedService, LastUsedRegion: k.LastUsedRegion}
			if k.LastUsedDate != nil {
				used, err := input.Time(field+".lastUsedDate", *k.LastUsedDate)
				errs = append(errs, err)
				users[i].Keys[j].LastUsedDate = &used
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, policy.Config{}, time.Time{}, err
	}
	return users, in.Config, now, nil
}

func writePlanTable(w io.Writer, plan policy.Plan) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSTATUS\tWHAT\tKEY\tACT BY\tWHY")
	for _, u := range plan.Users {
		var rows [][4]string
		for _, a := range u.Actions {
			rows = append(rows, [4]string{string(a.Action), a.AccessKeyID, "", a.Reason})
		}
		for _, n := range u.Notices {
			rows = append(rows, [4]string{"notice " + string(n.Kind), n.AccessKeyID, n.ActBy, n.Message})
		}
		if len(rows) == 0 {
			rows = append(rows, [4]string{"", "", "", u.Reason})
		}
		for _, k := range u.Keys {
			rows = append(rows, [4]string{"key " + string(k.Status), k.AccessKeyID, k.DeactivateOn, evidence(k)})
		}
		if u.EmailProblem != "" {
			rows = append(rows, [4]string{"", "", "", "no usable email: " + u.EmailProblem})
		}
		if th := u.Timeline; th != nil {
			rows = append(rows, [4]string{"", "", "", fmt.Sprintf("own limit %d days (tag %s): new key at %d, deactivate at %d, delete at %d, unused keys deleted at %d",
				th.DeactivateAt, policy.RotationDaysTag, th.RotateAt, th.DeactivateAt, th.DeleteAt, th.UnusedAt)})
		}
		if u.RotationDaysProblem != "" {
			rows = append(rows, [4]string{"", "", "", u.RotationDaysProblem})
		}
		for i, r := range rows {
			name, status := u.UserName, string(u.Status)
			if i > 0 {
				name, status = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, status, orDash(r[0]), orDash(r[1]), orDash(r[2]), r[3])
		}
	}
	tw.Flush()
}

// evidence is a key's row of the table: where it was last used, whether its newer key is,
// and whether it is at risk.
func evidence(k policy.KeyUsage) string {
	s := k.Usage.String()
	if r := k.Replacement; r != nil {
		s += fmt.Sprintf("; newer key %s %s", r.AccessKeyID, r)
	}
	if k.AtRisk {
		s += fmt.Sprintf("; AT RISK: still used and deactivated within %d days", policy.AtRiskDays)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
