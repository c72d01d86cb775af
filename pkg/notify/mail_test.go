package notify

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/yeka/zip"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

var testAddressing = Addressing{
	From:        "key-rotator@example.com",
	To:          "alice@example.com",
	AccountID:   testAccountID,
	AccountName: "payments-prod",
	UserName:    testUserName,
}

const (
	testNewKeyID = "AKIANEWKEY7EXAMPLE00"
	testActBy    = "2026-12-05"
)

// testUsage is the last use of testAccessKeyID that the notices carry.
var testUsage = policy.Usage{AccessKeyID: testAccessKeyID}

var newKeyNotice = policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: testAccessKeyID, ActBy: testActBy,
	Message: "the key is 80 days old", Usage: &testUsage}

// parsed is an email read back with net/mail and mime/multipart.
type parsed struct {
	header  mail.Header
	subject string
	leaves  []leaf
}

// leaf is a non-multipart part with its body decoded (quoted-printable or base64).
type leaf struct {
	mediaType   string
	disposition string
	filename    string
	encoding    string
	body        []byte
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	p := parsed{header: msg.Header, subject: subject}
	p.leaves = walk(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"),
		msg.Header.Get("Content-Disposition"), msg.Body)
	return p
}

func walk(t *testing.T, contentType, encoding, disposition string, body io.Reader) []leaf {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatalf("parse content type %q: %v", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		var leaves []leaf
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextPart() // decodes quoted-printable and drops its header
			if err == io.EOF {
				return leaves
			}
			if err != nil {
				t.Fatalf("next part of %s: %v", mediaType, err)
			}
			leaves = append(leaves, walk(t, part.Header.Get("Content-Type"),
				part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part)...)
		}
	}
	switch strings.ToLower(encoding) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read %s body: %v", mediaType, err)
	}
	l := leaf{mediaType: mediaType, encoding: encoding, body: b}
	if disposition != "" {
		d, dparams, err := mime.ParseMediaType(disposition)
		if err != nil {
			t.Fatalf("parse content disposition %q: %v", disposition, err)
		}
		l.disposition, l.filename = d, dparams["filename"]
	}
	return []leaf{l}
}

func (p parsed) part(t *testing.T, mediaType string) leaf {
	t.Helper()
	var found []leaf
	for _, l := range p.leaves {
		if l.mediaType == mediaType && l.disposition != "attachment" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("email has %d %s body parts, want 1", len(found), mediaType)
	}
	return found[0]
}

func (p parsed) attachments() []leaf {
	var out []leaf
	for _, l := range p.leaves {
		if l.disposition == "attachment" {
			out = append(out, l)
		}
	}
	return out
}

// assertAbsent fails if any secret shows in the raw email or in any decoded part.
func assertAbsent(t *testing.T, raw []byte, p parsed, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("raw email contains a secret %.4s…", s)
		}
		if strings.Contains(p.subject, s) {
			t.Errorf("subject contains a secret %.4s…", s)
		}
		for _, l := range p.leaves {
			if bytes.Contains(l.body, []byte(s)) {
				t.Errorf("decoded %s part %q contains a secret %.4s…", l.mediaType, l.filename, s)
			}
		}
	}
}

func checkAddressing(t *testing.T, p parsed, a Addressing) {
	t.Helper()
	for header, want := range map[string]string{"From": a.From, "To": a.To} {
		got, err := mail.ParseAddress(p.header.Get(header))
		if err != nil || got.Address != want {
			t.Errorf("%s = %q (%v), want %s", header, p.header.Get(header), err, want)
		}
	}
	for _, want := range []string{a.AccountID, a.AccountName, a.UserName} {
		if !strings.Contains(p.subject, want) {
			t.Errorf("subject %q does not name %q", p.subject, want)
		}
	}
}

