package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// OrganizationAccessRole is the role Organizations creates in every account it creates,
// trusted by the management account; the seeder acts in member accounts through it.
const OrganizationAccessRole = "OrganizationAccountAccessRole"

const day = 24 * time.Hour

// SeedOptions tune Seed.
type SeedOptions struct {
	// Now is the moment key ages count from; zero means the current time.
	Now time.Time
	// Progress, when set, receives one line per step (never a secret).
	Progress io.Writer
}

// Seeded is what Seed created.
type Seeded struct {
	// Settings are the rotator settings, as stored in the stand-in; Settings.Accounts is
	// the name → ID map, management account first.
	Settings Settings
	// Keys are every seeded access key, in scenario order.
	Keys []SeededKey
}

// SeededKey is one access key as seeded, with its secret.
type SeededKey struct {
	Account      string
	AccountID    string
	User         string
	AccessKeyID  string
	Status       string
	CreateDate   time.Time
	LastUsedDate *time.Time
	Secret       secret.Secret
}

// AccountID returns the ID of the account named name.
func (s *Seeded) AccountID(name string) (string, bool) { return s.Settings.AccountID(name) }

// KeysOf returns the seeded keys of user in the account named account, in scenario order.
func (s *Seeded) KeysOf(account, user string) []SeededKey {
	var keys []SeededKey
	for _, k := range s.Keys {
		if k.Account == account && k.User == user {
			keys = append(keys, k)
		}
	}
	return keys
}

// WriteKeysFile writes every seeded key with its secret as JSON to path, readable by its
// owner only. Give it a path in a temporary directory, never one in the repository.
func (s *Seeded) WriteKeysFile(path string) error {
	type entry struct {
		Account         string     `json:"account"`
		AccountID       string     `json:"accountId"`
		User            string     `json:"user"`
		AccessKeyID     string     `json:"accessKeyId"`
		SecretAccessKey string     `json:"secretAccessKey"`
		Status          string     `json:"status"`
		CreateDate      time.Time  `json:"createDate"`
		LastUsedDate    *time.Time `json:"lastUsedDate,omitempty"`
	}
	entries := make([]entry, 0, len(s.Keys))
	for _, k := range s.Keys {
		entries = append(entries, entry{k.Account, k.AccountID, k.User, k.AccessKeyID,
			k.Secret.Reveal(), k.Status, k.CreateDate, k.LastUsedDate})
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return fmt.Errorf("write keys file %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write keys file: %w", err)
	}
	return nil
}

// SessionName is the STS role session name of the seeder's and sandboxtest's own
// AssumeRole calls, so that tests can tell them from the rotator's.
const SessionName = "keyrotator-sandbox"

// AccountConfig returns base acting in accountID through role, by STS AssumeRole with
// session name SessionName.
func AccountConfig(base aws.Config, accountID, role string) aws.Config {
	cfg := base.Copy()
	arn := fmt.Sprintf("arn:aws:iam::%s:role/%s", accountID, role)
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), arn,
		func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = SessionName }))
	return cfg
}

