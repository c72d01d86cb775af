package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/preflight"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
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
	// GitHub is the local GitHub beside the stand-in, at GitHubURL, where a scenario's
	// github section is seeded (Server.GitHub).
	GitHub    *ghlocal.Server
	GitHubURL string
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
// organization, one member account per scenario account, the member role in every account
// and the management role, as synthesized (package permissions), the users with their tags
// and keys back-dated relative to opts.Now, and the verified SES sender; finally it stores
// the settings (GET /keyrotator/settings) and, with sc.EnforceIAM, switches IAM
// authorization on. An invalid scenario creates nothing.
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

	featureSet := orgtypes.OrganizationFeatureSetAll
	if sc.ConsolidatedBilling {
		featureSet = orgtypes.OrganizationFeatureSetConsolidatedBilling
	}
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: featureSet}); err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	desc, err := org.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("describe organization: %w", err)
	}
	mgmtID := aws.ToString(desc.Organization.MasterAccountId)
	// The member role's StackSet is service-managed: an organization that deployed it gave
	// StackSets trusted access (keyrotator preflight checks it), which needs all features.
	if !sc.ConsolidatedBilling {
		if _, err := org.EnableAWSServiceAccess(ctx, &organizations.EnableAWSServiceAccessInput{
			ServicePrincipal: aws.String(preflight.StackSetsPrincipal),
		}); err != nil {
			return nil, fmt.Errorf("give StackSets trusted access: %w", err)
		}
	}
	// moto calls the management account "master"; make ListAccounts say the scenario's name.
	if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/account-name",
		map[string]string{"accountId": mgmtID, "name": sc.ManagementAccount.Name}, nil); err != nil {
		return nil, fmt.Errorf("name management account %s %s: %w", mgmtID, sc.ManagementAccount.Name, err)
	}
	fmt.Fprintf(progress, "organization %s, management account %s = %s\n",
		aws.ToString(desc.Organization.Id), sc.ManagementAccount.Name, mgmtID)

	out := &Seeded{Settings: Settings{
		Region:              Region,
		OrganizationID:      aws.ToString(desc.Organization.Id),
		ManagementAccountID: mgmtID,
		Rotator: config.Settings{
			MemberRoleName:    sc.MemberRole,
			SenderEmail:       sc.SenderEmail,
			SupportEmail:      sc.SupportEmail,
			Policy:            policy.Config{AllowedEmailDomains: slices.Clone(sc.AllowedEmailDomains)},
			ExcludeAccountTag: sc.ExcludeAccountTag,
		},
		Accounts: []AccountSettings{{Name: sc.ManagementAccount.Name, ID: mgmtID, Management: true}},
		SeededAt: now,
	}}
	s := seeder{url: url, now: now, role: sc.MemberRole, mgmtID: mgmtID, progress: progress, out: out}

	if err := s.account(ctx, base, sc.ManagementAccount, mgmtID); err != nil {
		return nil, err
	}
	ous, err := createOUs(ctx, org, sc.OUPaths())
	if err != nil {
		return nil, err
	}
	for _, path := range sc.ExcludeOUs {
		out.Settings.Rotator.ExcludeOUs = append(out.Settings.Rotator.ExcludeOUs, ous[path])
	}
	// The management stack's roles, which ListAccounts and ScanAndRotate (for each
	// account's exclusion tag) assume (the local rotator runs in the management account).
	for _, role := range []string{permissions.ManagementRole, permissions.TagReaderRole} {
		if err := PutRole(ctx, iam.NewFromConfig(base), role, out.Settings.Bindings()); err != nil {
			return nil, err
		}
	}
	for _, a := range sc.Accounts {
		id, err := createAccount(ctx, org, a)
		if err != nil {
			return nil, err
		}
		if err := placeAccount(ctx, org, a, id, ous); err != nil {
			return nil, err
		}
		if a.State != "" && a.State != "ACTIVE" {
			if err := callJSON(ctx, http.MethodPost, url+"/keyrotator/account-state",
				map[string]string{"accountId": id, "state": a.State}, nil); err != nil {
				return nil, fmt.Errorf("set state of account %s %s to %s: %w", a.Name, id, a.State, err)
			}
			fmt.Fprintf(progress, "account %s = %s is %s\n", a.Name, id, a.State)
		}
		out.Settings.Accounts = append(out.Settings.Accounts, AccountSettings{Name: a.Name, ID: id, Excluded: sc.Excluded(a), OU: a.OU})
		if slices.Contains(sc.ExcludeAccounts, a.Name) {
			out.Settings.Rotator.ExcludeAccounts = append(out.Settings.Rotator.ExcludeAccounts, id)
		}
		admin := AccountConfig(base, id, OrganizationAccessRole)
		if _, err := iam.NewFromConfig(admin).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName: aws.String(OrganizationAccessRole), PolicyName: aws.String("AdministratorAccess"),
			PolicyDocument: aws.String(administratorPolicy),
		}); err != nil {
			return nil, fmt.Errorf("give %s in %s %s its administrator policy: %w", OrganizationAccessRole, a.Name, id, err)
		}
		if err := s.account(ctx, admin, a, id); err != nil {
			return nil, err
		}
	}

	if !sc.ConsolidatedBilling {
		if err := s.stackSet(ctx, base, sc, ous[""]); err != nil {
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

	if sc.GitHub != nil {
		arn, err := s.seedGitHub(ctx, base, sc.GitHub, opts.GitHub, opts.GitHubURL)
		if err != nil {
			return nil, err
		}
		out.Settings.Rotator.GitHubAppSecretARN, out.Settings.Rotator.AllowedGitHubOwners = arn, slices.Clone(sc.GitHub.AllowedOwners)
	}
	if err := putSettings(ctx, url, &out.Settings); err != nil {
		return nil, fmt.Errorf("store settings: %w", err)
	}
	if sc.EnforceIAM {
		if err := EnforceIAM(ctx, url); err != nil {
			return nil, err
		}
		fmt.Fprintln(progress, "IAM authorization enforced")
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

// createOUs creates the OUs of these paths, each after its parent, below the root, and
// returns their IDs by path.
func createOUs(ctx context.Context, org *organizations.Client, paths []string) (map[string]string, error) {
	ids := map[string]string{}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil || len(roots.Roots) != 1 {
		return nil, fmt.Errorf("list the organization's root: %d roots, %w", len(roots.Roots), err)
	}
	ids[""] = aws.ToString(roots.Roots[0].Id)
	for _, path := range paths {
		parent, name := "", path
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent, name = path[:i], path[i+1:]
		}
		ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(ids[parent]), Name: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("create OU %s: %w", path, err)
		}
		ids[path] = aws.ToString(ou.OrganizationalUnit.Id)
	}
	return ids, nil
}

// placeAccount moves a member account into its OU and tags it, as the scenario says.
func placeAccount(ctx context.Context, org *organizations.Client, a Account, id string, ous map[string]string) error {
	if a.OU != "" {
		if _, err := org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: &id,
			SourceParentId: aws.String(ous[""]), DestinationParentId: aws.String(ous[a.OU])}); err != nil {
			return fmt.Errorf("move account %s %s into OU %s: %w", a.Name, id, a.OU, err)
		}
	}
	if len(a.Tags) > 0 {
		var tags []orgtypes.Tag
		for _, k := range slices.Sorted(maps.Keys(a.Tags)) {
			tags = append(tags, orgtypes.Tag{Key: aws.String(k), Value: aws.String(a.Tags[k])})
		}
		if _, err := org.TagResource(ctx, &organizations.TagResourceInput{ResourceId: &id, Tags: tags}); err != nil {
			return fmt.Errorf("tag account %s %s: %w", a.Name, id, err)
		}
	}
	return nil
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
		fmt.Fprintf(s.progress, "  no %s roles in %s (noMemberRole)\n", s.role, a.Name)
	} else if err := s.memberRole(ctx, client, id); err != nil {
		return err
	}
	for chunk := range slices.Chunk(a.Users, usersPerRequest) {
		if err := s.users(ctx, a.Name, id, chunk); err != nil {
			return err
		}
	}
	for _, sec := range a.Secrets {
		if err := s.secret(ctx, cfg, a.Name, id, sec); err != nil {
			return err
		}
	}
	for _, p := range a.Parameters {
		if err := s.parameter(ctx, cfg, a.Name, id, p); err != nil {
			return err
		}
	}
	return nil
}

