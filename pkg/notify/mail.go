package notify

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Addressing says who sends and who receives an owner's email, and which IAM user in which
// account it is about.
type Addressing struct {
	From        string // the rotator's verified SES identity
	To          string // the key owner
	AccountID   string
	AccountName string // optional; shown next to the ID
	UserName    string
	// Advice says what could replace the user's long-lived keys (pkg/advice; nil: nothing to
	// say): every email about a key carries it, the password's does not.
	Advice *advice.Advice
}

// SupportReport is what the support team's email summarizes and attaches.
type SupportReport struct {
	Day     string   // the run's calendar day, YYYY-MM-DD
	Summary []string // headline lines, e.g. "Accounts processed: 12"
	// CSV is the full report, attached as SupportReportName(Day), compressed, or not at all
	// (SupportReportMail).
	CSV []byte
	// Location is where the full report is kept, e.g. "s3://bucket/reports/<run>/report.csv":
	// the email names it, and says that it is there when CSV is too large to attach.
	Location string
	// Charts are pictures of the report, shown in the HTML part inline (cid:Name) each above
	// its table, and in the text part as the table alone. They stay whatever the attachment.
	Charts []Chart
}

// Chart is one picture of the support report: a small PNG, embedded as an inline MIME part
// whose Content-ID is <Name>, with what it shows and the same numbers as a text table.
type Chart struct {
	Name  string // file name and Content-ID, e.g. "key-ages.png"
	PNG   []byte
	Title string   // what the chart shows: the HTML's caption and alt text, the text's heading
	Table []string // its numbers, one row a line, for the text part and under the picture
}

// Message is one composed email. Raw holds the whole MIME message; for a password email it
// holds the password, so a Message prints and logs only its description, never Raw.
type Message struct {
	Purpose     string // names the email in errors and logs: "new-key", "password", ...
	From        string
	To          []string
	AccountID   string // empty for the support report
	AccessKeyID string // the key the email is about; empty for the support report
	Subject     string
	Raw         []byte
}

// String describes the message, e.g. "new-key email to alice@example.com for AKIA... in 111122223333".
func (m Message) String() string {
	s := fmt.Sprintf("%s email to %s", m.Purpose, strings.Join(m.To, ", "))
	if m.AccessKeyID != "" {
		s += " for " + m.AccessKeyID
	}
	if m.AccountID != "" {
		s += " in " + m.AccountID
	}
	return s
}

// Format implements fmt.Formatter: every verb prints String, so Raw never reaches a printout.
func (m Message) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, m.String()) }

// LogValue implements slog.LogValuer without Raw.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("purpose", m.Purpose),
		slog.String("to", strings.Join(m.To, ", ")),
		slog.String("accountId", m.AccountID),
		slog.String("accessKeyId", m.AccessKeyID),
		slog.String("subject", m.Subject),
	)
}

// NewKeyMail composes email 1 of a rotation: the new key newKeyID in credentialsZip (see
// CredentialsZip), and when the key it replaces, notice.AccessKeyID, is deactivated
// (notice.ActBy) and where it was last used (notice.Usage, when known: a new key is
// delivered whatever is known of the old one). The zip's password goes separately, in
// PasswordMail.
func NewKeyMail(a Addressing, newKeyID string, notice policy.Notice, credentialsZip []byte) (Message, error) {
	if notice.Kind != policy.NewKeyIssued {
		return Message{}, fmt.Errorf("compose new-key email for %s in %s: notice kind is %s, want %s",
			newKeyID, a.AccountID, notice.Kind, policy.NewKeyIssued)
	}
	if len(credentialsZip) == 0 {
		return Message{}, fmt.Errorf("compose new-key email for %s in %s: empty %s", newKeyID, a.AccountID, CredentialsZipName)
	}
	v := usageView(notice)
	v.NewKeyID, v.AccessKeyID, v.ActBy, v.Reason = newKeyID, notice.AccessKeyID, notice.ActBy, notice.Message
	return a.draft(newKeyKind, newKeyID, v).
		attach(CredentialsZipName, "application/zip", credentialsZip).
		compose()
}