// Seed validates sc and then creates it in the (empty) stand-in at url: the
// organization, one member account per scenario account, the member role in every
// account, the users with their tags and keys back-dated relative to opts.Now, and the
// verified SES sender; finally it stores the settings (GET /keyrotator/settings).
// An invalid scenario creates nothing.
func Seed(ctx context.Context, url string, sc *Scenario, opts SeedOptions) (*Seeded, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario, nothing seeded:\n%w", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	base := Config(url)
	org := organizations.NewFromConfig(base)

	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{
		FeatureSet: orgtypes.OrganizationFeatureSetAll,
	}); err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	desc, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("describe organization: %w", err)
	}
	mgmtID := aws.ToString(desc.Organization.MasterAccountId)
	// moto calls the management account "master"; make ListAccounts say the scenario's name.
	if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/account-name",
		map[string]string{"accountId": mgmtID, "name": sc.ManagementAccount.Name}, nil); err != nil {
		return nil, fmt.Errorf("name management account %s %s: %w", mgmtID, sc.ManagementAccount.Name, err)
	}
	fmt.Fprintf(progress, "organization %s, management account %s = %s\n",
		aws.ToString(desc.Organization.Id), sc.ManagementAccount.Name, mgmtID)

	out := &Seeded{Settings: Settings{
		Region:              Region,
		ManagementAccountID: mgmtID,
		MemberRole:          sc.MemberRole,
		SenderEmail:         sc.SenderEmail,
		SupportEmail:        sc.SupportEmail,
		AllowedEmailDomains: append([]string{}, sc.AllowedEmailDomains...),
		ExcludeAccountIDs:   []string{},
		Accounts:            []AccountSettings{{Name: sc.ManagementAccount.Name, ID: mgmtID, Management: true}},
		SeededAt:            now,
	}}
	s := seeder{url: url, now: now, role: sc.MemberRole, mgmtID: mgmtID, progress: progress, out: out}

	if err := s.account(ctx, base, sc.ManagementAccount, mgmtID); err != nil {
		return nil, err
	}
	for _, a := range sc.Accounts {
		id, err := createAccount(ctx, org, a)
		if err != nil {
			return nil, err
		}
		if a.State != "" && a.State != "ACTIVE" {
			if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/account-state",
				map[string]string{"accountId": id, "state": a.State}, nil); err != nil {
				return nil, fmt.Errorf("set state of account %s %s to %s: %w", a.Name, id, a.State, err)
			}
			fmt.Fprintf(progress, "account %s = %s is %s\n", a.Name, id, a.State)
		}
		excluded := sc.Excluded(a.Name)
		out.Settings.Accounts = append(out.Settings.Accounts, AccountSettings{Name: a.Name, ID: id, Excluded: excluded})
		if excluded {
			out.Settings.ExcludeAccountIDs = append(out.Settings.ExcludeAccountIDs, id)
		}
		if err := s.account(ctx, AccountConfig(base, id, OrganizationAccessRole), a, id); err != nil {
			return nil, err
		}
	}

	if _, err := sesv2.NewFromConfig(base).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{
		EmailIdentity: aws.String(sc.SenderEmail),
	}); err != nil {
		return nil, fmt.Errorf("verify SES sender %s in %s: %w", sc.SenderEmail, mgmtID, err)
	}
	fmt.Fprintf(progress, "SES sender %s verified in %s\n", sc.SenderEmail, mgmtID)

	if sb := sc.SESSandbox; sb != nil {
		for _, r := range sb.VerifiedRecipients {
			if _, err := sesv2.NewFromConfig(base).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{
				EmailIdentity: aws.String(r),
			}); err != nil {
				return nil, fmt.Errorf("verify SES recipient %s in %s: %w", r, mgmtID, err)
			}
		}
		if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/ses-sandbox", map[string]int{"maxSendRate": sb.MaxSendRate}, nil); err != nil {
			return nil, fmt.Errorf("put SES in its sandbox: %w", err)
		}
		fmt.Fprintf(progress, "SES in its sandbox: %d verified recipients, at most %d messages per second (0: no limit)\n",
			len(sb.VerifiedRecipients), sb.MaxSendRate)
	}
	if h := sc.CredentialReportHoursAgo; h != nil {
		if err := CacheCredentialReports(ctx, url, *h); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "credential reports cached, generated %d hours ago\n", *h)
	}

	if err := putSettings(ctx, url, &out.Settings); err != nil {
		return nil, fmt.Errorf("store settings: %w", err)
	}
	return out, nil
}

func createAccount(ctx context.Context, org *organizations.Client, a Account) (string, error) {
	email := a.Email
	if email == "" {
		email = a.Name + "@example.com"
	}
	created, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String(a.Name),
		Email:       aws.String(email),
	})
	if err != nil {
		return "", fmt.Errorf("create account %s: %w", a.Name, err)
	}
	status := created.CreateAccountStatus
	// Organizations creates accounts asynchronously; the stand-in answers SUCCEEDED at
	// once, but the loop keeps the seeder honest against a slower one.
	for i := 0; status.State == orgtypes.CreateAccountStateInProgress; i++ {
		if i == 50 {
			return "", fmt.Errorf("create account %s: still %s", a.Name, status.State)
		}
		time.Sleep(100 * time.Millisecond)
		got, err := org.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{
			CreateAccountRequestId: status.Id,
		})
		if err != nil {
			return "", fmt.Errorf("create account %s: describe status: %w", a.Name, err)
		}
		status = got.CreateAccountStatus
	}
	if status.State != orgtypes.CreateAccountStateSucceeded {
		return "", fmt.Errorf("create account %s: %s (%s)", a.Name, status.State, status.FailureReason)
	}
	return aws.ToString(status.AccountId), nil
}