func TestNewKeyMail(t *testing.T) {
	zipped, password := testZip(t)
	m, err := NewKeyMail(testAddressing, testNewKeyID, newKeyNotice, zipped)
	if err != nil {
		t.Fatalf("NewKeyMail: %v", err)
	}
	p := parse(t, m.Raw)
	checkAddressing(t, p, testAddressing)
	if p.subject != m.Subject || !strings.Contains(p.subject, testNewKeyID) {
		t.Errorf("subject %q: want Message.Subject %q, naming %s", p.subject, m.Subject, testNewKeyID)
	}
	if mt, _, _ := mime.ParseMediaType(p.header.Get("Content-Type")); mt != "multipart/mixed" {
		t.Errorf("Content-Type %s, want multipart/mixed", mt)
	}

	for _, mediaType := range []string{"text/plain", "text/html"} {
		body := string(p.part(t, mediaType).body)
		for _, want := range []string{testNewKeyID, testAccessKeyID, testActBy, testAccountID, "payments-prod",
			testUserName, CredentialsZipName, "separate email", "deactivated", "deleted", "before " + testActBy} {
			if !strings.Contains(body, want) {
				t.Errorf("%s body does not say %q", mediaType, want)
			}
		}
	}

	atts := p.attachments()
	if len(atts) != 1 {
		t.Fatalf("%d attachments, want 1", len(atts))
	}
	att := atts[0]
	if att.filename != CredentialsZipName || att.mediaType != "application/zip" || att.encoding != "base64" {
		t.Errorf("attachment %q %s %s, want %s application/zip base64", att.filename, att.mediaType, att.encoding, CredentialsZipName)
	}
	if !bytes.Equal(att.body, zipped) {
		t.Errorf("attached zip differs from the one passed in")
	}

	// The key travels only inside the encrypted zip; the password not at all.
	assertAbsent(t, m.Raw, p, testSecretKey, password.Reveal())
	r, err := zip.NewReader(bytes.NewReader(att.body), int64(len(att.body)))
	if err != nil {
		t.Fatalf("open attached zip: %v", err)
	}
	r.File[0].SetPassword(password.Reveal())
	if got, err := readZipFile(r.File[0]); err != nil || !strings.Contains(got, testSecretKey) {
		t.Errorf("attached zip does not open to the key with the password: %v", err)
	}
}

func TestPasswordMail(t *testing.T) {
	zipped, password := testZip(t)
	first, err := NewKeyMail(testAddressing, testNewKeyID, newKeyNotice, zipped)
	if err != nil {
		t.Fatalf("NewKeyMail: %v", err)
	}
	m, err := PasswordMail(testAddressing, testNewKeyID, password)
	if err != nil {
		t.Fatalf("PasswordMail: %v", err)
	}
	p := parse(t, m.Raw)
	checkAddressing(t, p, testAddressing)
	if p.subject == first.Subject {
		t.Errorf("password email has the new-key email's subject %q", p.subject)
	}
	if mt, _, _ := mime.ParseMediaType(p.header.Get("Content-Type")); mt != "multipart/alternative" {
		t.Errorf("Content-Type %s, want multipart/alternative", mt)
	}
	if atts := p.attachments(); len(atts) != 0 {
		t.Errorf("password email has %d attachments, want none", len(atts))
	}
	if len(p.leaves) != 2 {
		t.Errorf("password email has %d parts, want text and HTML", len(p.leaves))
	}
	for _, mediaType := range []string{"text/plain", "text/html"} {
		body := string(p.part(t, mediaType).body)
		if mediaType == "text/html" {
			body = strings.ReplaceAll(body, "&#34;", `"`)
		}
		for _, want := range []string{password.Reveal(), testNewKeyID, `"` + first.Subject + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s body does not say %q", mediaType, want)
			}
		}
	}
	assertAbsent(t, m.Raw, p, testSecretKey)
}

