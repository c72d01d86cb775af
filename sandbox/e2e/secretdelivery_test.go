package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// appKey is what an application reads from its secret.
type appKey struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// appReads is the application's read of its secret in the account named account, with the
// account's own credentials.
func (o *org) appReads(t *testing.T, account, name string) appKey {
	t.Helper()
	cfg, err := o.sb.AccountConfig(account)
	if err != nil {
		t.Fatal(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("the application cannot read %s: %v", name, err)
	}
	var k appKey
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &k); err != nil || k.AccessKeyID == "" || len(k.SecretAccessKey) < 40 {
		t.Fatalf("secret %s does not hold {\"AccessKeyId\", \"SecretAccessKey\"}", name)
	}
	return k
}

func keyStatus(t *testing.T, users []sandboxtest.User, user, keyID string) string {
	t.Helper()
	for _, k := range userNamed(t, users, user).Keys {
		if k.AccessKeyID == keyID {
			return k.Status
		}
	}
	return "deleted"
}

// TestE2EDeliveryToSecret: a machine user tagged KeyDelivery gets its new key written to its
// application's secret, which opts in; the application reads the old key before the run and
// the new one after; its owner gets a notice without the key; the old key is deactivated on
// its day. A secret that does not opt in is refused: nothing is created, the report says why,
// and its owner is told.
func TestE2EDeliveryToSecret(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/secret-delivery.json")
	before := o.appReads(t, "prod", "ci/deployer")
	refusedBefore := o.appReads(t, "prod", "ci/reporter")

	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	after := o.appReads(t, "prod", "ci/deployer")
	state := o.state(t, "prod")["prod"]
	if after.AccessKeyID == before.AccessKeyID || keyStatus(t, state, "deployer", after.AccessKeyID) != "Active" {
		t.Fatalf("after the run the application reads %s (before: %s), want a new active key of deployer", after.AccessKeyID, before.AccessKeyID)
	}
	if keyStatus(t, state, "deployer", before.AccessKeyID) != "Active" {
		t.Error("the old key must stay active until its date")
	}
	ms := slices.DeleteFunc(mails(t, ex, dir), func(m mail) bool { return m.Destinations[0] == o.settings.SupportEmail })
	// The refused secret's owner is told why, and when the key its application uses goes.
	toReporter := slices.DeleteFunc(slices.Clone(ms), func(m mail) bool { return m.Destinations[0] != "data-team@example.com" })
	if len(toReporter) != 1 || !strings.Contains(toReporter[0].Subject, "its replacement cannot be delivered") {
		t.Errorf("reporter's owner got %d emails, want one telling that its secret refuses the new key", len(toReporter))
	}
	ms = slices.DeleteFunc(ms, func(m mail) bool { return m.Destinations[0] == "data-team@example.com" })
	if len(ms) != 1 || ms[0].Destinations[0] != "ci-team@example.com" || !strings.Contains(ms[0].Subject, "is in secret ci/deployer") ||
		len(ms[0].Attachments) != 0 || !strings.Contains(ms[0].Text, before.AccessKeyID) {
		t.Fatalf("emails %d, want one notice to ci-team@example.com naming ci/deployer and the old key, without attachment", len(ms))
	}
	deactivateOn := ex.Report.Run.Now.AddDate(0, 0, 10).Format(time.DateOnly)
	if !strings.Contains(ms[0].Text, deactivateOn) {
		t.Errorf("the notice does not give the old key's date %s", deactivateOn)
	}

	// The refused secret: no key created, nothing written, the report says why (and its
	// owner was told above).
	if got := o.appReads(t, "prod", "ci/reporter"); got != refusedBefore || len(userNamed(t, state, "reporter").Keys) != 1 {
		t.Errorf("reporter: the application reads %s, keys %d; want its secret and keys unchanged", got.AccessKeyID, len(userNamed(t, state, "reporter").Keys))
	}
	if !strings.Contains(string(ex.ReportCSV), "secret ci/reporter refuses the keys of reporter: it lacks the tag key-rotator:user=reporter, or does not exist, or its resource policy denies the rotator's member role: the member role is denied access to it") {
		t.Error("report.csv does not say why reporter's secret was refused")
	}
	allMails := ms

	// The next day the delivery is confirmed (its hand-off secret deleted); the old key stays
	// active until its day, then is deactivated; the application keeps reading the new key.
	for day := 1; day <= 10; day++ {
		o.advance(t, 24*time.Hour)
		ex, dir := o.run(t, `{}`)
		mustSucceed(t, ex)
		allMails = append(allMails, mails(t, ex, dir)...)
		state := o.state(t, "prod")["prod"]
		want := "Active"
		if day == 10 {
			want = "Inactive"
		}
		if got := keyStatus(t, state, "deployer", before.AccessKeyID); got != want {
			t.Fatalf("day %d: the old key is %s, want %s (it is deactivated on %s)", day, got, want, deactivateOn)
		}
		if got := o.appReads(t, "prod", "ci/deployer"); got != after || keyStatus(t, state, "deployer", after.AccessKeyID) != "Active" {
			t.Fatalf("day %d: the application reads %s, want the new key %s, active", day, got.AccessKeyID, after.AccessKeyID)
		}
		if day == 1 && len(o.handoffSecrets(t)) != 0 {
			t.Errorf("day 1: hand-off secrets left after the write was confirmed: %v", o.handoffSecrets(t))
		}
	}
	o.checkNoLeak(t, []string{o.out}, allMails, map[string]delivery{after.AccessKeyID: {secret: after.SecretAccessKey}})
}