// SecretKeyMail composes the one email of a rotation whose new key newKeyID went into the
// secret or parameter secretName (appsecret.Destination's String: "secret <name>", "SSM
// parameter <name>") of the member account (pkg/appsecret), not to the owner: which secret
// holds it, and when the key it replaces, notice.AccessKeyID, is deactivated. No key in it.
func SecretKeyMail(a Addressing, newKeyID, secretName string, notice policy.Notice) (Message, error) {
	if notice.Kind != policy.NewKeyIssued || secretName == "" {
		return Message{}, fmt.Errorf("compose secret-key email for %s in %s: notice kind %s and secret %q, want %s and a secret",
			newKeyID, a.AccountID, notice.Kind, secretName, policy.NewKeyIssued)
	}
	return a.draft(secretKeyKind, newKeyID, view{NewKeyID: newKeyID, AccessKeyID: notice.AccessKeyID, ActBy: notice.ActBy,
		Secret: secretName, Reason: notice.Message}).compose()
}

// PasswordMail composes email 2 of a rotation: the password of the zip that NewKeyMail(a,
// newKeyID, ...) attached, with that email's subject so that the owner can find it.
func PasswordMail(a Addressing, newKeyID string, password secret.Secret) (Message, error) {
	if password.IsZero() {
		return Message{}, fmt.Errorf("compose password email for %s in %s: empty password", newKeyID, a.AccountID)
	}
	v := view{NewKeyID: newKeyID, Account: a.account(), UserName: a.UserName}
	first, err := render(newKeyKind.subject, v)
	if err != nil {
		return Message{}, fmt.Errorf("compose password email for %s in %s: %w", newKeyID, a.AccountID, err)
	}
	v.FirstSubject = first
	d := a.draft(passwordKind, newKeyID, v)
	d.password = password
	return d.compose()
}

// NoticeMail composes the email for a notice of any kind but NewKeyIssued (see NewKeyMail):
// what happened or will happen to the key, when, where it was last used, whether its newer
// key is used yet, and what the owner should do.
func NoticeMail(a Addressing, notice policy.Notice) (Message, error) {
	k, ok := noticeKinds[notice.Kind]
	if !ok {
		return Message{}, fmt.Errorf("compose notice email for %s in %s: no email for notice kind %q",
			notice.AccessKeyID, a.AccountID, notice.Kind)
	}
	if notice.Usage == nil || notice.Usage.AccessKeyID != notice.AccessKeyID {
		return Message{}, fmt.Errorf("compose %s email for %s in %s: the notice lacks the key's last use",
			k.purpose, notice.AccessKeyID, a.AccountID)
	}
	v := usageView(notice)
	v.AccessKeyID, v.ActBy, v.Reason = notice.AccessKeyID, notice.ActBy, notice.Message
	return a.draft(k, notice.AccessKeyID, v).compose()
}

// usageView holds the notice's evidence as the owner reads it: where the key was last used,
// and whether its newer key has been used yet.
func usageView(n policy.Notice) view {
	var v view
	if u := n.Usage; u != nil {
		v.Usage = fmt.Sprintf("Access key %s was %s.", u.AccessKeyID, u)
	}
	switch r := n.Replacement; {
	case r == nil:
	case r.LastUsedDate == nil:
		v.Replacement = fmt.Sprintf("Your newer key %s has not been used yet.", r.AccessKeyID)
	default:
		v.Replacement = fmt.Sprintf("Your newer key %s was %s.", r.AccessKeyID, r)
	}
	return v
}

// SupportReportName is the file name of the support report's CSV attachment.
func SupportReportName(day string) string { return "key-rotation-report-" + day + ".csv" }

// SupportMessageLimit bounds the support email, whole (headers, both bodies and the
// base64-encoded attachment), in bytes. SES v2 SendEmail, which the rotator uses, takes a
// message of up to 40 MB after base64 encoding, a quota that cannot be raised (SES v1 and its
// SendRawEmail: 10 MB): "Service quotas in Amazon SES", Message quotas,
// https://docs.aws.amazon.com/ses/latest/dg/quotas.html. But SES accepting a message is not
// its delivery: the support team's mail server must take it too, and many refuse more than
// 10 to 25 MB. 10 MB, SES v1's own limit, is what nearly every receiver accepts; it is
// counted as 10,000,000 bytes, the stricter reading of "MB".
const SupportMessageLimit = 10_000_000