func TestNoticeMail(t *testing.T) {
	tests := []struct {
		kind     policy.NoticeKind
		actBy    string
		purpose  string
		wantBody []string
	}{
		{policy.DeactivationScheduled, testActBy, "deactivation-scheduled", []string{"will be deactivated on " + testActBy, "before " + testActBy}},
		{policy.KeyDeactivated, testActBy, "key-deactivated", []string{"was deactivated", "deleted on " + testActBy}},
		{policy.KeyDeleted, "", "key-deleted", []string{"was deleted", "already inactive"}},
		{policy.UnusedKeyDeleted, "", "unused-key-deleted", []string{"was deleted", "not been used"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			n := policy.Notice{Kind: tc.kind, AccessKeyID: testAccessKeyID, ActBy: tc.actBy, Message: "policy says so", Usage: &testUsage}
			m, err := NoticeMail(testAddressing, n)
			if err != nil {
				t.Fatalf("NoticeMail: %v", err)
			}
			if m.Purpose != tc.purpose || m.AccessKeyID != testAccessKeyID || m.AccountID != testAccountID {
				t.Errorf("Message %v, want purpose %s for %s in %s", m, tc.purpose, testAccessKeyID, testAccountID)
			}
			p := parse(t, m.Raw)
			checkAddressing(t, p, testAddressing)
			if !strings.Contains(p.subject, testAccessKeyID) || (tc.actBy != "" && !strings.Contains(p.subject, "deactivated")) {
				t.Errorf("subject %q does not say what happens to %s", p.subject, testAccessKeyID)
			}
			if len(p.attachments()) != 0 {
				t.Errorf("notice has attachments")
			}
			for _, mediaType := range []string{"text/plain", "text/html"} {
				body := string(p.part(t, mediaType).body)
				for _, want := range append([]string{testAccessKeyID, "What to do", "Details: policy says so"}, tc.wantBody...) {
					if !strings.Contains(body, want) {
						t.Errorf("%s body does not say %q", mediaType, want)
					}
				}
			}
		})
	}
}

func TestSupportReportMail(t *testing.T) {
	report := SupportReport{
		Day:      "2026-11-25",
		Summary:  []string{"Accounts processed: 12", "Keys rotated: 3", "Users without a usable email: 1 <bob>"},
		CSV:      []byte("account,user,status\n111122223333,alice,rotate\n"),
		Location: "s3://reports/reports/run-1/report.csv",
	}
	to := []string{"support@example.com", "platform@example.com"}
	m, err := SupportReportMail("key-rotator@example.com", to, report)
	if err != nil {
		t.Fatalf("SupportReportMail: %v", err)
	}
	p := parse(t, m.Raw)
	addrs, err := p.header.AddressList("To")
	if err != nil || len(addrs) != 2 || addrs[0].Address != to[0] || addrs[1].Address != to[1] {
		t.Errorf("To = %q (%v), want %q", p.header.Get("To"), err, to)
	}
	if !strings.Contains(p.subject, report.Day) {
		t.Errorf("subject %q does not name the day", p.subject)
	}
	want := map[string][]string{
		"text/plain": append([]string{SupportReportName(report.Day), report.Location}, report.Summary...),
		"text/html":  {SupportReportName(report.Day), report.Location, "Accounts processed: 12", "Users without a usable email: 1 &lt;bob&gt;"},
	}
	for mediaType, lines := range want {
		body := string(p.part(t, mediaType).body)
		for _, l := range lines {
			if !strings.Contains(body, l) {
				t.Errorf("%s body does not say %q", mediaType, l)
			}
		}
	}
	atts := p.attachments()
	if len(atts) != 1 || atts[0].filename != "key-rotation-report-2026-11-25.csv" || atts[0].mediaType != "text/csv" ||
		!bytes.Equal(atts[0].body, report.CSV) {
		t.Errorf("attachments %+v, want the CSV as key-rotation-report-2026-11-25.csv text/csv", atts)
	}
}