// heldKey is the first Active key seeded for user in the account id, as an application
// reads it ({} when none).
func (s *seeder) heldKey(id, user string) (string, error) {
	i := slices.IndexFunc(s.out.Keys, func(k SeededKey) bool { return k.AccountID == id && k.User == user && k.Status == StatusActive })
	if i < 0 {
		return "{}", nil
	}
	k := s.out.Keys[i]
	body, err := json.Marshal(map[string]string{"AccessKeyId": k.AccessKeyID, "SecretAccessKey": k.Secret.Reveal()})
	return string(body), err
}

// parameter creates an application's SSM parameter, holding the first Active key seeded for
// the user it names, under a KMS key of its own if it asks for one.
func (s *seeder) parameter(ctx context.Context, cfg aws.Config, account, id string, p Parameter) error {
	value, err := s.heldKey(id, p.HoldsKeyOf)
	if err != nil {
		return fmt.Errorf("encode parameter %s in %s: %w", p.Name, account, err)
	}
	in := &ssm.PutParameterInput{Name: aws.String(p.Name), Value: aws.String(value), Type: ssmtypes.ParameterType(cmp.Or(p.Type, "SecureString"))}
	for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
		in.Tags = append(in.Tags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(p.Tags[k])})
	}
	if p.CustomerManagedKey {
		key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("application parameter " + p.Name)})
		if err != nil {
			return fmt.Errorf("create the KMS key of parameter %s in %s (%s): %w", p.Name, account, id, err)
		}
		in.KeyId = key.KeyMetadata.Arn
	}
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, in); err != nil {
		return fmt.Errorf("create parameter %s in %s (%s): %w", p.Name, account, id, err)
	}
	return nil
}