// SupportReportMail composes the support team's email: r.Summary in the body, and r.CSV
// attached as SupportReportName(r.Day) while the whole message stays within
// SupportMessageLimit; above it gzipped, as SupportReportName(r.Day)+".gz", if that fits;
// above that not at all. The body says which, and where the full report is (r.Location).
func SupportReportMail(from string, to []string, r SupportReport) (Message, error) {
	if _, err := time.Parse(time.DateOnly, r.Day); err != nil {
		return Message{}, fmt.Errorf("compose support-report email: day %q is not YYYY-MM-DD", r.Day)
	}
	if len(r.CSV) == 0 {
		return Message{}, fmt.Errorf("compose support-report email for %s: empty CSV", r.Day)
	}
	if r.Location == "" {
		return Message{}, fmt.Errorf("compose support-report email for %s: no location of the full report", r.Day)
	}
	d := draft{kind: supportReportKind, from: from, to: to, list: r.Summary, view: view{Day: r.Day, Location: r.Location}, charts: r.Charts}
	fits := func(m Message, err error) bool { return err != nil || len(m.Raw) <= SupportMessageLimit }
	name := SupportReportName(r.Day)
	// A CSV whose base64 alone is over the limit is not worth composing.
	if base64Len(len(r.CSV)) < SupportMessageLimit {
		plain := d
		plain.view.Attachment = name
		if m, err := plain.attach(name, "text/csv", r.CSV).compose(); fits(m, err) {
			return m, err
		}
	}
	gz, gzLen, err := gzipped(name, r.CSV, SupportMessageLimit/4*3)
	if err != nil {
		return Message{}, fmt.Errorf("compose support-report email for %s: compress %s: %w", r.Day, name, err)
	}
	if gz != nil {
		compressed := d
		compressed.view.Attachment = name + ".gz"
		compressed.view.AttachmentNote = fmt.Sprintf("The report (%s of CSV) is too large to attach as it is (this email carries at most %s), "+
			"so it is attached compressed with gzip as %s (%s).", megabytes(len(r.CSV)), megabytes(SupportMessageLimit), name+".gz", megabytes(gzLen))
		if m, err := compressed.attach(name+".gz", "application/gzip", gz).compose(); fits(m, err) {
			return m, err
		}
	}
	d.view.AttachmentNote = fmt.Sprintf("The report is not attached: it is too large even compressed (%s of CSV, %s with gzip, "+
		"about %s once encoded for email; this email carries at most %s). The full report is at %s.",
		megabytes(len(r.CSV)), megabytes(gzLen), megabytes(base64Len(gzLen)), megabytes(SupportMessageLimit), r.Location)
	m, err := d.compose()
	if err == nil && len(m.Raw) > SupportMessageLimit {
		return Message{}, fmt.Errorf("compose %v: %d bytes without the report, more than the limit of %d", m, len(m.Raw), SupportMessageLimit)
	}
	return m, err
}

// base64Len is the length of n bytes in base64, without line breaks.
func base64Len(n int) int { return (n + 2) / 3 * 4 }

func megabytes(n int) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// gzipped compresses data, named name in the gzip header, and returns its compressed size and
// the compressed bytes if they are at most limit bytes (beyond, they are counted, not kept).
func gzipped(name string, data []byte, limit int) ([]byte, int, error) {
	out := &capped{limit: limit}
	w := gzip.NewWriter(out)
	w.Name = name
	if _, err := w.Write(data); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	if out.n > limit {
		return nil, out.n, nil
	}
	return out.buf.Bytes(), out.n, nil
}

// capped keeps what is written to it up to limit bytes and counts the rest.
type capped struct {
	buf      bytes.Buffer
	n, limit int
}

func (c *capped) Write(p []byte) (int, error) {
	c.n += len(p)
	if c.n <= c.limit {
		c.buf.Write(p)
	} else if c.buf.Len() > 0 {
		c.buf = bytes.Buffer{}
	}
	return len(p), nil
}

// kind is one sort of email: its subject, what it says happened, what the owner should do,
// and the facts table. Each line is a text/template over a view; a line that renders empty
// is left out. The text and HTML layouts are the same for every kind.
type kind struct {
	purpose    string
	needsActBy bool
	subject    *texttemplate.Template
	what       []*texttemplate.Template
	todo       []*texttemplate.Template
	facts      []fact
}