// TestSupportReportMailStaysWithinTheLimit: the CSV is attached as it is while the whole
// message stays within SupportMessageLimit, gzipped while that fits, and not at all beyond;
// the body says which, and where the full report is.
func TestSupportReportMailStaysWithinTheLimit(t *testing.T) {
	const location = "s3://reports/reports/run-1/report.csv"
	row := "run-1,111122223333,prod,done,20,alice,rotate,CreateKey,AKIAOLD,AKIANEW,true,false,key AKIAOLD is 85 days old,,,,,,,,,false\n"
	rows := func(n int) []byte { return bytes.Repeat([]byte(row), n/len(row)+1)[:n] }
	rnd := rand.New(rand.NewChaCha8([32]byte{11}))
	random := make([]byte, 12_000_000) // gzip keeps about 3/4 of it, base64 makes that 12 MB
	for i := range random {
		random[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rnd.IntN(64)]
	}
	const name = "key-rotation-report-2026-11-25.csv"
	tests := []struct {
		name       string
		csv        []byte
		attachment string // "": none
		say        []string
	}{
		{"small", rows(5000), name, nil},
		// Its base64 alone fits, the whole message with the line breaks does not.
		{"just over as it is", rows(SupportMessageLimit * 3 / 4 * 99 / 100), name + ".gz",
			[]string{"too large to attach as it is (this email carries at most 10.0 MB), so it is attached compressed with gzip as " + name + ".gz"}},
		{"far over as it is", rows(30_000_000), name + ".gz", []string{"The report (30.0 MB of CSV) is too large to attach as it is"}},
		{"over even compressed", random, "",
			[]string{"The report is not attached: it is too large even compressed (12.0 MB of CSV, ", "this email carries at most 10.0 MB). The full report is at " + location + "."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := SupportReportMail("key-rotator@example.com", []string{"support@example.com"},
				SupportReport{Day: "2026-11-25", Summary: []string{"Accounts processed: 12"}, CSV: tc.csv, Location: location})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Raw) > SupportMessageLimit {
				t.Errorf("message of %d bytes, over the limit of %d", len(m.Raw), SupportMessageLimit)
			}
			p := parse(t, m.Raw)
			for _, mediaType := range []string{"text/plain", "text/html"} {
				body := strings.Join(strings.Fields(string(p.part(t, mediaType).body)), " ")
				for _, want := range append(tc.say, "Accounts processed: 12", location) {
					if !strings.Contains(body, want) {
						t.Errorf("%s body does not say %q:\n%s", mediaType, want, body)
					}
				}
			}
			atts := p.attachments()
			switch {
			case tc.attachment == "":
				if len(atts) != 0 {
					t.Errorf("%d attachments, want none", len(atts))
				}
			case len(atts) != 1 || atts[0].filename != tc.attachment:
				t.Errorf("attachments %d (%v), want %s", len(atts), atts, tc.attachment)
			case tc.attachment == name:
				if atts[0].mediaType != "text/csv" || !bytes.Equal(atts[0].body, tc.csv) {
					t.Errorf("%s is %s of %d bytes, want the CSV's %d bytes as text/csv", name, atts[0].mediaType, len(atts[0].body), len(tc.csv))
				}
			default:
				z, err := gzip.NewReader(bytes.NewReader(atts[0].body))
				if err != nil {
					t.Fatalf("%s: %v", tc.attachment, err)
				}
				csv, err := io.ReadAll(z)
				if err != nil || !bytes.Equal(csv, tc.csv) || atts[0].mediaType != "application/gzip" || z.Name != name {
					t.Errorf("%s (%s, named %q inside) decompresses to %d bytes (%v), want the CSV's %d as application/gzip named %s",
						tc.attachment, atts[0].mediaType, z.Name, len(csv), err, len(tc.csv), name)
				}
			}
		})
	}
}

