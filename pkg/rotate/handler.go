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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
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
	S3       S3API
	Secrets  handoff.SecretsAPI
	// Bounces tells which owner addresses bounced (SES's suppression list).
	Bounces Bounces
	// Leases are the accounts' leases (in the report bucket).
	Leases *lease.Leases
	// Seal signs and verifies the rotator's tags on IAM users (history.LoadSeal).
	Seal *history.Seal
	Log  *slog.Logger
	// NewIAM builds the member account's IAM client (iam.NewFromConfig unless a test wraps it).
	NewIAM func(aws.Config) IAMAPI
	// MaxNotifications and Settle are Rotator's (0: the defaults).
	MaxNotifications int
	Settle           time.Duration
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
	// Every IAM and STS call made in the account, the AssumeRole included, is counted.
	calls := &awsclient.Calls{}
	member := awsclient.AssumeRole(calls.Counted(h.Base), awsclient.RoleARN(h.Settings.Partition, req.Account.AccountID, h.Settings.MemberRoleName),
		awsclient.SessionName("scan", req.Run.RunID))
	iamClient := h.NewIAM(member)
	r := &Rotator{IAM: iamClient, Secrets: h.Secrets, AppSecrets: secretsmanager.NewFromConfig(member), Scanner: &scan.Scanner{IAM: iamClient, Reserve: TimeReserve}, Bounces: h.Bounces, Leases: h.Leases, Seal: h.Seal, Policy: h.Settings.Policy,
		HandoffPrefix: h.Settings.HandoffSecretPrefix, HandoffKMSKeyID: h.Settings.HandoffKMSKeyID,
		MaxNotifications: h.MaxNotifications, Settle: h.Settle, Log: h.Log}
	res, notifications, err := r.Process(ctx, req.Run, req.Account)
	res.Counts.IAMCalls = calls.Total()
	if err != nil {
		if workflow.IsRetryable(err) {
			return workflow.AccountOutcome{}, err
		}
		res.Status, res.Error = workflow.AccountFailed, err.Error()
		h.Log.ErrorContext(ctx, "account failed", "account", req.Account.AccountID, "error", err.Error())
	}
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
	h.Log.InfoContext(ctx, "account done", "account", req.Account.AccountID, "status", res.Status, "counts", res.Counts,
		"notifications", len(notifications), "iamCallsByOperation", calls.ByOperation())
	return out, nil
}
