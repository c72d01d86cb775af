package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// workflowReads is what a GitHub Actions workflow of owner/repo (environment env, "" for
// the repository) reads from the secrets named names: the local GitHub opens them with the
// key pair they were sealed for.
func (o *org) workflowReads(t *testing.T, repo, env string, names [2]string) appKey {
	t.Helper()
	owner, name, _ := strings.Cut(repo, "/")
	id, _, ok := o.sb.GitHub().Open(owner, name, env, names[0])
	secret, _, ok2 := o.sb.GitHub().Open(owner, name, env, names[1])
	if !ok || !ok2 || len(secret) < 40 {
		t.Fatalf("the workflow of %s (environment %q) cannot read both secrets %v", repo, env, names)
	}
	return appKey{AccessKeyID: id, SecretAccessKey: secret}
}

// useKey is the workflow calling AWS with the key it read: the stand-in checks the
// signature (IAM enforced), and the key's last use is recorded as IAM would.
func (o *org) useKey(t *testing.T, user string, k appKey) {
	t.Helper()
	cfg := sandbox.Config(o.sb.URL)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("the workflow's call with key %s of %s: %v", k.AccessKeyID, user, err)
	}
	created := keyNamed(t, o.state(t, "prod")["prod"], user, k.AccessKeyID).CreateDate
	if err := sandbox.Backdate(context.Background(), o.sb.URL, o.id(t, "prod"), user, k.AccessKeyID, created,
		&sandbox.LastUse{Date: time.Now(), Service: "sts", Region: sandbox.Region}); err != nil {
		t.Fatal(err)
	}
}

