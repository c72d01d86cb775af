package notify

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/sendrate"
)

// Clients are the AWS APIs NotifyUser calls: in the rotator account, Secrets Manager (the
// hand-off secrets) and SES, its sends paced by Pacer (nil: unpaced); in each member
// account, IAM (History), Secrets Manager (AppSecrets) and SSM (AppParams) through NotifyUser's role there.
type Clients struct {
	Secrets    handoff.Reader
	SES        SESAPI
	Pacer      Pacer
	History    func(accountID string) history.TagAPI
	AppSecrets func(accountID string) appsecret.API
	AppParams  func(accountID string) appsecret.ParamAPI
	GitHub     *appsecret.GitHub
}

// New is the NotifyUser step on the given clients, configured by s, signing its records with
// seal. Every caller builds the step here (NewHandler for the Lambda and its test rig, the
// simulation on its model of AWS), so a field of Handler is wired once.
func New(s config.Settings, c Clients, seal *history.Seal, log *slog.Logger) *Handler {
	return &Handler{Secrets: c.Secrets, Sender: NewSender(c.SES, s.SESConfigurationSet, c.Pacer), From: s.SenderEmail,
		History: c.History, AppSecrets: c.AppSecrets, AppParams: c.AppParams, GitHub: c.GitHub, Policy: s.Policy, Seal: seal, Log: log}
}

// NewHandler is the NotifyUser step as its Lambda runs it, from the function's AWS
// configuration and settings: it reads the rotator's tag key (TagKeySecretARN) once.
func NewHandler(ctx context.Context, cfg aws.Config, s config.Settings, log *slog.Logger) (*Handler, error) {
	secrets := secretsmanager.NewFromConfig(cfg)
	seal, err := history.LoadSeal(ctx, secrets, s.TagKeySecretARN)
	if err != nil {
		return nil, err
	}
	return New(s, Clients{Secrets: secrets, SES: sesv2.NewFromConfig(cfg),
		Pacer:      &sendrate.Slots{S3: s3.NewFromConfig(cfg, awsclient.PathStyle), Bucket: s.ReportBucket},
		History:    MemberHistory(cfg, s.Partition, s.MemberRoleName),
		AppSecrets: MemberSecrets(cfg, s.Partition, s.MemberRoleName),
		AppParams:  MemberParams(cfg, s.Partition, s.MemberRoleName),
		GitHub:     &appsecret.GitHub{SecretARN: s.GitHubAppSecretARN, Secrets: secrets, Allowed: s.AllowedGitHubOwners}}, seal, log), nil
}