type fact struct {
	label string
	value *texttemplate.Template
}

// view is what a kind's lines can refer to.
type view struct {
	Account      string // "111122223333 (name)"
	UserName     string
	AccessKeyID  string // the key the email is about (the replaced key for new-key)
	NewKeyID     string
	Secret       string // the member account's secret a new key went to
	ActBy        string
	Reason       string // the policy's explanation
	Usage        string // where the key was last used (usageView)
	Replacement  string // whether its newer key was used yet
	FirstSubject string // the new-key email's subject, for the password email
	Day          string
	Attachment   string // the support report's attachment; empty when it is too large to attach
	// AttachmentNote says why the support report's attachment is compressed or missing.
	AttachmentNote string
	Location       string // where the full support report is
}

func line(text string) *texttemplate.Template {
	return texttemplate.Must(texttemplate.New(text).Option("missingkey=error").Parse(text))
}

func lines(texts ...string) []*texttemplate.Template {
	ts := make([]*texttemplate.Template, len(texts))
	for i, text := range texts {
		ts[i] = line(text)
	}
	return ts
}

var (
	accountFacts = []fact{
		{"AWS account", line("{{.Account}}")},
		{"IAM user", line("{{.UserName}}")},
	}
	keyFact = fact{"Access key", line("{{.AccessKeyID}}")}
	reason  = "{{with .Reason}}Details: {{.}}{{end}}"
	// usage is the evidence lines of every owner email about an existing key.
	usage = []string{"{{.Usage}}", "{{.Replacement}}"}
)

var newKeyKind = &kind{
	purpose:    "new-key",
	needsActBy: true,
	subject:    line("New AWS access key {{.NewKeyID}} for IAM user {{.UserName}} in account {{.Account}}"),
	what: lines(
		"A new access key {{.NewKeyID}} was created for IAM user {{.UserName}} in AWS account {{.Account}}. "+
			"It replaces access key {{.AccessKeyID}}, which is due for rotation.",
		"The new key is in the attached "+CredentialsZipName+", encrypted with AES-256. It holds "+
			CredentialsCSVName+" (the format the AWS console downloads) and "+CredentialsFileName+
			" (a profile to paste into ~/.aws/credentials). The password comes in a separate email.",
		"On {{.ActBy}} the old key {{.AccessKeyID}} will be deactivated, and some days later deleted.",
		usage[0], usage[1], reason,
	),
	todo: lines(
		"Open "+CredentialsZipName+" with the password from the second email (7-Zip, WinZip or another tool that supports AES-256 zip files).",
		"Switch every application and script that uses {{.AccessKeyID}} to the new key {{.NewKeyID}} before {{.ActBy}}.",
		"Delete both emails and the extracted files once the new key is in place.",
	),
	facts: append(append([]fact{}, accountFacts...),
		fact{"New access key", line("{{.NewKeyID}}")},
		fact{"Old access key", line("{{.AccessKeyID}}")},
		fact{"Old key deactivated on", line("{{.ActBy}}")},
	),
}

var secretKeyKind = &kind{
	purpose:    "secret-key",
	needsActBy: true,
	subject:    line("New access key {{.NewKeyID}} of IAM user {{.UserName}} in account {{.Account}} is in {{.Secret}}"),
	what: lines(
		"A new access key {{.NewKeyID}} was created for IAM user {{.UserName}} in AWS account {{.Account}} and written to {{.Secret}} in that account, "+
			"as its tag "+appsecret.DeliveryTag+" asks. It replaces access key {{.AccessKeyID}}, which is due for rotation.",
		"On {{.ActBy}} the old key {{.AccessKeyID}} will be deactivated, and some days later deleted.",
		reason,
	),
	todo: lines(
		"Make sure every application that uses {{.AccessKeyID}} reads its key from {{.Secret}} again (restart it, or let it refresh its cached value) before {{.ActBy}}.",
		"Applications that read {{.Secret}} on every use need nothing: they already use {{.NewKeyID}}.",
	),
	facts: append(append([]fact{}, accountFacts...),
		fact{"Secret", line("{{.Secret}}")},
		fact{"New access key", line("{{.NewKeyID}}")},
		fact{"Old access key", line("{{.AccessKeyID}}")},
		fact{"Old key deactivated on", line("{{.ActBy}}")},
	),
}

