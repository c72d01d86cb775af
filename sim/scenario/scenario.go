// Package scenario runs the real ScanAndRotate (rotate.Rotator) and NotifyUser
// (notify.Handler) of one member account against the in-process AWS model (sim/awsmodel),
// one step at a time, for scenario tests: a test makes users, keys and secrets, runs days
// (Day), and reads what the account and the owners' mailboxes hold afterwards. The steps are
// built with the constructors the Lambdas use (rotate.New, notify.New), with the settings the
// Lambdas read (config.Load).
//
// pkg/rotate's own tests (package rotate_test) and package sim's tests both use it: it
// imports the rotator and the model, never package sim.
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

const (
	// Account is the member account a Harness runs in.
	Account = "111122223333"
	// Domain is the allowed email domain: User tags every owner name@Domain.
	Domain = "example.com"
	// ReportBucket is the rotator's report bucket (the accounts' leases).
	ReportBucket = "reports"
	// HandoffPrefix places the hand-off secrets.
	HandoffPrefix = "handoff/"
	// TagKey is the rotator's tag key (history.Seal), which only its Lambdas read.
	TagKey = "harness-tag-key-of-the-rotator-0123456789"
	// DeliveryFailedSubject is what the subject of an owner's notice of a failed delivery says.
	DeliveryFailedSubject = "its replacement cannot be delivered"
)

// Harness is one member account in the model, with the rotator's steps run on demand. A test
// may set the exported knobs (MaxUsers, MaxNotifications, AppSecrets) before a run, move Now,
// and read or change the model (W) directly.
type Harness struct {
	T        testing.TB
	W        *awsmodel.World
	Now      time.Time
	DayStart time.Time
	Acct     workflow.Account
	Logs     bytes.Buffer
	Runs     int
	MaxUsers int // the policy's maxUsers (0: its default)
	// AppSecrets is the member account's Secrets Manager as the rotator sees it (nil: the
	// model's, with no IAM between).
	AppSecrets appsecret.API
	// AppParams is the member account's SSM as the rotator sees it (nil: the model's, as the
	// rotator's member roles reach it on AWS: MemberParamsIn).
	AppParams appsecret.ParamAPI
	// GitHub is the rotator's GitHub App (nil: none), for users whose keys go to GitHub
	// Actions secrets (a local GitHub: sandbox/ghlocal).
	GitHub *appsecret.GitHub
	// MaxNotifications is the rotator's MaxNotifications (0: its default).
	MaxNotifications int
	// Seal signs the rotator's tags (its tag key, which only the rotator's Lambdas read).
	Seal *history.Seal
}

// New is an account with no users, its day starting tomorrow at 13:00 UTC: later than the
// wall clock, which the rotator once dated its pending marks by.
func New(t testing.TB) *Harness {
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(37 * time.Hour)
	seal, err := history.NewSeal([]byte(TagKey))
	Must(err)
	h := &Harness{T: t, Now: start, DayStart: start, Acct: workflow.Account{AccountID: Account, Name: "prod"}, Seal: seal}
	h.W = awsmodel.New(func() time.Time { return h.Now }, 1)
	h.W.VerifySES(Domain)
	h.W.CreateBucket(ReportBucket)
	h.W.ListSecretsDelay = 0
	return h
}

// Must panics on an error of the set-up.
func Must(err error) {
	if err != nil {
		panic(err)
	}
}

// Settings are the Lambdas' settings in the harness, as config.Load reads them.
func (h *Harness) Settings() config.Settings {
	env := map[string]string{config.AllowedEmailDomains: Domain, config.SenderEmail: "rotator@" + Domain,
		config.ReportBucket: ReportBucket, config.HandoffSecretPrefix: HandoffPrefix}
	if h.MaxUsers != 0 {
		env[config.MaxUsers] = strconv.Itoa(h.MaxUsers)
	}
	s, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		h.T.Fatalf("settings: %v", err)
	}
	return s
}

// SignedTag sets a rotator tag on a user as the rotator would write it, signed.
func (h *Harness) SignedTag(user, key, value string) {
	Must(h.W.SetTag(Account, user, key, h.Seal.Sign(Account, user, key, value)))
}

// MemberSecrets is the member account's Secrets Manager as the rotator's calls reach it.
func (h *Harness) MemberSecrets() appsecret.API {
	if h.AppSecrets != nil {
		return h.AppSecrets
	}
	return h.W.SecretsIn(Account)
}

