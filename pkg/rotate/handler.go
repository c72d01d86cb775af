package rotate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is the one S3 call ScanAndRotate makes: writing the account's full result and its
// notifications.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Handler is the ScanAndRotate step: one account per invocation.
type Handler struct {
	// Base is the rotator account's configuration; member accounts are reached by assuming
	// Settings.MemberRoleName from it.
	Base     aws.Config
	Settings config.Settings
	// S3 receives the account's result and notifications.
	S3 S3API
	// Clients are the rotator account's (IAM and AppSecrets empty): Handle adds each member
	// account's and builds its Rotator with New.
	Clients Clients
	// Seal signs and verifies the rotator's tags on IAM users (history.LoadSeal).
	Seal *history.Seal
	Log  *slog.Logger
	// NewIAM builds the member account's IAM client (iam.NewFromConfig unless a test wraps it).
	NewIAM func(aws.Config) IAMAPI
	// MaxNotifications and Settle are Rotator's (0: the defaults).
	MaxNotifications int
	Settle           time.Duration
	// ExcludedByTag says why the account is excluded by its Organizations tag
	// (EXCLUDE_ACCOUNT_TAG), "" when it is not: org.TagReader through the management
	// account's tag-reader role. nil: no tag exclusion.
	ExcludedByTag func(ctx context.Context, accountID string) (string, error)
}

// Clients are the AWS APIs one account's run calls: the member account's IAM and Secrets
// Manager (AppSecrets: the secrets machine users' keys go to), and the rotator account's
// Secrets Manager (the hand-off secrets), SES (its suppression list: Bounces) and S3 (the
// account's lease, in ReportBucket).
type Clients struct {
	IAM        IAMAPI
	AppSecrets appsecret.API
	AppParams  appsecret.ParamAPI
	// GitHub is the rotator's GitHub App (nil: no GitHub delivery), built once per process:
	// it keeps the App's secret and its installations' tokens.
	GitHub  *appsecret.GitHub
	Secrets handoff.SecretsAPI
	SES     SuppressionAPI
	S3      lease.S3API
}

// New is one account's run on the given clients, configured by s, with seal as the
// rotator's tag key. Every caller builds the Rotator here (Handler for the Lambda and its
// test rig, the simulation on its model of AWS), so a field of Rotator is wired once.
func New(s config.Settings, c Clients, seal *history.Seal, log *slog.Logger) *Rotator {
	var holds *hold.Store
	if c.S3 != nil {
		holds = &hold.Store{S3: c.S3, Bucket: s.ReportBucket}
	}
	return &Rotator{Holds: holds, IAM: c.IAM, Secrets: c.Secrets, AppSecrets: c.AppSecrets, AppParams: c.AppParams, GitHub: c.GitHub,
		Scanner: &scan.Scanner{IAM: c.IAM, Reserve: TimeReserve}, Bounces: SESBounces{SES: c.SES},
		Leases: &lease.Leases{S3: c.S3, Bucket: s.ReportBucket}, Policy: s.Policy, Seal: seal,
		HandoffPrefix: s.HandoffSecretPrefix, HandoffKMSKeyID: s.HandoffKMSKeyID, Log: log}
}

// NewHandler is the ScanAndRotate step as its Lambda runs it, from the function's AWS
// configuration and settings: it reads the rotator's tag key (TagKeySecretARN) once, and
// reads each account's exclusion tag through the tag-reader role (TagReaderRoleARN).
// lambdas/scan-and-rotate and the Lambda test rig both build it here.
func NewHandler(ctx context.Context, cfg aws.Config, s config.Settings, log *slog.Logger) (*Handler, error) {
	secrets := secretsmanager.NewFromConfig(cfg)
	seal, err := history.LoadSeal(ctx, secrets, s.TagKeySecretARN)
	if err != nil {
		return nil, err
	}
	store := s3.NewFromConfig(cfg, awsclient.PathStyle)
	h := &Handler{Base: cfg, Settings: s, S3: store, Seal: seal, Log: log, NewIAM: NewIAMClient,
		Clients: Clients{Secrets: secrets, SES: sesv2.NewFromConfig(cfg), S3: store,
			GitHub: &appsecret.GitHub{SecretARN: s.GitHubAppSecretARN, Secrets: secrets, Allowed: s.AllowedGitHubOwners}}}
	if key, value := s.ExcludeTag(); key != "" {
		orgCfg := cfg
		if s.TagReaderRoleARN != "" {
			orgCfg = awsclient.AssumeRole(cfg, s.TagReaderRoleARN, awsclient.SessionName("tag-reader"))
		}
		h.ExcludedByTag = org.TagReader{Org: organizations.NewFromConfig(orgCfg), Key: key, Value: value}.Excluded
	}
	return h, nil
}

// NewIAMClient is the production NewIAM.
func NewIAMClient(cfg aws.Config) IAMAPI { return iam.NewFromConfig(cfg) }