var passwordKind = &kind{
	purpose: "password",
	subject: line("Password for the new AWS access key {{.NewKeyID}} for IAM user {{.UserName}} in account {{.Account}}"),
	what: lines(
		"This is the password of " + CredentialsZipName + ", the attachment of the email \"{{.FirstSubject}}\" " +
			"with the new access key {{.NewKeyID}}:",
	),
	todo: lines(
		"Open "+CredentialsZipName+" from the other email with this password.",
		"Delete this email once the new key is in place.",
	),
	facts: append(append([]fact{}, accountFacts...), fact{"Access key", line("{{.NewKeyID}}")}),
}

var noticeKinds = map[policy.NoticeKind]*kind{
	policy.DeactivationScheduled: {
		purpose:    "deactivation-scheduled",
		needsActBy: true,
		subject:    line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} will be deactivated on {{.ActBy}}"),
		what: lines(
			"Access key {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} will be deactivated on {{.ActBy}}: it reaches the maximum key age.",
			usage[0], usage[1], reason,
		),
		todo: lines("Switch every application and script that uses {{.AccessKeyID}} to your other access key before {{.ActBy}}."),
		facts: append(append([]fact{}, accountFacts...), keyFact,
			fact{"Deactivated on", line("{{.ActBy}}")}),
	},
	policy.KeyDeactivated: {
		purpose:    "key-deactivated",
		needsActBy: true,
		subject:    line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} was deactivated"),
		what: lines(
			"Access key {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} was deactivated. It will be deleted on {{.ActBy}}.",
			usage[0], usage[1], reason,
		),
		todo: lines("If an application stopped working, it still used {{.AccessKeyID}}: switch it to your current access key, " +
			"or ask your AWS administrators before {{.ActBy}} if it cannot be switched in time."),
		facts: append(append([]fact{}, accountFacts...), keyFact,
			fact{"Deleted on", line("{{.ActBy}}")}),
	},
	policy.KeyDeleted: {
		purpose: "key-deleted",
		subject: line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} was deleted"),
		what: lines(
			"Inactive access key {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} was deleted: it had passed the maximum key age.",
			usage[0], usage[1], reason,
		),
		todo:  lines("Nothing: the key was already inactive. Remove it from any configuration that still names it."),
		facts: append(append([]fact{}, accountFacts...), keyFact),
	},
	policy.DeliveryFailed: {
		purpose:    "delivery-failed",
		needsActBy: true,
		subject:    line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} will be deactivated on {{.ActBy}}: its replacement cannot be delivered"),
		what: lines(
			"The new access key that replaces {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} cannot be delivered to, or is no longer held by, "+
				"the secret (or SSM parameter) that the user's tag "+appsecret.DeliveryTag+" names.",
			reason,
			"Unless that is fixed, access key {{.AccessKeyID}} will be deactivated on {{.ActBy}}.",
			usage[0], usage[1],
		),
		todo: lines("Fix what the details say before {{.ActBy}}: the secret's tag "+appsecret.OptInTag+" (the user's name), the secret's resource policy or KMS key policy "+
			"(the rotator's roles in the account must be allowed to describe it, and NotifyUser's to write it and to use its KMS key through Secrets Manager), "+
			"or the user's tag "+appsecret.DeliveryTag+" (secretsmanager:<secret name>, a secret of the same account and region); "+
			"a secret that someone wrote over holds the new key again once its version "+appsecret.Token("")+"<new key ID> is made AWSCURRENT again "+
			"(aws secretsmanager update-secret-version-stage). "+
			"For an SSM parameter ("+appsecret.ParamScheme+"<parameter name>, a SecureString of the same account and region): its tag "+appsecret.OptInTag+
			", and its KMS key's policy (NotifyUser's role must be allowed to use it through SSM); "+
			"a parameter written over is not the rotator's write any more: the old key then waits until the application is seen using the new key (write it back, aws ssm get-parameter-history shows it).",
			"The rotator tries again on every run; nothing else is needed once it is fixed."),
		facts: append(append([]fact{}, accountFacts...), keyFact,
			fact{"Deactivated on", line("{{.ActBy}}")}),
	},
	policy.UnusedKeyDeleted: {
		purpose: "unused-key-deleted",
		subject: line("Unused AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} was deleted"),
		what: lines(
			"Access key {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} was deleted because it had not been used for too long.",
			usage[0], usage[1], reason,
		),
		todo:  lines("If you still need programmatic access, ask your AWS administrators for a new access key."),
		facts: append(append([]fact{}, accountFacts...), keyFact),
	},
	policy.HoldPlaced: {
		purpose: "hold-placed",
		subject: line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} is active again, on hold"),
		what: lines(
			"Your AWS administrators put the access keys of IAM user {{.UserName}} in AWS account {{.Account}} on hold: access key {{.AccessKeyID}} is active.",
			reason,
			usage[0], usage[1],
		),
		todo: lines("Use the hold to move whatever still needs {{.AccessKeyID}} to your current access key{{with .ActBy}} before {{.}}{{end}}. " +
			"No new secret comes with this email: the key is the one you had."),
		facts: append(append([]fact{}, accountFacts...), keyFact,
			fact{"Deactivated on", line("{{with .ActBy}}{{.}}{{else}}not before the hold ends; you are told before{{end}}")}),
	},
	policy.HoldReleased: {
		purpose: "hold-released",
		subject: line("The hold on AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} was ended early"),
		what: lines(
			"Your AWS administrators ended the hold on the access keys of IAM user {{.UserName}} in AWS account {{.Account}} before its day.",
			reason,
			usage[0], usage[1],
		),
		todo: lines("Move whatever still needs {{.AccessKeyID}} to your current access key{{with .ActBy}} before {{.}}{{end}}."),
		facts: append(append([]fact{}, accountFacts...), keyFact,
			fact{"Deactivated on", line("{{with .ActBy}}{{.}}{{else}}you are told before{{end}}")}),
	},
	policy.TagsFull: {
		purpose: "tags-full",
		subject: line("AWS access key {{.AccessKeyID}} of IAM user {{.UserName}} in account {{.Account}} cannot be rotated: the user has too many tags"),
		what: lines(
			"Access key {{.AccessKeyID}} of IAM user {{.UserName}} in AWS account {{.Account}} is due for rotation, but the key rotator cannot act on it.",
			usage[0], usage[1], reason,
		),
		todo: lines("Remove tags from IAM user {{.UserName}} as said above (never those that start with key-rotator:). " +
			"The next daily run then rotates the key; until then this reminder comes once a day."),
		facts: append(append([]fact{}, accountFacts...), keyFact),
	},
}