// MemberParams is the member account's SSM as the rotator's calls reach it: by default
// through the member roles' tag-conditioned grants, as on AWS.
func (h *Harness) MemberParams() appsecret.ParamAPI {
	if h.AppParams != nil {
		return h.AppParams
	}
	return h.W.MemberParamsIn(Account)
}

// User makes a user with an email tag (and any other tags) and keys of the given ages in
// days, all used an hour ago; it returns the keys' IDs.
func (h *Harness) User(name string, tags map[string]string, ages ...int) []string {
	h.T.Helper()
	all := map[string]string{"EmailID": name + "@" + Domain}
	for k, v := range tags {
		all[k] = v
	}
	return h.TaggedUser(name, all, ages...)
}

// TaggedUser makes a user with exactly these tags (no email tag added) and keys of the given
// ages in days, used an hour ago.
func (h *Harness) TaggedUser(name string, tags map[string]string, ages ...int) []string {
	h.T.Helper()
	Must(h.W.CreateUser(Account, name, tags))
	var ids []string
	for _, age := range ages {
		id, _, err := h.W.AddKey(Account, name, h.Now.AddDate(0, 0, -age), types.StatusTypeActive)
		Must(err)
		Must(h.W.UseKey(Account, id, h.Now.Add(-time.Hour), "s3", "us-east-1"))
		ids = append(ids, id)
	}
	h.Now = h.Now.Add(time.Minute) // past IAM's consistency window for the seeded keys
	return ids
}

// MachineUser makes a user whose KeyDelivery tag names the secret app/<name>, and that
// secret, holding the user's first key and tagged with optIn (nil: none); it returns the keys.
func (h *Harness) MachineUser(name string, optIn map[string]string, ages ...int) []string {
	h.T.Helper()
	ids := h.User(name, map[string]string{appsecret.DeliveryTag: appsecret.Scheme + "app/" + name}, ages...)
	Must(h.W.CreateAppSecret(Account, "app/"+name, `{"AccessKeyId":"`+ids[0]+`","SecretAccessKey":"original"}`, optIn))
	return ids
}

// ParamUser makes a user whose KeyDelivery tag names the SSM parameter /app/<name>, and that
// parameter, a SecureString holding the user's first key and tagged with optIn (nil: none);
// it returns the keys.
func (h *Harness) ParamUser(name string, optIn map[string]string, ages ...int) []string {
	h.T.Helper()
	ids := h.User(name, map[string]string{appsecret.DeliveryTag: appsecret.ParamScheme + "/app/" + name}, ages...)
	Must(h.W.CreateAppParameter(Account, "/app/"+name, "SecureString", `{"AccessKeyId":"`+ids[0]+`","SecretAccessKey":"original"}`, optIn))
	return ids
}

// ParamReads returns the access key ID the application reads from its parameter /app/<name>.
func (h *Harness) ParamReads(name string) string {
	h.T.Helper()
	p, ok := h.W.AppParameter(Account, "/app/"+name)
	var v struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
	}
	if err := json.Unmarshal([]byte(p.Value), &v); !ok || err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		h.T.Fatalf("parameter /app/%s (found: %v) does not hold the key JSON", name, ok)
	}
	return v.AccessKeyID
}

// PairUser makes a user whose KeyDelivery tag names the SSM parameter pair /app/<name>
// (ssm-pair:), and its two parameters: /app/<name>/aws_access_key_id, a String, and
// /app/<name>/aws_secret_access_key, a SecureString, holding the user's first key, each
// tagged with optIn (nil: none); it returns the keys.
func (h *Harness) PairUser(name string, optIn map[string]string, ages ...int) []string {
	h.T.Helper()
	ids := h.User(name, map[string]string{appsecret.DeliveryTag: appsecret.PairScheme + "/app/" + name}, ages...)
	Must(h.W.CreateAppParameter(Account, "/app/"+name+"/"+appsecret.PairKeyIDName, "String", ids[0], optIn))
	Must(h.W.CreateAppParameter(Account, "/app/"+name+"/"+appsecret.PairSecretName, "SecureString", "original", optIn))
	return ids
}

