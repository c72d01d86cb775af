// Package sandbox owns the local AWS stand-in: it starts moto (through the Python
// launcher moto_server.py, embedded here) on 127.0.0.1, seeds it with a scenario — an
// organization, member accounts, IAM users with tags and back-dated access keys, the
// member role and the verified SES sender — and records the rotator settings of that
// scenario in the stand-in, where GET /keyrotator/settings returns them.
//
// moto chooses member account IDs itself, so scenarios address accounts by name; the
// seeder returns the name → ID map. Secrets of seeded keys are returned in memory only,
// wrapped in secret.Secret, whose printed and JSON forms are redacted.
package sandbox