func TestMailEscapesHTML(t *testing.T) {
	a := testAddressing
	a.UserName = "<script>alert(1)</script>"
	a.AccountName = `A&B "prod"`
	m, err := NoticeMail(a, policy.Notice{Kind: policy.KeyDeleted, AccessKeyID: testAccessKeyID, Message: "<b>old</b>", Usage: &testUsage})
	if err != nil {
		t.Fatalf("NoticeMail: %v", err)
	}
	p := parse(t, m.Raw)
	html := string(p.part(t, "text/html").body)
	for _, bad := range []string{"<script>", "<b>old</b>", "A&B"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML body contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;old&lt;/b&gt;", "A&amp;B &#34;prod&#34;"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML body lacks the escaped %q", want)
		}
	}
	// Plain text is not HTML: it carries the name as it is.
	if text := string(p.part(t, "text/plain").body); !strings.Contains(text, a.UserName) {
		t.Errorf("text body does not name user %q", a.UserName)
	}
	if !strings.Contains(p.subject, a.UserName) {
		t.Errorf("subject %q does not name user %q", p.subject, a.UserName)
	}
}

func TestMailRejects(t *testing.T) {
	zipped, password := testZip(t)
	with := func(change func(*Addressing)) Addressing {
		a := testAddressing
		change(&a)
		return a
	}
	notice := func(kind policy.NoticeKind, actBy string) policy.Notice {
		return policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: actBy, Usage: &testUsage}
	}
	tests := []struct {
		name    string
		compose func() (Message, error)
		wantErr string
	}{
		{"bad account ID", func() (Message, error) {
			return NoticeMail(with(func(a *Addressing) { a.AccountID = "1111" }), notice(policy.KeyDeleted, ""))
		}, `account ID "1111" is not 12 digits`},
		{"empty user", func() (Message, error) {
			return NoticeMail(with(func(a *Addressing) { a.UserName = "" }), notice(policy.KeyDeleted, ""))
		}, "empty user name"},
		{"bad recipient", func() (Message, error) {
			return NoticeMail(with(func(a *Addressing) { a.To = "not an address" }), notice(policy.KeyDeleted, ""))
		}, "recipient"},
		{"bad sender", func() (Message, error) {
			return NoticeMail(with(func(a *Addressing) { a.From = "" }), notice(policy.KeyDeleted, ""))
		}, "sender"},
		{"missing act-by", func() (Message, error) {
			return NoticeMail(testAddressing, notice(policy.DeactivationScheduled, ""))
		}, `act-by day "" is not YYYY-MM-DD`},
		{"malformed act-by", func() (Message, error) {
			return NoticeMail(testAddressing, notice(policy.KeyDeactivated, "05/12/2026"))
		}, "is not YYYY-MM-DD"},
		{"new key as notice", func() (Message, error) {
			return NoticeMail(testAddressing, newKeyNotice)
		}, `no email for notice kind "NewKeyIssued"`},
		{"unknown kind", func() (Message, error) {
			return NoticeMail(testAddressing, notice("KeyEaten", ""))
		}, `no email for notice kind "KeyEaten"`},
		{"new key with another notice", func() (Message, error) {
			return NewKeyMail(testAddressing, testNewKeyID, notice(policy.KeyDeleted, testActBy), zipped)
		}, "notice kind is KeyDeleted, want NewKeyIssued"},
		{"new key without zip", func() (Message, error) {
			return NewKeyMail(testAddressing, testNewKeyID, newKeyNotice, nil)
		}, "empty credentials.zip"},
		{"new key without act-by", func() (Message, error) {
			return NewKeyMail(testAddressing, testNewKeyID, notice(policy.NewKeyIssued, ""), zipped)
		}, "act-by day"},
		{"new key without new key ID", func() (Message, error) {
			return NewKeyMail(testAddressing, "", newKeyNotice, zipped)
		}, "empty access key ID"},
		{"password without password", func() (Message, error) {
			return PasswordMail(testAddressing, testNewKeyID, secret.Secret{})
		}, "empty password"},
		{"password with bad recipient", func() (Message, error) {
			return PasswordMail(with(func(a *Addressing) { a.To = "alice" }), testNewKeyID, password)
		}, "compose password email to alice for " + testNewKeyID + " in " + testAccountID + ": recipient"},
		{"report with bad day", func() (Message, error) {
			return SupportReportMail("key-rotator@example.com", []string{"support@example.com"}, SupportReport{Day: "today", CSV: []byte("a\n"), Location: "s3://b/k"})
		}, `day "today" is not YYYY-MM-DD`},
		{"report without recipients", func() (Message, error) {
			return SupportReportMail("key-rotator@example.com", nil, SupportReport{Day: "2026-11-25", CSV: []byte("a\n"), Location: "s3://b/k"})
		}, "no recipient"},
		{"report without CSV", func() (Message, error) {
			return SupportReportMail("key-rotator@example.com", []string{"support@example.com"}, SupportReport{Day: "2026-11-25"})
		}, "empty CSV"},
		{"report without its location", func() (Message, error) {
			return SupportReportMail("key-rotator@example.com", []string{"support@example.com"}, SupportReport{Day: "2026-11-25", CSV: []byte("a\n")})
		}, "no location of the full report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.compose()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), password.Reveal()) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestMessageHidesRaw(t *testing.T) {
	password := handoff.NewZipPassword()
	m, err := PasswordMail(testAddressing, testNewKeyID, password)
	if err != nil {
		t.Fatalf("PasswordMail: %v", err)
	}
	want := "password email to alice@example.com for " + testNewKeyID + " in " + testAccountID
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("sent", "message", m)
	outputs := map[string]string{
		"%v":              fmt.Sprintf("%v", m),
		"%+v":             fmt.Sprintf("%+v", m),
		"%#v":             fmt.Sprintf("%#v", m),
		"%s":              fmt.Sprintf("%s", m),
		"%x":              fmt.Sprintf("%x", m),
		"%v of a pointer": fmt.Sprintf("%v", &m),
		"slog JSON":       logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, password.Reveal()) || strings.Contains(out, "Content-Type") {
			t.Errorf("%s shows the raw message: %s", name, out)
		}
		if name != "slog JSON" && out != want && out != "&"+want {
			t.Errorf("%s = %q, want %q", name, out, want)
		}
	}
	var entry struct{ Message map[string]string }
	if err := json.Unmarshal(logged.Bytes(), &entry); err != nil || entry.Message["accessKeyId"] != testNewKeyID ||
		entry.Message["purpose"] != "password" || entry.Message["subject"] != m.Subject {
		t.Errorf("slog entry %s (%v) lacks the message's purpose, key and subject", logged.String(), err)
	}
}