var supportReportKind = &kind{
	purpose: "support-report",
	subject: line("IAM access key rotation report for {{.Day}}"),
	what:    lines("The IAM access key rotator ran on {{.Day}}.", "{{.AttachmentNote}}", "Summary:"),
	todo: lines("Follow up on the accounts and users {{with .Attachment}}the attached {{.}}{{else}}the report{{end}} lists as failed, deferred, " +
		"without a usable email or at risk (at_risk: an old key still in use is about to be deactivated)."),
	facts: []fact{
		{"Attachment", line("{{with .Attachment}}{{.}}{{else}}none: the report is too large to attach{{end}}")},
		{"Report (CSV)", line("{{.Location}}")},
	},
}

//go:embed templates/body.txt.tmpl templates/body.html.tmpl
var layouts embed.FS

var (
	textLayout = texttemplate.Must(texttemplate.ParseFS(layouts, "templates/body.txt.tmpl"))
	htmlLayout = htmltemplate.Must(htmltemplate.ParseFS(layouts, "templates/body.html.tmpl"))
)

// body is what the layouts render: a kind's lines, already rendered over a view.
type body struct {
	Subject  string
	What     []string
	List     []string
	Password secret.Secret
	Todo     []string
	Facts    []renderedFact
	Advice   *advice.Advice
	Charts   []Chart
}

type renderedFact struct{ Label, Value string }

// draft is an email about to be composed.
type draft struct {
	kind        *kind
	view        view
	from        string
	to          []string
	accountID   string
	accessKeyID string
	list        []string
	password    secret.Secret
	attachments []attachment
	advice      *advice.Advice
	charts      []Chart
}

type attachment struct {
	name, contentType string
	data              []byte
}

func (a Addressing) account() string {
	if a.AccountName == "" {
		return a.AccountID
	}
	return a.AccountID + " (" + a.AccountName + ")"
}