type seeder struct {
	url      string
	now      time.Time
	role     string
	mgmtID   string
	progress io.Writer
	out      *Seeded
}

// account creates the member role, users, tags and keys of a in the account cfg acts in.
func (s *seeder) account(ctx context.Context, cfg aws.Config, a Account, id string) error {
	fmt.Fprintf(s.progress, "seeding account %s = %s (%d users)…\n", a.Name, id, len(a.Users))
	client := iam.NewFromConfig(cfg)
	if a.NoMemberRole {
		fmt.Fprintf(s.progress, "  no %s role in %s (noMemberRole)\n", s.role, a.Name)
	} else if err := s.memberRole(ctx, client, id); err != nil {
		return err
	}
	for _, u := range a.Users {
		tags := make([]iamtypes.Tag, 0, len(u.Tags))
		for _, k := range slices.Sorted(maps.Keys(u.Tags)) {
			tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(u.Tags[k])})
		}
		// A fresh stand-in holds no user of that name but one a retried CreateUser (whose
		// response was lost) just made, with these tags: that one is ours.
		var exists *iamtypes.EntityAlreadyExistsException
		if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.Name), Tags: tags}); err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create user %s in %s (%s): %w", u.Name, a.Name, id, err)
		}
		for i, k := range u.Keys {
			if err := s.key(ctx, client, a.Name, id, u.Name, i, k); err != nil {
				return err
			}
		}
	}
	for _, sec := range a.Secrets {
		if err := s.secret(ctx, secretsmanager.NewFromConfig(cfg), a.Name, id, sec); err != nil {
			return err
		}
	}
	return nil
}

// secret creates an application's secret, holding the first Active key seeded for the user
// it names.
func (s *seeder) secret(ctx context.Context, client *secretsmanager.Client, account, id string, sec Secret) error {
	value := "{}"
	if i := slices.IndexFunc(s.out.Keys, func(k SeededKey) bool {
		return k.AccountID == id && k.User == sec.HoldsKeyOf && k.Status == StatusActive
	}); i >= 0 {
		k := s.out.Keys[i]
		body, err := json.Marshal(map[string]string{"AccessKeyId": k.AccessKeyID, "SecretAccessKey": k.Secret.Reveal()})
		if err != nil {
			return fmt.Errorf("encode secret %s in %s: %w", sec.Name, account, err)
		}
		value = string(body)
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(sec.Name), SecretString: aws.String(value)}
	for _, k := range slices.Sorted(maps.Keys(sec.Tags)) {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(sec.Tags[k])})
	}
	if _, err := client.CreateSecret(ctx, in); err != nil {
		return fmt.Errorf("create secret %s in %s (%s): %w", sec.Name, account, id, err)
	}
	return nil
}

// memberRoleTrust lets the management account assume the role, within the organization.
const memberRoleTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
	`"Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`

