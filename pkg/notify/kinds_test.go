package notify

import (
	"html"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// TestEveryNoticeKindHasAnEmail: NewKeyIssued goes out as the new key's email (NewKeyMail),
// every other kind as NoticeMail's; a kind without one would fail its owner's notification
// on every run.
func TestEveryNoticeKindHasAnEmail(t *testing.T) {
	for _, kind := range policy.NoticeKinds {
		t.Run(string(kind), func(t *testing.T) {
			n := policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: testActBy, Message: "policy says so", Usage: &testUsage}
			var err error
			if kind == policy.NewKeyIssued {
				_, err = NewKeyMail(testAddressing, "AKIANEWKEY0000000001", n, []byte("zip"))
			} else {
				_, err = NoticeMail(testAddressing, n)
			}
			if err != nil {
				t.Errorf("no email for notice kind %s: %v", kind, err)
			}
		})
	}
	if len(noticeKinds) != len(policy.NoticeKinds)-1 {
		t.Errorf("noticeKinds has %d emails for the %d kinds of policy.NoticeKinds but NewKeyIssued", len(noticeKinds), len(policy.NoticeKinds)-1)
	}
}

// TestEveryNoticeSaysWhereTheKeyWasUsed: every owner email about an existing key says when,
// with which service and in which region it was last used (or that it never was), and, when
// a newer key replaces it, whether that key has been used yet.
func TestEveryNoticeSaysWhereTheKeyWasUsed(t *testing.T) {
	used := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	tests := []struct {
		name        string
		usage       policy.Usage
		replacement *policy.Usage
		want        []string
	}{
		{"used, newer key not used yet",
			policy.Usage{AccessKeyID: testAccessKeyID, LastUsedDate: &used, Service: "s3", Region: "eu-west-1"},
			&policy.Usage{AccessKeyID: testNewKeyID},
			[]string{"Access key " + testAccessKeyID + " was last used on 2026-11-24 at 08:05 UTC with s3 in eu-west-1.",
				"Your newer key " + testNewKeyID + " has not been used yet."}},
		{"never used, newer key in use",
			policy.Usage{AccessKeyID: testAccessKeyID},
			&policy.Usage{AccessKeyID: testNewKeyID, LastUsedDate: &used, Service: "sts", Region: "us-east-1"},
			[]string{"Access key " + testAccessKeyID + " was never used.",
				"Your newer key " + testNewKeyID + " was last used on 2026-11-24 at 08:05 UTC with sts in us-east-1."}},
		{"no newer key", policy.Usage{AccessKeyID: testAccessKeyID}, nil,
			[]string{"Access key " + testAccessKeyID + " was never used."}},
	}
	for _, tt := range tests {
		for _, kind := range policy.NoticeKinds {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				n := policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: testActBy, Message: "policy says so",
					Usage: &tt.usage, Replacement: tt.replacement}
				var m Message
				var err error
				if kind == policy.NewKeyIssued {
					m, err = NewKeyMail(testAddressing, testNewKeyID, n, []byte("zip"))
				} else {
					m, err = NoticeMail(testAddressing, n)
				}
				if err != nil {
					t.Fatal(err)
				}
				body := string(parse(t, m.Raw).part(t, "text/plain").body)
				for _, want := range tt.want {
					if !strings.Contains(strings.Join(strings.Fields(body), " "), want) {
						t.Errorf("email does not say %q:\n%s", want, body)
					}
				}
				if tt.replacement == nil && strings.Contains(body, "newer key") {
					t.Errorf("email names a newer key that does not exist:\n%s", body)
				}
			})
		}
	}
}

// TestNoticeWithoutUsageIsRefused: a notice about an existing key never goes out without its
// evidence. (A new key is delivered whatever is known of the key it replaces.)
func TestNoticeWithoutUsageIsRefused(t *testing.T) {
	for _, kind := range policy.NoticeKinds {
		if kind == policy.NewKeyIssued {
			continue
		}
		_, err := NoticeMail(testAddressing, policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: testActBy, Message: "policy says so"})
		if err == nil || !strings.Contains(err.Error(), "last use") {
			t.Errorf("%s without usage: error %v, want one about the key's last use", kind, err)
		}
	}
}

// TestEveryOwnerEmailCarriesTheAdvice: every email about a key (the new key's, the secret's
// notice, each notice kind's) says, in text and HTML, what could replace the user's long-lived
// keys and links AWS's documentation of it, when the notification carries advice; none does
// without, and the password email never does.
func TestEveryOwnerEmailCarriesTheAdvice(t *testing.T) {
	const heading = "Leave long-lived keys behind:"
	compose := func(a Addressing) map[string]Message {
		out := map[string]Message{}
		for _, kind := range policy.NoticeKinds {
			n := policy.Notice{Kind: kind, AccessKeyID: testAccessKeyID, ActBy: testActBy, Message: "policy says so", Usage: &testUsage}
			var m Message
			var err error
			if kind == policy.NewKeyIssued {
				m, err = NewKeyMail(a, testNewKeyID, n, []byte("zip"))
			} else {
				m, err = NoticeMail(a, n)
			}
			if err != nil {
				t.Fatal(err)
			}
			out[string(kind)] = m
		}
		var err error
		if out["secret-key"], err = SecretKeyMail(a, testNewKeyID, "SSM parameter /ci/deployer", newKeyNotice); err != nil {
			t.Fatal(err)
		}
		if out["password"], err = PasswordMail(a, testNewKeyID, handoff.NewZipPassword()); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, use := range advice.Uses {
		a := testAddressing
		a.Advice = advice.For(use)
		for name, m := range compose(a) {
			p := parse(t, m.Raw)
			for _, mediaType := range []string{"text/plain", "text/html"} {
				body := strings.Join(strings.Fields(html.UnescapeString(string(p.part(t, mediaType).body))), " ")
				says := strings.Contains(body, heading)
				if want := a.Advice != nil && name != "password"; says != want {
					t.Errorf("%s: %s email, %s: advice %v, want %v", use, name, mediaType, says, want)
				}
				if !says {
					continue
				}
				said := heading + " " + a.Advice.Explain()
				if mediaType == "text/html" {
					said = heading + "</strong> " + a.Advice.Explain()
				}
				if !strings.Contains(body, said) {
					t.Errorf("%s: %s email, %s, lacks the advice %q:\n%s", use, name, mediaType, a.Advice.Explain(), body)
				}
				for _, link := range a.Advice.Links {
					if mediaType == "text/html" {
						link = `<a href="` + link + `">`
					}
					if !strings.Contains(body, link) {
						t.Errorf("%s: %s email, %s, lacks %s", use, name, mediaType, link)
					}
				}
			}
		}
	}
}