// draft starts an owner's email of kind k about accessKeyID, filling the view's account and user.
func (a Addressing) draft(k *kind, accessKeyID string, v view) draft {
	v.Account, v.UserName = a.account(), a.UserName
	d := draft{kind: k, view: v, from: a.From, to: []string{a.To}, accountID: a.AccountID, accessKeyID: accessKeyID}
	if k != passwordKind {
		d.advice = a.Advice
	}
	return d
}

func (d draft) attach(name, contentType string, data []byte) draft {
	d.attachments = append(d.attachments, attachment{name: name, contentType: contentType, data: data})
	return d
}

func (d draft) compose() (Message, error) {
	m := Message{Purpose: d.kind.purpose, From: d.from, To: d.to, AccountID: d.accountID, AccessKeyID: d.accessKeyID}
	fail := func(format string, args ...any) (Message, error) {
		return Message{}, fmt.Errorf("compose %v: "+format, append([]any{m}, args...)...)
	}
	if err := d.validate(); err != nil {
		return fail("%w", err)
	}

	b := body{List: d.list, Password: d.password, Advice: d.advice, Charts: d.charts}
	var err error
	if b.Subject, err = render(d.kind.subject, d.view); err != nil {
		return fail("%w", err)
	}
	if b.What, err = renderAll(d.kind.what, d.view); err != nil {
		return fail("%w", err)
	}
	if b.Todo, err = renderAll(d.kind.todo, d.view); err != nil {
		return fail("%w", err)
	}
	for _, f := range d.kind.facts {
		value, err := render(f.value, d.view)
		if err != nil {
			return fail("%w", err)
		}
		b.Facts = append(b.Facts, renderedFact{Label: f.label, Value: value})
	}

	msg := gomail.NewMsg()
	if err := msg.From(d.from); err != nil {
		return fail("sender %q: %w", d.from, err)
	}
	if err := msg.To(d.to...); err != nil {
		return fail("recipient: %w", err)
	}
	msg.Subject(b.Subject)
	if err := msg.SetBodyTextTemplate(textLayout, b); err != nil {
		return fail("text body: %w", err)
	}
	if err := msg.AddAlternativeHTMLTemplate(htmlLayout, b); err != nil {
		return fail("HTML body: %w", err)
	}
	for _, c := range d.charts {
		if err := msg.EmbedReader(c.Name, bytes.NewReader(c.PNG), gomail.WithFileContentType(gomail.ContentType("image/png"))); err != nil {
			return fail("embed %s: %w", c.Name, err)
		}
	}
	for _, at := range d.attachments {
		if err := msg.AttachReader(at.name, bytes.NewReader(at.data), gomail.WithFileContentType(gomail.ContentType(at.contentType))); err != nil {
			return fail("attach %s: %w", at.name, err)
		}
	}
	var raw bytes.Buffer
	if _, err := msg.WriteTo(&raw); err != nil {
		return fail("write MIME: %w", err)
	}
	m.Subject, m.Raw = b.Subject, raw.Bytes()
	return m, nil
}

func (d draft) validate() error {
	if len(d.to) == 0 {
		return fmt.Errorf("no recipient")
	}
	if d.kind != supportReportKind {
		switch {
		case !workflow.ValidAccountID(d.accountID):
			return fmt.Errorf("account ID %q is not 12 digits", d.accountID)
		case d.view.UserName == "":
			return fmt.Errorf("empty user name")
		case d.accessKeyID == "":
			return fmt.Errorf("empty access key ID")
		}
	}
	if (d.kind == newKeyKind || d.kind == secretKeyKind) && d.view.AccessKeyID == "" {
		return fmt.Errorf("empty ID of the replaced key")
	}
	if _, err := time.Parse(time.DateOnly, d.view.ActBy); d.kind.needsActBy && err != nil {
		return fmt.Errorf("act-by day %q is not YYYY-MM-DD", d.view.ActBy)
	}
	return nil
}

func render(t *texttemplate.Template, v view) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render %q: %w", t.Name(), err)
	}
	return b.String(), nil
}

// renderAll renders each line and leaves out the empty ones.
func renderAll(ts []*texttemplate.Template, v view) ([]string, error) {
	var out []string
	for _, t := range ts {
		s, err := render(t, v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
