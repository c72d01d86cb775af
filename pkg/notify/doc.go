// Package notify composes and sends the emails of the NotifyUser Lambda: the new key in an
// AES-256 encrypted zip, its password in a second, separate email, the notices the rotation
// policy asks for, and the support team's report. Messages are built as raw MIME (plain text
// with an HTML alternative) and sent through Amazon SES v2, each attempt in its turn under
// the run's one send rate (Pacer: pkg/sendrate's slots).
//
// Secret access keys and passwords travel as secret.Secret and are revealed only where they
// are written into the zip or the password email; no error or log value of this package
// contains them.
package notify
