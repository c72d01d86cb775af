package stacks

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// grantFunctions gives each function exactly the permissions it uses.
func (s *RotatorStack) grantFunctions(cfg Config, configSet awsses.ConfigurationSet) {
	stack := s.Stack
	runs := s.ReportBucket.ArnForObjects(jsii.String(RunsPrefix + "*"))
	// Every email waits for a send slot (pkg/sendrate): a conditional put under send-slots/.
	sendSlots := allow([]string{"s3:PutObject"}, s.ReportBucket.ArnForObjects(jsii.String(workflow.SendSlotsPrefix+"*")))
	sendSlotsSuppression := suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "Every email first reserves a send slot, one empty object per slot under send-slots/, named by the UTC second and the slot's number",
		appliesTo: []string{sendSlotsObjects},
	}
	reports := s.ReportBucket.ArnForObjects(jsii.String(ReportsPrefix + "*"))
	// The operators' holds (pkg/hold), one object: ListAccounts writes what an execution's
	// input places or releases (a conditional put), ScanAndRotate and CleanupReport read it.
	// A reader lists the key too, so that S3 answers NoSuchKey, not AccessDenied, before any
	// hold was placed.
	holds := s.ReportBucket.ArnForObjects(jsii.String(workflow.HoldsKey))
	listHolds := func() awsiam.PolicyStatement {
		return allowIf(map[string]any{"StringEquals": map[string]any{"s3:prefix": workflow.HoldsKey}}, []string{"s3:ListBucket"}, s.ReportBucket.BucketArn())
	}
	handoffSecrets := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
		ResourceName: jsii.String(contract.HandoffSecretNamePrefix + "*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	// Every use of the hand-off key is Secrets Manager's, on behalf of a role, for a hand-off
	// secret: Secrets Manager puts the secret's ARN in the encryption context.
	viaSecretsManager := func(more map[string]any) map[string]any {
		equals := map[string]any{"kms:ViaService": fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())}
		maps.Copy(equals, more)
		return map[string]any{
			"StringEquals": equals,
			"ArnLike":      map[string]any{"kms:EncryptionContext:SecretARN": handoffSecrets},
		}
	}
	// The tag key signs the rotator's tags on IAM users: read once per start by the two
	// functions that write them (secret ARNs end in a random "-" and 6 characters).
	readTagKey := allow([]string{"secretsmanager:GetSecretValue"}, stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("secretsmanager"), Resource: jsii.String("secret"),
		ResourceName: jsii.String(contract.TagKeySecretName + "-??????"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	}))
	sendEmail := allowIf(
		map[string]any{"StringEquals": map[string]any{"ses:FromAddress": cfg.SenderEmail}},
		[]string{"ses:SendEmail", "ses:SendRawEmail"},
		append(senderIdentityARNs(stack, cfg.SenderEmail), stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ses"), Resource: jsii.String("configuration-set"), ResourceName: configSet.ConfigurationSetName(),
		}))...,
	)

	list := s.Functions[contract.ListAccounts]
	list.Role.AddToPrincipalPolicy(allow([]string{"sts:AssumeRole"}, jsii.String(managementRoleARN(cfg))))
	list.Role.AddToPrincipalPolicy(allow([]string{"s3:PutObject"}, runs))
	list.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject"}, holds))
	// A cleanup run looks for the canary's record (pkg/org canaryPassed), by listing its key;
	// the holds are read with their key listable (listHolds).
	list.Role.AddToPrincipalPolicy(allowIf(map[string]any{"StringEquals": map[string]any{"s3:prefix": []string{workflow.CanaryKey, workflow.HoldsKey}}},
		[]string{"s3:ListBucket"}, s.ReportBucket.BucketArn()))
	suppressNag(list.Role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "ListAccounts writes one object per run under runs/; the keys are not known in advance",
		appliesTo: []string{runsObjects},
	})
	// Each run reads the SES account (its send quota, unless sesMaxSendRate is set, and its
	// suppression settings) and the configuration set's suppression options: a run relies on
	// the suppression list to confirm deliveries only if a bounce of its mail lands there.
	list.Role.AddToPrincipalPolicy(allow([]string{"ses:GetAccount"}, jsii.String("*")))
	list.Role.AddToPrincipalPolicy(allow([]string{"ses:GetConfigurationSet"}, stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ses"), Resource: jsii.String("configuration-set"), ResourceName: configSet.ConfigurationSetName(),
	})))
	suppressNag(list.Role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "ses:GetAccount supports no resource-level permissions: Resource must be *; it returns the account's SES quotas, status and suppression settings",
		appliesTo: []string{"Resource::*"},
	})

	// Each function that enters member accounts assumes its own role there (member.go): a
	// role in every account of the organization, by name.
	assumeInEveryAccount := func(roleName string) (awsiam.PolicyStatement, suppression) {
		return allowIf(
				map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": cfg.OrganizationID}},
				[]string{"sts:AssumeRole"},
				jsii.String(roleARN("*", roleName)),
			), suppression{
				rule:      "AwsSolutions-IAM5",
				reason:    "The role " + roleName + " exists in every member account (the account is the wildcard); aws:ResourceOrgID keeps it inside the organization",
				appliesTo: []string{fmt.Sprintf("Resource::arn:<AWS::Partition>:iam::*:role/%s", roleName)},
			}
	}

	scan := s.Functions[contract.ScanAndRotate]
	assumeMember, memberRoleSuppression := assumeInEveryAccount(cfg.MemberRoleName)
	scan.Role.AddToPrincipalPolicy(assumeMember)
	// Before anything else in an account, its exclusion tag, through the management
	// account's tag-reader role (management.go).
	if tagExclusion(cfg) {
		scan.Role.AddToPrincipalPolicy(allow([]string{"sts:AssumeRole"}, jsii.String(tagReaderRoleARN(cfg))))
	}
	// A new key's delivery is confirmed only once its owner's address is not on SES's
	// suppression list (acceptance is not delivery); the call has no resource-level permission.
	scan.Role.AddToPrincipalPolicy(allow([]string{"ses:GetSuppressedDestination"}, jsii.String("*")))
	scan.Role.AddToPrincipalPolicy(allowIf(
		map[string]any{"StringEquals": map[string]any{"secretsmanager:KmsKeyArn": s.HandoffKey.KeyArn()}},
		[]string{"secretsmanager:CreateSecret"}, handoffSecrets))
	// DeleteSecret deletes a delivered or orphaned secret for good; RestoreSecret cancels the
	// scheduled deletion of a sent secret whose delivery bounced, for the key to be sent again.
	scan.Role.AddToPrincipalPolicy(allow(
		[]string{"secretsmanager:TagResource", "secretsmanager:DeleteSecret", "secretsmanager:RestoreSecret"}, handoffSecrets))
	// Pending hand-offs (keys created but not yet delivered) are found by listing the prefix.
	scan.Role.AddToPrincipalPolicy(allow([]string{"secretsmanager:ListSecrets"}, jsii.String("*")))
	// CreateSecret with a customer managed key makes Secrets Manager call GenerateDataKey and,
	// to validate the caller's access to the key, Decrypt on the caller's behalf. Those
	// validation calls carry SecretVersionId=RequestToValidateKeyAccess in the encryption
	// context (Secrets Manager user guide, "Secrets Manager encryption context"); a real
	// version's context holds its version ID, so ScanAndRotate still cannot read a secret.
	grantKeyUse(s.HandoffKey, "EncryptHandoffByScanAndRotate", scan.Role, viaSecretsManager(nil), "kms:GenerateDataKey")
	grantKeyUse(s.HandoffKey, "ValidateHandoffKeyAccessByScanAndRotate", scan.Role,
		viaSecretsManager(map[string]any{"kms:EncryptionContext:SecretVersionId": config.SecretsKeyAccessCheck}), "kms:Decrypt")
	scan.Role.AddToPrincipalPolicy(readTagKey)
	scan.Role.AddToPrincipalPolicy(allow([]string{"s3:PutObject"}, runs))
	scan.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject"}, holds))
	scan.Role.AddToPrincipalPolicy(listHolds())
	// An account's lease (pkg/lease): a conditional put, read when taken, deleted on release.
	scan.Role.AddToPrincipalPolicy(allow([]string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
		s.ReportBucket.ArnForObjects(jsii.String(workflow.LeasesPrefix+"*"))))
	suppressNag(scan.Role,
		suppression{
			rule: "AwsSolutions-IAM5",
			reason: "secretsmanager:ListSecrets and ses:GetSuppressedDestination support no resource-level permissions: Resource must be *; " +
				"they return names, tags and an address's bounce status, never a secret value",
			appliesTo: []string{"Resource::*"},
		},
		memberRoleSuppression,
		handoffSecretsSuppression,
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "ScanAndRotate writes and reads per-account result objects under runs/, named per run",
			appliesTo: []string{runsObjects},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "ScanAndRotate holds one lease object per member account under leases/, named by account ID",
			appliesTo: []string{leasesObjects},
		},
	)

	notify := s.Functions[contract.NotifyUser]
	// NotifyUser reads a new key, marks its secret sent and schedules its deletion (a secret
	// scheduled for deletion is not billed; ScanAndRotate deletes it for good once the
	// delivery is confirmed), and records delivered notices on the owner's IAM user and
	// writes machine users' keys to their secrets through its own role in the member account
	// (never the member role, which can create and delete keys).
	notify.Role.AddToPrincipalPolicy(allow([]string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
		"secretsmanager:DeleteSecret"}, handoffSecrets))
	notify.Role.AddToPrincipalPolicy(allowIf(map[string]any{"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{config.HandoffSentTag}}},
		[]string{"secretsmanager:TagResource"}, handoffSecrets))
	grantKeyUse(s.HandoffKey, "DecryptHandoffByNotifyUser", notify.Role, viaSecretsManager(nil), "kms:Decrypt")
	notify.Role.AddToPrincipalPolicy(readTagKey)
	// The GitHub App that writes machine users' keys to GitHub Actions secrets (its ID and
	// private key, config githubAppSecretArn): read by ScanAndRotate, which checks a
	// repository's opt-in before making a key, and NotifyUser, which writes it; that secret
	// alone. The calls go to GitHub's API over the Lambdas' ordinary egress (no VPC).
	if cfg.GitHubAppSecretARN != "" {
		readApp := allow([]string{"secretsmanager:GetSecretValue"}, jsii.String(cfg.GitHubAppSecretARN))
		scan.Role.AddToPrincipalPolicy(readApp)
		notify.Role.AddToPrincipalPolicy(readApp)
	}
	notify.Role.AddToPrincipalPolicy(sendEmail)
	notify.Role.AddToPrincipalPolicy(sendSlots)
	assumeNotifyMember, notifyMemberRoleSuppression := assumeInEveryAccount(config.NotifyMemberRoleName(cfg.MemberRoleName))
	notify.Role.AddToPrincipalPolicy(assumeNotifyMember)
	suppressNag(notify.Role, handoffSecretsSuppression, notifyMemberRoleSuppression, sendSlotsSuppression)

	report := s.Functions[contract.CleanupReport]
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:ListBucket"}, s.ReportBucket.BucketArn()))
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject"}, runs, reports))
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:PutObject"}, s.ReportBucket.ArnForObjects(jsii.String(workflow.CanaryKey))))
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject"}, holds))
	report.Role.AddToPrincipalPolicy(sendEmail)
	report.Role.AddToPrincipalPolicy(sendSlots)
	report.Role.AddToPrincipalPolicy(allow([]string{"sns:Publish"}, s.FailureTopic.TopicArn()))
	grantKeyUse(s.TopicKey, "PublishFailuresByCleanupReport", report.Role, nil, "kms:GenerateDataKey", "kms:Decrypt")
	if cfg.SecurityHubFindings {
		// The findings of users whose keys cannot be rotated (pkg/report findings.go): imported
		// under the account's default product, and the open ones kept in one object between runs.
		product := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("securityhub"), Resource: jsii.String("product"),
			ResourceName: jsii.String(*stack.Account() + "/default"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
		report.Role.AddToPrincipalPolicy(allow([]string{"securityhub:BatchImportFindings"}, product))
		report.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject"}, s.ReportBucket.ArnForObjects(jsii.String(workflow.FindingsKey))))
	}
	suppressNag(report.Role, suppression{
		rule:   "AwsSolutions-IAM5",
		reason: "CleanupReport reads the run's per-account results under runs/ and writes the report under reports/; object keys are named per run",
		appliesTo: []string{
			runsObjects,
			reportsObjects,
		},
	}, sendSlotsSuppression)
}

// cdk-nag finding IDs of the report bucket's prefixes (the bucket's logical ID ends in a hash).
const (
	runsObjects      = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/runs\/\*$/`
	reportsObjects   = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/reports\/\*$/`
	leasesObjects    = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/leases\/\*$/`
	sendSlotsObjects = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/send-slots\/\*$/`
)

var handoffSecretsSuppression = suppression{
	rule:      "AwsSolutions-IAM5",
	reason:    "Hand-off secrets are created at run time, one per new key, under the " + contract.HandoffSecretNamePrefix + " prefix; their names are not known in advance",
	appliesTo: []string{`/^Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:` + nagAccountID + `:secret:` + nagPattern(contract.HandoffSecretNamePrefix) + `\*$/`},
}

// nagAccountID and nagPartition match, inside a cdk-nag appliesTo pattern, an ARN's account
// (this stack's, or another account's ID) and partition.
const (
	nagAccountID = `(<AWS::AccountId>|[0-9]{12})`
	nagPartition = `(aws|<AWS::Partition>)`
)

// nagPattern is s matched literally inside a cdk-nag appliesTo pattern (a /regex/ literal).
func nagPattern(s string) string { return strings.ReplaceAll(regexp.QuoteMeta(s), "/", `\/`) }

// senderIdentityARNs are the SES identities that may stand behind the sender address:
// the address itself or its domain, whichever the operators verified.
func senderIdentityARNs(stack awscdk.Stack, sender string) []*string {
	domain := sender[strings.LastIndex(sender, "@")+1:]
	var arns []*string
	for _, identity := range []string{sender, domain} {
		arns = append(arns, stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ses"), Resource: jsii.String("identity"), ResourceName: jsii.String(identity),
		}))
	}
	return arns
}