// memberRolePolicy is what the rotator needs in a member account, and no more.
const memberRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[` +
	`"iam:ListUsers","iam:ListUserTags","iam:ListAccessKeys","iam:GetAccessKeyLastUsed",` +
	`"iam:CreateAccessKey","iam:UpdateAccessKey","iam:DeleteAccessKey","iam:TagUser","iam:UntagUser",` +
	`"iam:GenerateCredentialReport","iam:GetCredentialReport"],"Resource":"*"},` +
	`{"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:PutSecretValue"],"Resource":"*",` +
	`"Condition":{"Null":{"secretsmanager:ResourceTag/key-rotator:user":"false"}}}]}`

func (s *seeder) memberRole(ctx context.Context, client *iam.Client, id string) error {
	if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(s.role),
		AssumeRolePolicyDocument: aws.String(fmt.Sprintf(memberRoleTrust, s.mgmtID)),
		Description:              aws.String("lets the IAM access key rotator manage access keys"),
	}); err != nil {
		return fmt.Errorf("create role %s in %s: %w", s.role, id, err)
	}
	if _, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName:       aws.String(s.role),
		PolicyName:     aws.String("access-key-rotation"),
		PolicyDocument: aws.String(memberRolePolicy),
	}); err != nil {
		return fmt.Errorf("put policy of role %s in %s: %w", s.role, id, err)
	}
	return nil
}

func (s *seeder) key(ctx context.Context, client *iam.Client, account, id, user string, i int, k Key) error {
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		// The SDK retries a call whose response was lost; a retried CreateAccessKey then
		// finds the key the first attempt made (LimitExceeded, or one key too many). That
		// key's secret is unknown: delete it and create the key again, once.
		if dropErr := s.dropUnknownKeys(ctx, client, id, user); dropErr != nil {
			return fmt.Errorf("create access key %d of %s in %s (%s): %w (clean up: %v)", i, user, account, id, err, dropErr)
		}
		if created, err = client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)}); err != nil {
			return fmt.Errorf("create access key %d of %s in %s (%s): %w", i, user, account, id, err)
		}
	}
	keyID := aws.ToString(created.AccessKey.AccessKeyId)
	if k.Status == StatusInactive {
		if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{
			UserName: aws.String(user), AccessKeyId: aws.String(keyID), Status: iamtypes.StatusTypeInactive,
		}); err != nil {
			return fmt.Errorf("deactivate access key %s of %s in %s (%s): %w", keyID, user, account, id, err)
		}
	}
	createDate := s.now.Add(-time.Duration(k.AgeDays) * day)
	var lastUsed *time.Time
	if k.LastUsedDaysAgo != nil {
		t := s.now.Add(-time.Duration(*k.LastUsedDaysAgo) * day)
		lastUsed = &t
	}
	if err := Backdate(ctx, s.url, id, user, keyID, createDate, lastUsed); err != nil {
		return fmt.Errorf("back-date access key %s of %s in %s: %w", keyID, user, account, err)
	}
	s.out.Keys = append(s.out.Keys, SeededKey{
		Account: account, AccountID: id, User: user, AccessKeyID: keyID, Status: k.Status,
		CreateDate: createDate, LastUsedDate: lastUsed,
		Secret: secret.New(aws.ToString(created.AccessKey.SecretAccessKey)),
	})
	return nil
}

// dropUnknownKeys deletes the keys of user in account id that the seeder did not record.
func (s *seeder) dropUnknownKeys(ctx context.Context, client *iam.Client, id, user string) error {
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return fmt.Errorf("list access keys of %s: %w", user, err)
	}
	for _, k := range keys.AccessKeyMetadata {
		keyID := aws.ToString(k.AccessKeyId)
		if slices.ContainsFunc(s.out.Keys, func(sk SeededKey) bool { return sk.AccountID == id && sk.AccessKeyID == keyID }) {
			continue
		}
		if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: k.AccessKeyId}); err != nil {
			return fmt.Errorf("delete access key %s of %s: %w", keyID, user, err)
		}
		fmt.Fprintf(s.progress, "  deleted access key %s of %s: made by a retried CreateAccessKey\n", keyID, user)
	}
	return nil
}

// CacheCredentialReports makes the stand-in at url keep credential reports as IAM does
// (regenerated at most every 4 hours), and takes every account's report now, dated hoursAgo
// hours back. Called again, it retakes them: after a test moved the stand-in's clock-derived
// state, the reports then show that state as a report of that age would.
func CacheCredentialReports(ctx context.Context, url string, hoursAgo int) error {
	if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/credential-reports", map[string]int{"hoursAgo": hoursAgo}, nil); err != nil {
		return fmt.Errorf("cache the credential reports: %w", err)
	}
	return nil
}

// Backdate sets the CreateDate and LastUsedDate (nil: never used) of an access key in
// the stand-in at url, through its /keyrotator/backdate endpoint.
func Backdate(ctx context.Context, url, accountID, user, accessKeyID string, created time.Time, lastUsed *time.Time) error {
	body := map[string]any{
		"accountId": accountID, "userName": user, "accessKeyId": accessKeyID,
		"createDate": created.UTC().Format(time.RFC3339), "lastUsedDate": nil,
	}
	if lastUsed != nil {
		if lastUsed.Before(created) {
			return errors.New("last used before created")
		}
		body["lastUsedDate"] = lastUsed.UTC().Format(time.RFC3339)
	}
	return callJSON(ctx, http.MethodPost, url+"/keyrotator/backdate", body, nil)
}