// Handle processes one account and writes its result to S3. A failure to reach or scan the
// account is that account's failed result, not an error, so the Map goes on with the others;
// only retryable failures (throttling, 5xx) are returned, for the ASL to retry.
func (h *Handler) Handle(ctx context.Context, req workflow.AccountRequest) (workflow.AccountOutcome, error) {
	if !workflow.ValidAccountID(req.Account.AccountID) || req.Run.RunID == "" {
		return workflow.AccountOutcome{}, &workflow.InvalidInput{Field: "account.accountId", Problem: fmt.Sprintf(
			"%q with run %q: need a 12-digit account ID and a run ID", req.Account.AccountID, req.Run.RunID)}
	}
	if res, err := h.leftAlone(ctx, req); err != nil || res != nil {
		if err != nil {
			return workflow.AccountOutcome{}, err
		}
		return h.write(ctx, req, *res, nil, nil)
	}
	// Every IAM and STS call made in the account, the AssumeRole included, is counted.
	calls := &awsclient.Calls{}
	member := awsclient.AssumeRole(calls.Counted(h.Base), awsclient.RoleARN(h.Settings.Partition, req.Account.AccountID, h.Settings.MemberRoleName),
		awsclient.SessionName("scan", req.Run.RunID))
	c := h.Clients
	c.IAM, c.AppSecrets, c.AppParams = h.NewIAM(member), secretsmanager.NewFromConfig(member), ssm.NewFromConfig(member)
	r := New(h.Settings, c, h.Seal, h.Log)
	r.MaxNotifications, r.Settle = h.MaxNotifications, h.Settle
	res, notifications, err := r.Process(ctx, req.Run, req.Account)
	res.Counts.IAMCalls = calls.Total()
	if err != nil {
		if workflow.IsRetryable(err) {
			return workflow.AccountOutcome{}, err
		}
		res.Status, res.Error = workflow.AccountFailed, err.Error()
		h.Log.ErrorContext(ctx, "account failed", "account", req.Account.AccountID, "error", err.Error())
	}
	return h.write(ctx, req, res, notifications, calls)
}

// leftAlone reads the account's exclusion tag before anything is assumed in it: the result
// of an account that is excluded (AccountExcluded), or whose tag cannot be read
// (AccountFailed: an account that might be excluded gets no write); nil to process it. A
// retryable read error (throttling) is returned, for the state machine to retry; past its
// retries the account fails, untouched, all the same.
func (h *Handler) leftAlone(ctx context.Context, req workflow.AccountRequest) (*workflow.AccountResult, error) {
	if h.ExcludedByTag == nil {
		return nil, nil
	}
	why, err := h.ExcludedByTag(ctx, req.Account.AccountID)
	res := workflow.AccountResult{Run: req.Run, Account: req.Account, Users: []workflow.UserResult{}}
	switch {
	case err != nil && workflow.IsRetryable(err):
		return nil, err
	case err != nil:
		res.Status, res.Error = workflow.AccountFailed, "left alone: its exclusion tag could not be read: "+err.Error()
		h.Log.ErrorContext(ctx, "account failed", "account", req.Account.AccountID, "error", res.Error)
	case why != "":
		res.Status, res.Reason = workflow.AccountExcluded, why+" (EXCLUDE_ACCOUNT_TAG)"
		h.Log.InfoContext(ctx, "account excluded", "account", req.Account.AccountID, "reason", res.Reason)
	default:
		return nil, nil
	}
	return &res, nil
}

// write stores the account's result and notifications in the report bucket and returns
// the outcome the state machine carries on (calls: nil when nothing was called in the account).
func (h *Handler) write(ctx context.Context, req workflow.AccountRequest, res workflow.AccountResult, notifications []workflow.Notification,
	calls *awsclient.Calls) (workflow.AccountOutcome, error) {
	key := workflow.ResultKey(req.Run.RunID, req.Account.AccountID)
	body, err := json.Marshal(res)
	if err != nil {
		return workflow.AccountOutcome{}, fmt.Errorf("encode result of %s: %w", req.Account.AccountID, err)
	}
	if _, err := h.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &h.Settings.ReportBucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: aws.String("application/json")}); err != nil {
		return workflow.AccountOutcome{}, fmt.Errorf("write result of %s to s3://%s/%s: %w", req.Account.AccountID, h.Settings.ReportBucket, key, err)
	}
	out := workflow.AccountOutcome{Account: req.Account, Status: res.Status, Counts: res.Counts, ResultKey: key,
		NotificationsKey: workflow.NotificationsKey(req.Run.RunID, req.Account.AccountID), NotificationCount: len(notifications)}
	if len(notifications) > 0 {
		// The notifications travel through S3, not the payload: the NotifyOwners Map reads
		// them with its ItemReader.
		body, err := json.Marshal(notifications)
		if err != nil {
			return workflow.AccountOutcome{}, fmt.Errorf("encode notifications of %s: %w", req.Account.AccountID, err)
		}
		if _, err := h.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &h.Settings.ReportBucket, Key: &out.NotificationsKey,
			Body: bytes.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
			return workflow.AccountOutcome{}, fmt.Errorf("write notifications of %s to s3://%s/%s: %w", req.Account.AccountID,
				h.Settings.ReportBucket, out.NotificationsKey, err)
		}
	}
	if calls != nil {
		h.Log.InfoContext(ctx, "account done", "account", req.Account.AccountID, "status", res.Status, "counts", res.Counts,
			"notifications", len(notifications), "iamCallsByOperation", calls.ByOperation())
	}
	return out, nil
}
