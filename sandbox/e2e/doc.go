// Package e2e holds the end-to-end tests of the rotator: the whole workflow
// (statemachine/rotation.asl.json) run by the local runner (package sandbox/runner) with the
// real Lambda binaries against a seeded local AWS stand-in, checked against the policy's
// predictions (pkg/policy) and against what reached the owners' mailboxes. Their names
// start with TestE2E; they need .venv (make sandbox-tools), node_modules (make
// runner-tools) and 7zz, and fail, never skip, when one is missing.
package e2e