// PairReads returns the key ID and the secret access key the application reads from its
// parameter pair /app/<name>.
func (h *Harness) PairReads(name string) (keyID, secretAccessKey string) {
	h.T.Helper()
	id, ok1 := h.W.AppParameter(Account, "/app/"+name+"/"+appsecret.PairKeyIDName)
	key, ok2 := h.W.AppParameter(Account, "/app/"+name+"/"+appsecret.PairSecretName)
	if !ok1 || !ok2 {
		h.T.Fatalf("the parameter pair /app/%s does not exist", name)
	}
	return id.Value, key.Value
}

// clock is the harness's time.
func (h *Harness) clock() time.Time { return h.Now }

// Scan runs ScanAndRotate once and returns its notifications.
func (h *Harness) Scan() []workflow.Notification {
	h.T.Helper()
	_, notes := h.ScanWith(context.Background())
	return notes
}

// runID is the ID of the run ScanWith makes next.
func (h *Harness) runID() string { return "run-" + h.Now.Format("20060102-150405") }

// Hold places the operator's holds (and releases the users) as ListAccounts records them for
// the run that ScanWith makes next (the execution whose input names them): a hold of user in
// the harness's account through until (YYYY-MM-DD), reactivating its key.
func (h *Harness) Hold(holds []workflow.HoldRequest, releases ...workflow.ReleaseRequest) {
	h.T.Helper()
	in := workflow.ExecutionInput{Holds: holds, Releases: releases}
	if err := in.CheckHolds(h.Now, h.Settings().Policy.NoticePeriod); err != nil {
		h.T.Fatalf("hold input: %v", err)
	}
	run := workflow.Run{RunID: h.runID(), Now: h.Now}
	if _, err := (&hold.Store{S3: h.W.S3(), Bucket: ReportBucket}).Update(context.Background(), func(b *hold.Book) { b.Apply(run, holds, releases) }); err != nil {
		h.T.Fatalf("record the holds: %v", err)
	}
}

// ScanWith runs ScanAndRotate once under ctx (its deadline is the Lambda's).
func (h *Harness) ScanWith(ctx context.Context) (workflow.AccountResult, []workflow.Notification) {
	h.T.Helper()
	h.Runs++
	r := rotate.New(h.Settings(), rotate.Clients{IAM: h.W.IAM(Account), AppSecrets: h.MemberSecrets(), AppParams: h.MemberParams(), GitHub: h.GitHub,
		Secrets: h.W.Secrets(), SES: h.W.SES(), S3: h.W.S3()}, h.Seal, slog.New(slog.NewJSONHandler(&h.Logs, nil)))
	r.Clock, r.Leases.Clock = h.clock, h.clock
	r.Scanner.PollInterval = time.Nanosecond
	r.MaxNotifications = h.MaxNotifications
	run := workflow.Run{RunID: h.runID(), Now: h.Now}
	// As ListAccounts checks SES's suppression settings once per execution (NotifyUser sends
	// through the settings' configuration set, none here: the account's settings govern).
	problem, err := suppression.Check(ctx, h.W.SES(), h.Settings().SESConfigurationSet)
	if err != nil {
		h.T.Fatalf("ListAccounts' check of SES's suppression settings: %v", err)
	}
	run.BouncesSuppressed, run.BounceProblem = problem == "", problem
	res, notes, err := r.Process(ctx, run, h.Acct)
	if err != nil {
		h.T.Fatalf("ScanAndRotate: %v", err)
	}
	h.Now = h.Now.Add(time.Second)
	return res, notes
}

// Notify runs NotifyUser for each notification, ignoring failures (the ASL reports them).
func (h *Harness) Notify(notes []workflow.Notification) {
	d := notify.New(h.Settings(), notify.Clients{Secrets: h.W.Secrets(), SES: h.W.SES(),
		History:    func(string) history.TagAPI { return h.W.IAM(Account) },
		AppSecrets: func(string) appsecret.API { return h.MemberSecrets() },
		AppParams:  func(string) appsecret.ParamAPI { return h.MemberParams() }, GitHub: h.GitHub}, h.Seal, slog.New(slog.NewJSONHandler(&h.Logs, nil)))
	d.Now = h.clock
	for _, n := range notes {
		_, _ = d.Handle(context.Background(), n)
	}
}

// Day runs one daily execution and moves to the next day's run.
func (h *Harness) Day() {
	h.Notify(h.Scan())
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
}