// secret creates an application's secret, holding the first Active key seeded for the user
// it names, under a KMS key of its own if it asks for one.
func (s *seeder) secret(ctx context.Context, cfg aws.Config, account, id string, sec Secret) error {
	value, err := s.heldKey(id, sec.HoldsKeyOf)
	if err != nil {
		return fmt.Errorf("encode secret %s in %s: %w", sec.Name, account, err)
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(sec.Name), SecretString: aws.String(value)}
	for _, k := range slices.Sorted(maps.Keys(sec.Tags)) {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(sec.Tags[k])})
	}
	if sec.CustomerManagedKey {
		key, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("application secret " + sec.Name)})
		if err != nil {
			return fmt.Errorf("create the KMS key of secret %s in %s (%s): %w", sec.Name, account, id, err)
		}
		in.KmsKeyId = key.KeyMetadata.Arn
	}
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, in); err != nil {
		return fmt.Errorf("create secret %s in %s (%s): %w", sec.Name, account, id, err)
	}
	return nil
}

// usersPerRequest keeps a request to /keyrotator/users well under its 1 MiB body limit.
const usersPerRequest = 500

// users creates users with their tags and back-dated keys in the account id, in one request
// to the stand-in (POST /keyrotator/users: moto's IAM backend directly; through IAM's API,
// three calls a key, 1,000 accounts of 5 users took 3 minutes to seed).
func (s *seeder) users(ctx context.Context, account, id string, users []User) error {
	type key struct {
		Status          string     `json:"status"`
		CreateDate      time.Time  `json:"createDate"`
		LastUsedDate    *time.Time `json:"lastUsedDate"`
		LastUsedService string     `json:"lastUsedService,omitempty"`
		LastUsedRegion  string     `json:"lastUsedRegion,omitempty"`
	}
	type user struct {
		Name string            `json:"name"`
		Tags map[string]string `json:"tags"`
		Keys []key             `json:"keys"`
	}
	body := struct {
		AccountID string `json:"accountId"`
		Users     []user `json:"users"`
	}{AccountID: id}
	var dates []key // in the order the stand-in answers
	for _, u := range users {
		req := user{Name: u.Name, Tags: u.Tags, Keys: []key{}}
		for _, k := range u.Keys {
			d := key{Status: k.Status, CreateDate: s.now.Add(-time.Duration(k.AgeDays) * day)}
			if used := k.lastUse(s.now); used != nil {
				d.LastUsedDate, d.LastUsedService, d.LastUsedRegion = &used.Date, used.Service, used.Region
			}
			req.Keys = append(req.Keys, d)
			dates = append(dates, d)
		}
		body.Users = append(body.Users, req)
	}
	var answer struct {
		Keys []struct {
			UserName        string `json:"userName"`
			AccessKeyID     string `json:"accessKeyId"`
			SecretAccessKey string `json:"secretAccessKey"`
		} `json:"keys"`
	}
	if err := callJSON(ctx, http.MethodPost, s.url+"/keyrotator/users", body, &answer); err != nil {
		return fmt.Errorf("create %d users in %s (%s): %w", len(users), account, id, err)
	}
	if len(answer.Keys) != len(dates) {
		return fmt.Errorf("create %d users in %s (%s): %d keys created, want %d", len(users), account, id, len(answer.Keys), len(dates))
	}
	for i, k := range answer.Keys {
		s.out.Keys = append(s.out.Keys, SeededKey{
			Account: account, AccountID: id, User: k.UserName, AccessKeyID: k.AccessKeyID, Status: dates[i].Status,
			CreateDate: dates[i].CreateDate, LastUsedDate: dates[i].LastUsedDate, Secret: secret.New(k.SecretAccessKey),
		})
	}
	return nil
}