// TestSecretKeyMail: the owner of a key delivered to a secret is told which secret holds it
// and when the old key goes, with no attachment and no secret part.
func TestSecretKeyMail(t *testing.T) {
	for _, dest := range []string{"secret app/payments", "SSM parameter /app/payments"} {
		m, err := SecretKeyMail(testAddressing, testNewKeyID, dest, newKeyNotice)
		if err != nil {
			t.Fatalf("SecretKeyMail: %v", err)
		}
		p := parse(t, m.Raw)
		checkAddressing(t, p, testAddressing)
		if !strings.Contains(p.subject, "is in "+dest) || !strings.Contains(p.subject, testNewKeyID) {
			t.Errorf("subject %q does not name the %s and the new key", p.subject, dest)
		}
		for _, mediaType := range []string{"text/plain", "text/html"} {
			body := string(p.part(t, mediaType).body)
			for _, want := range []string{testNewKeyID, testAccessKeyID, testActBy, dest, "deactivated", "before " + testActBy} {
				if !strings.Contains(body, want) {
					t.Errorf("%s body does not say %q", mediaType, want)
				}
			}
		}
		if atts := p.attachments(); len(atts) != 0 {
			t.Errorf("%d attachments, want none", len(atts))
		}
	}
	if _, err := SecretKeyMail(testAddressing, testNewKeyID, "", newKeyNotice); err == nil {
		t.Error("SecretKeyMail without a secret name must fail")
	}
}
