package sim

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// The sentences of the owner emails that give a day (pkg/notify's templates).
var (
	toldDeactivation = []*regexp.Regexp{
		regexp.MustCompile(`On (\d{4}-\d{2}-\d{2}) the old key (AKIA[A-Z0-9]+) will be deactivated`),
		regexp.MustCompile(`Access key (AKIA[A-Z0-9]+) of IAM user \S+ in AWS account .+? will be deactivated on (\d{4}-\d{2}-\d{2})`),
		// DeliveryFailed: its replacement is not where the application reads it.
		regexp.MustCompile(`Unless that is fixed, access key (AKIA[A-Z0-9]+) will be deactivated on (\d{4}-\d{2}-\d{2})`),
		// HoldPlaced: the day after an operator's hold, when the rules deactivate the key.
		regexp.MustCompile(`the rotation rules apply again: (AKIA[A-Z0-9]+) will be deactivated on (\d{4}-\d{2}-\d{2})`),
	}
	toldDeletion = regexp.MustCompile(`Access key (AKIA[A-Z0-9]+) of IAM user \S+ in AWS account .+? was deactivated\. It will be deleted on (\d{4}-\d{2}-\d{2})`)
	dayFirst     = regexp.MustCompile(`^\d`)
)

// told is what one email tells its reader, by key: the day it is deactivated, or deleted.
type told struct{ deactivation, deletion map[string]string }

// toldIn reads the days an owner email names, from its text part as the owner reads it.
func toldIn(raw []byte) told {
	t := told{deactivation: map[string]string{}, deletion: map[string]string{}}
	text := plainText(raw)
	for _, re := range toldDeactivation {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			key, day := m[1], m[2]
			if dayFirst.MatchString(key) {
				key, day = day, key
			}
			t.deactivation[key] = day
		}
	}
	for _, m := range toldDeletion.FindAllStringSubmatch(text, -1) {
		t.deletion[m[1]] = m[2]
	}
	return t
}

// toldDates is the last deactivation day each key was given in these emails.
func toldDates(msgs []awsmodel.Message) map[string]string {
	out := map[string]string{}
	for _, m := range msgs {
		for k, d := range toldIn(m.Raw).deactivation {
			out[k] = d
		}
	}
	return out
}

// plainText is the text/plain parts of a MIME message, decoded, with whitespace runs as
// single spaces.
func plainText(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	var b strings.Builder
	walkPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &b)
	return strings.Join(strings.Fields(b.String()), " ")
}

func walkPart(contentType, encoding string, body io.Reader, b *strings.Builder) {
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		media = "text/plain"
	}
	if strings.HasPrefix(media, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err != nil {
				return
			}
			walkPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, b)
		}
	}
	if media != "text/plain" {
		return
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	data, _ := io.ReadAll(body)
	b.Write(data)
	b.WriteByte(' ')
}