// memberRolesTemplate is the template of the stand-in's member-role StackSet: the member
// roles' names and trust as synthesized (policies.json), which keyrotator preflight reads.
// The seeder creates the roles themselves, with their permissions (memberRole), and only
// where the scenario has them: moto would deploy the template's roles in every account, so
// they stand under a condition that never holds, and the instances only say where the
// StackSet deployed.
func (s *seeder) memberRolesTemplate() (string, error) {
	file, err := permissions.Load()
	if err != nil {
		return "", err
	}
	resources := map[string]any{}
	for logicalID, name := range map[string]string{"MemberRole": permissions.MemberRole, "NotifyMemberRole": permissions.NotifyMemberRole} {
		synthesized, err := file.Role(name)
		if err != nil {
			return "", err
		}
		role, err := synthesized.Resolve(s.out.Settings.Bindings().With(permissions.AccountID, s.mgmtID))
		if err != nil {
			return "", err
		}
		resources[logicalID] = map[string]any{"Type": "AWS::IAM::Role", "Condition": "DeployedByTheSeeder",
			"Properties": map[string]any{"RoleName": role.RoleName, "AssumeRolePolicyDocument": role.Trust}}
	}
	template, err := json.Marshal(map[string]any{"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources,
		"Conditions": map[string]any{"DeployedByTheSeeder": map[string]any{"Fn::Equals": []string{"stand-in", "AWS"}}}})
	return string(template), err
}

// RoleTakenReason is how a StackSet instance's StatusReason reads when the member role's name
// was taken in the account before the StackSet came.
func RoleTakenReason(role string) string {
	return fmt.Sprintf("ResourceLogicalId:MemberRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:%s already exists.", role)
}

// stackSet creates the member role's service-managed StackSet with an instance in every
// member account below root, as the management stack's deployment leaves it; in an account
// without the member role (noMemberRole) the instance failed: the role's name was taken.
func (s *seeder) stackSet(ctx context.Context, base aws.Config, sc *Scenario, root string) error {
	template, err := s.memberRolesTemplate()
	if err != nil {
		return err
	}
	cfn := cloudformation.NewFromConfig(base)
	if _, err := cfn.CreateStackSet(ctx, &cloudformation.CreateStackSetInput{
		StackSetName: aws.String(statemachine.MemberStackSetName), TemplateBody: aws.String(template),
		PermissionModel: cfntypes.PermissionModelsServiceManaged,
		AutoDeployment:  &cfntypes.AutoDeployment{Enabled: aws.Bool(true), RetainStacksOnAccountRemoval: aws.Bool(false)},
	}); err != nil {
		return fmt.Errorf("create StackSet %s: %w", statemachine.MemberStackSetName, err)
	}
	if _, err := cfn.CreateStackInstances(ctx, &cloudformation.CreateStackInstancesInput{
		StackSetName: aws.String(statemachine.MemberStackSetName), Regions: []string{Region},
		DeploymentTargets: &cfntypes.DeploymentTargets{OrganizationalUnitIds: []string{root}},
	}); err != nil {
		return fmt.Errorf("create the instances of StackSet %s: %w", statemachine.MemberStackSetName, err)
	}
	for i, a := range sc.Accounts {
		if !a.NoMemberRole {
			continue
		}
		id := s.out.Settings.Accounts[i+1].ID // after the management account, in scenario order
		if err := callJSON(ctx, http.MethodPost, s.url+"/keyrotator/stack-instance-failed",
			map[string]string{"accountId": id, "statusReason": RoleTakenReason(sc.MemberRole)}, nil); err != nil {
			return fmt.Errorf("fail the StackSet instance of %s %s: %w", a.Name, id, err)
		}
	}
	return nil
}

