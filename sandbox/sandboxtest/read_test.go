package sandboxtest

import (
	"slices"
	"strings"
	"testing"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		wantSubject string
		wantText    string
		wantHTML    string
		wantFiles   []string // filename=content
		wantErr     string
	}{
		{
			name:        "single part",
			raw:         "From: a@example.com\r\nSubject: Hello\r\n\r\nBody line\r\n",
			wantSubject: "Hello",
			wantText:    "Body line\r\n",
		},
		{
			name: "encoded subject, quoted-printable text, html alternative, attachment by name",
			raw: "From: a@example.com\r\nSubject: =?utf-8?q?Cl=C3=A9_d=27acc=C3=A8s?=\r\n" +
				"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
				"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
				"--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Deactivated on 2026-12-01 =3D in 10 days\r\n" +
				"--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n" +
				"--inner--\r\n" +
				"--outer\r\nContent-Type: text/plain; name=\"password.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				"c2VjcmV0\r\ncGFzcw==\r\n" +
				"--outer--\r\n",
			wantSubject: "Clé d'accès",
			wantText:    "Deactivated on 2026-12-01 = in 10 days",
			wantHTML:    "<p>html</p>",
			wantFiles:   []string{"password.txt=secretpass"},
		},
		{
			name:    "bad content type",
			raw:     "Subject: x\r\nContent-Type: multipart/mixed; boundary\r\n\r\nbody",
			wantErr: "parse Content-Type",
		},
		{
			name:    "bad base64",
			raw:     "Subject: x\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
			wantErr: "decode application/zip part",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEmail(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, a := range e.Attachments {
				files = append(files, a.Filename+"="+string(a.Data))
			}
			if e.Subject != tc.wantSubject || strings.TrimSpace(e.Text) != strings.TrimSpace(tc.wantText) ||
				strings.TrimSpace(e.HTML) != tc.wantHTML || !slices.Equal(files, tc.wantFiles) || e.Raw != tc.raw {
				t.Errorf("got subject %q text %q html %q files %v", e.Subject, e.Text, e.HTML, files)
			}
		})
	}
}