// TestE2EDeliveryToGitHub: machine users tagged KeyDelivery = github:<owner>/<repo> (and
// .../environments/<name>) get their new keys sealed into the repository's or environment's
// Actions secrets on the local GitHub, through the rotator's App read from its secret; a
// workflow opens them and calls AWS with the new key. The old key is deactivated on its day
// once the new key was used; the environment's new key, never used, keeps its old key active
// past that day, its owner told on the day minus N/2. A repository without the opt-in
// variable, an owner outside allowedGitHubOwners and an uninstalled App are refused before
// any key is made, each owner told and the report saying why; 502s and a secondary rate limit
// are retried within the call, and a day of 503s is a failed delivery the owner is told of,
// the key delivered the next day. No secret in any output, email, report or GitHub's log.
func TestE2EDeliveryToGitHub(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/github-delivery.json")
	gh := o.sb.GitHub()
	gh.Fail(ghlocal.Fault{Match: "PUT /repos/example-org/flaky/", Status: http.StatusBadGateway, Times: 2})
	gh.Fail(ghlocal.Fault{Match: "GET /repos/example-org/flaky/actions/secrets/public-key", Status: http.StatusTooManyRequests, RetryAfter: 1, Times: 1})
	// example-org/down fails every write on the first day: a failed delivery, the owner told.
	gh.Fail(ghlocal.Fault{Match: "PUT /repos/example-org/down/", Status: http.StatusServiceUnavailable})
	before := o.state(t, "prod")["prod"]

	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	state := o.state(t, "prod")["prod"]
	delivered := map[string]delivery{}
	type dest struct {
		user, repo, env string
		names           [2]string
	}
	dests := []dest{
		{"deployer", "example-org/deploy", "", [2]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		{"envdeployer", "example-org/deploy", "prod", [2]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		{"flaky", "example-org/flaky", "", [2]string{"DEPLOY_KEY_ID", "DEPLOY_SECRET"}},
	}
	newKeys := map[string]appKey{}
	for _, d := range dests {
		k := o.workflowReads(t, d.repo, d.env, d.names)
		if keyStatus(t, state, d.user, k.AccessKeyID) != "Active" || slices.ContainsFunc(userNamed(t, before, d.user).Keys, func(old sandboxtest.Key) bool { return old.AccessKeyID == k.AccessKeyID }) {
			t.Fatalf("%s: the workflow reads %s, want a new active key of the user", d.user, k.AccessKeyID)
		}
		newKeys[d.user] = k
		delivered[k.AccessKeyID] = delivery{secret: k.SecretAccessKey}
	}
	o.useKey(t, "deployer", newKeys["deployer"])
	o.useKey(t, "flaky", newKeys["flaky"])

	ms := slices.DeleteFunc(mails(t, ex, dir), func(m mail) bool { return m.Destinations[0] == o.settings.SupportEmail })
	allMails := slices.Clone(ms)
	for owner, want := range map[string]string{
		"ci-team@example.com":    "is in GitHub secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of example-org/deploy",
		"env-team@example.com":   "is in GitHub secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of environment prod of example-org/deploy",
		"flaky-team@example.com": "is in GitHub secrets DEPLOY_KEY_ID and DEPLOY_SECRET of example-org/flaky",
		"data-team@example.com":  "its replacement cannot be delivered",
		"down-team@example.com":  "its replacement cannot be delivered",
		"out-team@example.com":   "its replacement cannot be delivered",
		"rev-team@example.com":   "its replacement cannot be delivered",
	} {
		got := slices.DeleteFunc(slices.Clone(ms), func(m mail) bool { return m.Destinations[0] != owner })
		if len(got) != 1 || !strings.Contains(got[0].Subject, want) || len(got[0].Attachments) != 0 {
			t.Errorf("%s got %d emails, want one saying %q, without attachment", owner, len(got), want)
		}
	}
	for user, reason := range map[string]string{
		"novar":    "GitHub repository example-org/novar refuses the keys of novar: it lacks the Actions variable AWS_KEY_ROTATOR_USER=" + o.id(t, "prod") + "/novar",
		"outsider": "GitHub repository outside-org/tools refuses the keys of outsider: its owner outside-org is not one of allowedGitHubOwners",
		"revoked":  "GitHub repository revoked-org/app refuses the keys of revoked: the rotator's GitHub App is not installed on revoked-org",
	} {
		if n := len(userNamed(t, state, user).Keys); n != 1 {
			t.Errorf("%s: %d keys, want no key made for a refused destination", user, n)
		}
		if !strings.Contains(string(ex.ReportCSV), reason) {
			t.Errorf("report.csv does not say %q", reason)
		}
	}
	if keys := userNamed(t, state, "down").Keys; len(keys) != 2 || !strings.Contains(string(ex.ReportCSV), "GitHub answered HTTP 503 to the write, also when tried again") {
		t.Errorf("down: %d keys, want its new key waiting after GitHub failed the write, and the report saying so", len(keys))
	}
	gh.ClearFaults()
	for _, r := range gh.Log() {
		if r.Method == http.MethodPut && !strings.HasPrefix(r.Path, "/repos/example-org/deploy/") && !strings.HasPrefix(r.Path, "/repos/example-org/flaky/") &&
			!strings.HasPrefix(r.Path, "/repos/example-org/down/") &&
			!strings.HasPrefix(r.Path, "/repositories/") {
			t.Errorf("a write to a refused destination: %s %s", r.Method, r.Path)
		}
	}

	old := func(user string) string { return userNamed(t, before, user).Keys[0].AccessKeyID }
	for day := 1; day <= 10; day++ {
		o.advance(t, 24*time.Hour)
		o.useKey(t, "deployer", newKeys["deployer"])
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		dayMails := mails(t, ex, dir)
		allMails = append(allMails, dayMails...)
		state := o.state(t, "prod")["prod"]
		if day == 1 {
			down := o.workflowReads(t, "example-org/down", "", [2]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})
			if keyStatus(t, state, "down", down.AccessKeyID) != "Active" || down.AccessKeyID == old("down") {
				t.Errorf("day 1: down's workflow reads %s, want its new key, delivered once GitHub answers again", down.AccessKeyID)
			}
			delivered[down.AccessKeyID] = delivery{secret: down.SecretAccessKey}
		}
		if day == 2 && len(o.handoffSecrets(t)) != 0 {
			t.Errorf("day 2: hand-off secrets left after the writes were confirmed: %v", o.handoffSecrets(t))
		}
		want := map[string]string{"deployer": "Active", "flaky": "Active", "envdeployer": "Active"}
		if day == 10 {
			want["deployer"], want["flaky"] = "Inactive", "Inactive"
		}
		for user, status := range want {
			if got := keyStatus(t, state, user, old(user)); got != status {
				t.Fatalf("day %d: %s's old key is %s, want %s", day, user, got, status)
			}
		}
		toEnv := slices.DeleteFunc(slices.Clone(dayMails), func(m mail) bool { return m.Destinations[0] != "env-team@example.com" })
		if told := len(toEnv) == 1 && strings.Contains(toEnv[0].Text, "is not used yet"); told != (day == 5) {
			t.Errorf("day %d: env-team told that the new key is not used: %v (%d emails), want %v", day, told, len(toEnv), day == 5)
		}
	}
	// The App's private key is a secret too: a line from the middle of its PEM.
	app, err := secretsmanager.NewFromConfig(o.sb.Config()).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(sandbox.GitHubAppSecretName)})
	if err != nil {
		t.Fatal(err)
	}
	var appSecret struct{ PrivateKey string }
	if err := json.Unmarshal([]byte(aws.ToString(app.SecretString)), &appSecret); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(appSecret.PrivateKey, "\n")
	delivered["the GitHub App's private key"] = delivery{secret: lines[len(lines)/2]}
	o.checkNoLeak(t, []string{o.out}, allMails, delivered)
}