// administratorPolicy is the AdministratorAccess that Organizations gives the
// OrganizationAccountAccessRole of an account it creates (moto gives it none): the
// seeder's and the tests' own way into member accounts, never the rotator's.
const administratorPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// memberRole creates the rotator's member roles in account id as the StackSet deploys them:
// ScanAndRotate's and NotifyUser's.
func (s *seeder) memberRole(ctx context.Context, client *iam.Client, id string) error {
	for _, name := range []string{permissions.MemberRole, permissions.NotifyMemberRole} {
		if err := PutRole(ctx, client, name, s.out.Settings.Bindings().With(permissions.AccountID, id)); err != nil {
			return err
		}
	}
	return nil
}

// PutRole creates the role of policies.json named name (or, when it exists, sets its trust)
// with its synthesized policy as its one inline policy, the placeholders filled from b.
func PutRole(ctx context.Context, client *iam.Client, name string, b permissions.Bindings) error {
	file, err := permissions.Load()
	if err != nil {
		return err
	}
	synthesized, err := file.Role(name)
	if err != nil {
		return err
	}
	role, err := synthesized.Resolve(b)
	if err != nil {
		return err
	}
	var exists *iamtypes.EntityAlreadyExistsException
	_, err = client.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(role.RoleName),
		AssumeRolePolicyDocument: aws.String(role.Trust.JSON()),
		Description:              aws.String("the " + name + " role of the IAM access key rotator, as synthesized"),
	})
	switch {
	case errors.As(err, &exists):
		if _, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
			RoleName: aws.String(role.RoleName), PolicyDocument: aws.String(role.Trust.JSON()),
		}); err != nil {
			return fmt.Errorf("set the trust of role %s in %s: %w", role.RoleName, role.Account, err)
		}
	case err != nil:
		return fmt.Errorf("create role %s in %s: %w", role.RoleName, role.Account, err)
	}
	if _, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName:       aws.String(role.RoleName),
		PolicyName:     aws.String("synthesized"),
		PolicyDocument: aws.String(role.Policy.JSON()),
	}); err != nil {
		return fmt.Errorf("put the policy of role %s in %s: %w", role.RoleName, role.Account, err)
	}
	return nil
}

// EnforceIAM switches moto's IAM authorization on in the stand-in at url (moto's
// POST /moto-api/reset-auth with an initial count of 0): from then on a call is allowed
// only by its caller's policies, except the stand-in operator's (sandbox.Config).
func EnforceIAM(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/moto-api/reset-auth", strings.NewReader("0"))
	if err != nil {
		return fmt.Errorf("enforce IAM: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("enforce IAM: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("enforce IAM: POST /moto-api/reset-auth: %s", resp.Status)
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

// LastUse is when, with which service and in which region a key was last used, as
// GetAccessKeyLastUsed reports it.
type LastUse struct {
	Date            time.Time
	Service, Region string
}

// Backdate sets the CreateDate and last use (nil: never used) of an access key in the
// stand-in at url, through its /keyrotator/backdate endpoint.
func Backdate(ctx context.Context, url, accountID, user, accessKeyID string, created time.Time, used *LastUse) error {
	body := map[string]any{
		"accountId": accountID, "userName": user, "accessKeyId": accessKeyID,
		"createDate": created.UTC().Format(time.RFC3339), "lastUsedDate": nil,
	}
	if used != nil {
		if used.Date.Before(created) {
			return errors.New("last used before created")
		}
		body["lastUsedDate"] = used.Date.UTC().Format(time.RFC3339)
		body["lastUsedService"], body["lastUsedRegion"] = used.Service, used.Region
	}
	return callJSON(ctx, http.MethodPost, url+"/keyrotator/backdate", body, nil)
}