// DayWith runs one daily execution like Day, and returns ScanAndRotate's result.
func (h *Harness) DayWith() workflow.AccountResult {
	h.T.Helper()
	res, notes := h.ScanWith(context.Background())
	h.Notify(notes)
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	return res
}

// Failed returns the error of user's result, if the run failed it.
func Failed(res workflow.AccountResult, user string) string {
	for _, u := range res.Users {
		if u.UserName == user && u.Error != "" {
			return u.Error
		}
	}
	return ""
}

// Keys are user's keys and their status.
func (h *Harness) Keys(user string) map[string]types.StatusType {
	out := map[string]types.StatusType{}
	for _, k := range h.W.Keys(Account, user) {
		out[k.AccessKeyID] = k.Status
	}
	return out
}

var (
	zipSubject      = regexp.MustCompile(`^New AWS access key (AKIA[A-Z0-9]+) `)
	passwordSubject = regexp.MustCompile(`^Password for the new AWS access key (AKIA[A-Z0-9]+) `)
)

// Received lists the new keys whose zip and password both reached user.
func (h *Harness) Received(user string) []string {
	halves := map[string]int{}
	for _, subject := range h.Subjects(user) {
		for _, re := range []*regexp.Regexp{zipSubject, passwordSubject} {
			if m := re.FindStringSubmatch(subject); m != nil {
				halves[m[1]]++
			}
		}
	}
	var out []string
	for id, n := range halves {
		if n >= 2 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Subjects lists the subjects of the emails that reached user.
func (h *Harness) Subjects(user string) []string {
	var out []string
	for _, m := range h.W.Delivered(user + "@" + Domain) {
		if parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw)); err == nil {
			subject, _ := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
			out = append(out, subject)
		}
	}
	return out
}

// ToldOfFailure counts the owner's emails telling that delivery to the secret fails.
func (h *Harness) ToldOfFailure(user string) int {
	n := 0
	for _, s := range h.Subjects(user) {
		if strings.Contains(s, DeliveryFailedSubject) {
			n++
		}
	}
	return n
}

var failureDay = regexp.MustCompile(`will be deactivated on (\d{4}-\d{2}-\d{2}): ` + DeliveryFailedSubject)

// FailureDay is the day the owner's last DeliveryFailed email gives, "" when none.
func (h *Harness) FailureDay(user string) string {
	day := ""
	for _, s := range h.Subjects(user) {
		if m := failureDay.FindStringSubmatch(s); m != nil {
			day = m[1]
		}
	}
	return day
}

// AppReads is what the application reads from its secret app/<name>: the key ID of the
// current value.
func (h *Harness) AppReads(name string) string {
	h.T.Helper()
	s, ok := h.W.SecretIn(Account, "app/"+name)
	var v struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
	}
	if err := json.Unmarshal([]byte(s.Value), &v); !ok || err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
		h.T.Fatalf("secret app/%s (found: %v) does not hold the key JSON", name, ok)
	}
	return v.AccessKeyID
}

// HandoffSecrets returns the hand-off secrets of user, scheduled ones included.
func (h *Harness) HandoffSecrets(user string) []awsmodel.Secret {
	var out []awsmodel.Secret
	for _, s := range h.W.SecretsList() {
		if s.Tags[handoff.UserTag] == user {
			out = append(out, s)
		}
	}
	return out
}

// ReadsOf counts the per-user reads (ListAccessKeys, GetAccessKeyLastUsed, ListUserTags) from
// now on, and the users whose tags were read: the last of the three reads of a user in full.
// It takes the model's Observe hook.
func (h *Harness) ReadsOf() (calls *int, users map[string]bool) {
	calls, users = new(int), map[string]bool{}
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		switch c.Operation {
		case "ListAccessKeys", "GetAccessKeyLastUsed":
			*calls++
		case "ListUserTags":
			*calls++
			users[aws.ToString(c.Input.(*iam.ListUserTagsInput).UserName)] = true
		}
	}
	return calls, users
}

// DeniedWrites is a member account's Secrets Manager whose secrets' KMS key (or resource
// policy) denies the member role's PutSecretValue, persistently: every PutSecretValue fails
// with Err, the other calls go to API. Set it as a Harness's AppSecrets.
type DeniedWrites struct {
	appsecret.API
	Err error
}

// PutSecretValue fails with d.Err.
func (d DeniedWrites) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, d.Err
}
