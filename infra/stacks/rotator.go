package stacks

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// RotatorStackProps configures the RotatorStack.
type RotatorStackProps struct {
	awscdk.StackProps
	Config Config
	// LambdaAssetDir holds one folder per function with its bootstrap binary
	// (build/lambda in the repository, filled by `make lambdas`).
	LambdaAssetDir string
	// DefinitionPath is the state machine's ASL file (statemachine/rotation.asl.json).
	DefinitionPath string
}

// RotatorStack is the rotator in the provisioning account.
type RotatorStack struct {
	awscdk.Stack
	Functions    map[contract.Function]*RotatorFunction
	StateMachine awsstepfunctions.StateMachine
	ReportBucket awss3.Bucket
	FailureTopic awssns.Topic
	HandoffKey   awskms.Key
	TopicKey     awskms.Key
	LogsKey      awskms.Key
}

// functionSizes gives each function its memory and timeout: scan-and-rotate may wait on
// IAM's rate limits in a large account for up to Lambda's 15 minutes.
var functionSizes = map[contract.Function]struct{ memoryMB, timeoutMinutes float64 }{
	contract.ListAccounts:  {256, 5},
	contract.ScanAndRotate: {512, 15},
	contract.NotifyUser:    {256, 2},
	contract.CleanupReport: {512, 10},
}

// NewRotatorStack builds the rotator. It fails when the state machine definition cannot
// be read or uses a placeholder the stack does not substitute, or a function's bootstrap
// is missing.
func NewRotatorStack(scope constructs.Construct, id string, props *RotatorStackProps) (*RotatorStack, error) {
	definition, err := loadDefinition(props.DefinitionPath)
	if err != nil {
		return nil, err
	}
	if err := checkAssets(props.LambdaAssetDir); err != nil {
		return nil, err
	}
	cfg := props.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &RotatorStack{Stack: stack, Functions: map[contract.Function]*RotatorFunction{}}
	skips := checkovSkips{}

	s.ReportBucket = newReportBuckets(stack, cfg, skips)
	s.HandoffKey = newKey(stack, "HandoffKey", HandoffKeyAlias,
		"Encrypts the hand-off secrets that carry new access keys from scan-and-rotate to notify-user")
	s.TopicKey = newKey(stack, "TopicKey", TopicKeyAlias, "Encrypts the rotator's failure topic")
	s.LogsKey = newLogsKey(stack)
	s.FailureTopic = newFailureTopic(stack, cfg, s.TopicKey)
	configSet := awsses.NewConfigurationSet(stack, jsii.String("ConfigurationSet"), &awsses.ConfigurationSetProps{
		ConfigurationSetName: jsii.String(ConfigurationSetName),
		ReputationMetrics:    jsii.Bool(true),
		SendingEnabled:       jsii.Bool(true),
		TlsPolicy:            awsses.ConfigurationSetTlsPolicy_REQUIRE, // key mails never travel in clear
	})

	env := environment(cfg, resourceNames{
		reportBucket:     *s.ReportBucket.BucketName(),
		handoffKeyARN:    *s.HandoffKey.KeyArn(),
		failureTopicARN:  *s.FailureTopic.TopicArn(),
		configurationSet: *configSet.ConfigurationSetName(),
		managementRole:   managementRoleARN(cfg),
		partition:        *awscdk.Aws_PARTITION(),
	})
	for _, f := range contract.Functions {
		vars := map[string]*string{}
		for _, name := range contract.FunctionEnv[f] {
			vars[string(name)] = jsii.String(env[name])
		}
		roleName := ""
		switch f {
		case contract.ScanAndRotate:
			roleName = RotatorRoleName
		case contract.ListAccounts:
			roleName = ListAccountsRoleName
		case contract.NotifyUser:
			roleName = NotifyRoleName
		}
		s.Functions[f] = NewRotatorFunction(stack, functionConstructID(f), FunctionProps{
			Function:    f,
			AssetDir:    props.LambdaAssetDir,
			MemoryMB:    functionSizes[f].memoryMB,
			Timeout:     awscdk.Duration_Minutes(jsii.Number(functionSizes[f].timeoutMinutes)),
			Environment: vars,
			RoleName:    roleName,
			LogsKey:     s.LogsKey,
		})
	}
	s.grantFunctions(cfg, configSet)

	stateMachine, err := s.newStateMachine(cfg, definition)
	if err != nil {
		return nil, err
	}
	s.StateMachine = stateMachine
	newSchedule(stack, cfg, stateMachine)
	newMonitoring(stack, stateMachine, s.FailureTopic)
	skips.apply()
	return s, nil
}

// checkAssets reports a function whose bootstrap is missing from the asset directory,
// which CDK would only report as an unreadable asset path.
func checkAssets(dir string) error {
	for _, f := range contract.Functions {
		path := filepath.Join(dir, string(f), "bootstrap")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("lambda asset of %s: %w (run `make lambdas`)", f, err)
		}
	}
	return nil
}

// functionConstructID turns list-accounts into ListAccounts.
func functionConstructID(f contract.Function) string {
	var b strings.Builder
	for part := range strings.SplitSeq(string(f), "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// resourceNames are the values of the stack's resources that go into Lambda environments.
type resourceNames struct {
	reportBucket, handoffKeyARN, failureTopicARN, configurationSet, managementRole, partition string
}

// environment gives the value of every variable of contract.FunctionEnv (an unset one is
// empty), written by config.Settings.Environ, the inverse of what the Lambdas read. An empty
// ALLOWED_EMAIL_DOMAINS means any domain to the Lambdas; the CDK app gets there only when
// allowedEmailDomains is explicitly "*".
func environment(cfg Config, r resourceNames) map[contract.EnvVar]string {
	return config.Settings{
		Policy: policy.Config{
			LimitDays: cfg.LimitDays, NoticePeriod: cfg.NoticePeriod, MaxUsers: cfg.MaxUsers,
			AllowedEmailDomains: cfg.AllowedEmailDomains, EmailTagKeys: cfg.EmailTagKeys, ExemptTagKey: cfg.ExemptTagKey,
		},
		SenderEmail:         cfg.SenderEmail,
		SupportEmail:        cfg.SupportEmail,
		MemberRoleName:      cfg.MemberRoleName,
		ManagementRoleARN:   r.managementRole,
		ExcludeAccounts:     cfg.ExcludeAccounts,
		ReportBucket:        r.reportBucket,
		HandoffSecretPrefix: contract.HandoffSecretNamePrefix,
		HandoffKMSKeyID:     r.handoffKeyARN,
		SESConfigurationSet: r.configurationSet,
		FailureTopicARN:     r.failureTopicARN,
		Partition:           r.partition,
	}.Environ()
}

// roleARN is the ARN of a role in an account ("*": in any account) of this partition.
func roleARN(account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", *awscdk.Aws_PARTITION(), account, name)
}

// managementRoleARN is the role ListAccounts assumes in the management account.
func managementRoleARN(cfg Config) string {
	return roleARN(cfg.ManagementAccountID, ManagementRoleName)
}

// newReportBuckets creates the report bucket and the bucket receiving its access logs.
func newReportBuckets(stack awscdk.Stack, cfg Config, skips checkovSkips) awss3.Bucket {
	newBucket := func(id string, logs awss3.IBucket) awss3.Bucket {
		props := &awss3.BucketProps{
			Encryption:        awss3.BucketEncryption_S3_MANAGED,
			EnforceSSL:        jsii.Bool(true),
			BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
			ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			Versioned:         jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
			LifecycleRules: &[]*awss3.LifecycleRule{{
				Id:                                  jsii.String("expire"),
				Expiration:                          awscdk.Duration_Days(jsii.Number(float64(cfg.ReportRetentionDays))),
				NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
			}},
		}
		if logs != nil {
			props.ServerAccessLogsBucket = logs
			props.ServerAccessLogsPrefix = jsii.String("report-bucket/")
		}
		b := awss3.NewBucket(stack, jsii.String(id), props)
		return b
	}
	logs := newBucket("AccessLogsBucket", nil)
	suppressNag(logs, suppression{rule: "AwsSolutions-S1", reason: "This is the access-log bucket of the report bucket: logging it into itself would loop and into another bucket would only move the question"})
	skips.skip(logs, "CKV_AWS_18", "This is the access-log bucket of the report bucket: logging it into itself would loop")
	return newBucket("ReportBucket", logs)
}

// Log group names: every log group of the rotator starts with one of these.
const (
	functionLogGroupPrefix   = "/aws/lambda/" + contract.NamePrefix + "-"
	stateMachineLogGroupName = "/aws/vendedlogs/states/" + StateMachineName
)

// newLogsKey creates the key of the rotator's log groups; CloudWatch Logs may use it
// for those log groups only.
func newLogsKey(stack awscdk.Stack) awskms.Key {
	key := newKey(stack, "LogsKey", LogsKeyAlias, "Encrypts the rotator's CloudWatch log groups")
	var logGroups []string
	for _, name := range []string{functionLogGroupPrefix + "*", stateMachineLogGroupName} {
		logGroups = append(logGroups, *stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("logs"), Resource: jsii.String("log-group"),
			ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		}))
	}
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CloudWatchLogsForTheRotatorsLogGroups"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(
			jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", *stack.Region())), nil)},
		Actions: jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
			"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"ArnLike": map[string]any{"kms:EncryptionContext:aws:logs:arn": logGroups}},
	}), jsii.Bool(false))
	return key
}

// newFailureTopic creates the operators' failure topic, encrypted with key.
func newFailureTopic(stack awscdk.Stack, cfg Config, key awskms.Key) awssns.Topic {
	topic := awssns.NewTopic(stack, jsii.String("FailureTopic"), &awssns.TopicProps{
		TopicName:   jsii.String(FailureTopicName),
		DisplayName: jsii.String("IAM access key rotator failures"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.OperatorEmail), nil))
	// CloudWatch alarms publish as the service: the topic and its key must let it, for
	// alarms of this account only.
	alarmsOfThisAccount := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}}
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsOfThisAccountPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &alarmsOfThisAccount,
	}))
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsOfThisAccountUseKey"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"),
		Conditions: &alarmsOfThisAccount,
	}), jsii.Bool(false))
	return topic
}

// SecretsManagerKeyAccessCheck is the SecretVersionId that Secrets Manager puts in the
// encryption context of the GenerateDataKey and Decrypt calls with which it checks that the
// caller may use a secret's KMS key.
const SecretsManagerKeyAccessCheck = "RequestToValidateKeyAccess"

// grantFunctions gives each function exactly the permissions it uses.
func (s *RotatorStack) grantFunctions(cfg Config, configSet awsses.ConfigurationSet) {
	stack := s.Stack
	runs := s.ReportBucket.ArnForObjects(jsii.String(RunsPrefix + "*"))
	reports := s.ReportBucket.ArnForObjects(jsii.String(ReportsPrefix + "*"))
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
	suppressNag(list.Role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "ListAccounts writes one object per run under runs/; the keys are not known in advance",
		appliesTo: []string{runsObjects},
	})

	scan := s.Functions[contract.ScanAndRotate]
	assumeMember := allowIf(
		map[string]any{"StringEquals": map[string]any{"aws:ResourceOrgID": cfg.OrganizationID}},
		[]string{"sts:AssumeRole"},
		jsii.String(roleARN("*", cfg.MemberRoleName)),
	)
	memberRoleSuppression := suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "The member role exists in every member account (the account is the wildcard); aws:ResourceOrgID keeps it inside the organization",
		appliesTo: []string{fmt.Sprintf("Resource::arn:<AWS::Partition>:iam::*:role/%s", cfg.MemberRoleName)},
	}
	scan.Role.AddToPrincipalPolicy(assumeMember)
	// A new key's delivery is confirmed only once its owner's address is not on SES's
	// suppression list (acceptance is not delivery); the call has no resource-level permission.
	scan.Role.AddToPrincipalPolicy(allow([]string{"ses:GetSuppressedDestination"}, jsii.String("*")))
	scan.Role.AddToPrincipalPolicy(allowIf(
		map[string]any{"StringEquals": map[string]any{"secretsmanager:KmsKeyArn": s.HandoffKey.KeyArn()}},
		[]string{"secretsmanager:CreateSecret"}, handoffSecrets))
	scan.Role.AddToPrincipalPolicy(allow(
		[]string{"secretsmanager:TagResource", "secretsmanager:DeleteSecret"}, handoffSecrets))
	// Pending hand-offs (keys created but not yet delivered) are found by listing the prefix.
	scan.Role.AddToPrincipalPolicy(allow([]string{"secretsmanager:ListSecrets"}, jsii.String("*")))
	// CreateSecret with a customer managed key makes Secrets Manager call GenerateDataKey and,
	// to validate the caller's access to the key, Decrypt on the caller's behalf. Those
	// validation calls carry SecretVersionId=RequestToValidateKeyAccess in the encryption
	// context (Secrets Manager user guide, "Secrets Manager encryption context"); a real
	// version's context holds its version ID, so ScanAndRotate still cannot read a secret.
	grantKeyUse(s.HandoffKey, "EncryptHandoffByScanAndRotate", scan.Role, viaSecretsManager(nil), "kms:GenerateDataKey")
	grantKeyUse(s.HandoffKey, "ValidateHandoffKeyAccessByScanAndRotate", scan.Role,
		viaSecretsManager(map[string]any{"kms:EncryptionContext:SecretVersionId": SecretsManagerKeyAccessCheck}), "kms:Decrypt")
	scan.Role.AddToPrincipalPolicy(allow([]string{"s3:PutObject"}, runs))
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
	// NotifyUser reads a new key, marks its secret sent (ScanAndRotate deletes it once the
	// delivery is confirmed), and records delivered notices on the owner's IAM user through
	// the member role.
	notify.Role.AddToPrincipalPolicy(allow([]string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}, handoffSecrets))
	notify.Role.AddToPrincipalPolicy(allowIf(map[string]any{"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{config.HandoffSentTag}}},
		[]string{"secretsmanager:TagResource"}, handoffSecrets))
	grantKeyUse(s.HandoffKey, "DecryptHandoffByNotifyUser", notify.Role, viaSecretsManager(nil), "kms:Decrypt")
	notify.Role.AddToPrincipalPolicy(sendEmail)
	notify.Role.AddToPrincipalPolicy(assumeMember)
	suppressNag(notify.Role, handoffSecretsSuppression, memberRoleSuppression)

	report := s.Functions[contract.CleanupReport]
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:ListBucket"}, s.ReportBucket.BucketArn()))
	report.Role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject"}, runs, reports))
	report.Role.AddToPrincipalPolicy(sendEmail)
	report.Role.AddToPrincipalPolicy(allow([]string{"sns:Publish"}, s.FailureTopic.TopicArn()))
	grantKeyUse(s.TopicKey, "PublishFailuresByCleanupReport", report.Role, nil, "kms:GenerateDataKey", "kms:Decrypt")
	suppressNag(report.Role, suppression{
		rule:   "AwsSolutions-IAM5",
		reason: "CleanupReport reads the run's per-account results under runs/ and writes the report under reports/; object keys are named per run",
		appliesTo: []string{
			runsObjects,
			reportsObjects,
		},
	})
}

// cdk-nag finding IDs of the report bucket's prefixes (the bucket's logical ID ends in a hash).
const (
	runsObjects    = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/runs\/\*$/`
	reportsObjects = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/reports\/\*$/`
	leasesObjects  = `/^Resource::<ReportBucket[0-9A-F]{8}\.Arn>\/leases\/\*$/`
)

var handoffSecretsSuppression = suppression{
	rule:      "AwsSolutions-IAM5",
	reason:    "Hand-off secrets are created at run time, one per new key, under the iam-access-key-rotator/handoff/ prefix; their names are not known in advance",
	appliesTo: []string{`/^Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:(<AWS::AccountId>|[0-9]{12}):secret:iam-access-key-rotator\/handoff\/\*$/`},
}

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

// newStateMachine creates the workflow from the ASL definition, its role and its logs.
func (s *RotatorStack) newStateMachine(cfg Config, definition string) (awsstepfunctions.StateMachine, error) {
	stack := s.Stack
	role := awsiam.NewRole(stack, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("Role of the " + StateMachineName + " state machine"),
	})
	var functionARNs []*string
	for _, f := range contract.Functions {
		arn := s.Functions[f].Function.FunctionArn()
		functionARNs = append(functionARNs, arn, jsii.String(*arn+":*"))
	}
	role.AddToPrincipalPolicy(allow([]string{"lambda:InvokeFunction"}, functionARNs...))
	role.AddToPrincipalPolicy(allow([]string{"sns:Publish"}, s.FailureTopic.TopicArn()))
	grantKeyUse(s.TopicKey, "PublishFailuresByStateMachine", role, nil, "kms:GenerateDataKey", "kms:Decrypt")
	// Under runs/: the ItemReaders read the account list and each account's notifications;
	// RecordNotificationFailure writes notify-failures/, and the account Map's ResultWriter
	// writes map-results/ (a multipart upload when its files are large).
	role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"},
		s.ReportBucket.ArnForObjects(jsii.String(RunsPrefix+"*"))))
	// The Distributed Map runs each batch as a child execution of this state machine. Its
	// ARN is built from the name: referring to the resource would make it depend on itself.
	self := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
		ResourceName: jsii.String(StateMachineName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	executions := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("execution"),
		ResourceName: jsii.String(StateMachineName + "/*"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	role.AddToPrincipalPolicy(allow([]string{"states:StartExecution"}, self))
	role.AddToPrincipalPolicy(allow([]string{"states:DescribeExecution", "states:StopExecution"}, executions))

	logGroup := newLogGroup(stack, "StateMachineLogs", stateMachineLogGroupName, s.LogsKey)
	substitutions := map[string]*string{
		contract.FailureTopicArn:    s.FailureTopic.TopicArn(),
		contract.ReportBucketName:   s.ReportBucket.BucketName(),
		contract.AccountConcurrency: jsii.String(strconv.Itoa(cfg.MapConcurrency)),
		contract.NotifyConcurrency:  jsii.String(strconv.Itoa(cfg.NotifyConcurrency)),
		contract.Partition:          awscdk.Aws_PARTITION(),
	}
	var constructIDs []string
	for _, f := range contract.Functions {
		substitutions[f.ArnPlaceholder()] = s.Functions[f].Function.FunctionArn()
		constructIDs = append(constructIDs, functionConstructID(f))
	}
	for _, name := range contract.DefinitionPlaceholders {
		if substitutions[name] == nil {
			return nil, fmt.Errorf("state machine: no substitution for placeholder ${%s}", name)
		}
	}
	sm := awsstepfunctions.NewStateMachine(stack, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(StateMachineName),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(definition)),
		DefinitionSubstitutions: &substitutions,
		Role:                    role,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logGroup,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false), // payloads never land in logs
		},
	})
	suppressNag(role,
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Invoking a function's versions and aliases (<function ARN>:*) is what lambda:InvokeFunction needs when the definition names a qualified ARN",
			appliesTo: []string{`/^Resource::<(` + strings.Join(constructIDs, "|") + `)Function[0-9A-F]{8}\.Arn>:\*$/`},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Under runs/, named per run: the Distributed Maps' ItemReaders read the account list and each account's notifications, RecordNotificationFailure and the account Map's ResultWriter write there",
			appliesTo: []string{runsObjects},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Distributed Map child executions of this state machine have generated names: execution:<name>/* is the narrowest ARN",
			appliesTo: []string{`/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:(<AWS::AccountId>|[0-9]{12}):execution:iam-access-key-rotator\/\*$/`},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "CloudWatch Logs log delivery (logs:*LogDelivery*, PutResourcePolicy, Describe*) and X-Ray trace writes support no resource-level permissions: Resource must be *",
			appliesTo: []string{"Resource::*"},
		},
	)
	return sm, nil
}

// newSchedule starts the state machine daily; with cleanupOnce, in cleanup mode.
func newSchedule(stack awscdk.Stack, cfg Config, sm awsstepfunctions.StateMachine) {
	input := map[string]any{}
	if cfg.CleanupOnce {
		input["cleanup"], input["confirmCleanup"] = true, workflow.CleanupConfirmation
		awscdk.Annotations_Of(stack).AddInfo(jsii.String(
			"cleanupOnce is true: the schedule starts cleanup runs. Deploy again with cleanupOnce=false after the first run."))
	}
	awsevents.NewRule(stack, jsii.String("Schedule"), &awsevents.RuleProps{
		RuleName:    jsii.String(ScheduleRuleName),
		Description: jsii.String("Starts the IAM access key rotator"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.Schedule)),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(input),
		})},
	})
}

// newMonitoring alarms the operators on a failed execution and charts the run metrics.
func newMonitoring(stack awscdk.Stack, sm awsstepfunctions.StateMachine, topic awssns.Topic) {
	alarm := awscloudwatch.NewAlarm(stack, jsii.String("ExecutionsFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(FailedAlarmName),
		AlarmDescription:   jsii.String("An execution of the IAM access key rotator failed"),
		Metric:             sm.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))

	metric := func(name string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(contract.MetricNamespace), MetricName: jsii.String(name),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Days(jsii.Number(1)),
		})
	}
	// One graph per chart of the run metrics, in the order of contract.RunMetrics, then the
	// failed executions: one row of 24 columns.
	var charts []string
	byChart := map[string][]awscloudwatch.IMetric{}
	for _, m := range contract.RunMetrics {
		if _, seen := byChart[m.Chart]; !seen {
			charts = append(charts, m.Chart)
		}
		byChart[m.Chart] = append(byChart[m.Chart], metric(m.Name))
	}
	width := 24 / float64(len(charts)+1)
	var row []awscloudwatch.IWidget
	for _, chart := range charts {
		left := byChart[chart]
		row = append(row, awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("Daily run: " + chart), Left: &left, Width: jsii.Number(width),
		}))
	}
	row = append(row, awscloudwatch.NewSingleValueWidget(&awscloudwatch.SingleValueWidgetProps{
		Title:   jsii.String("Executions failed (1 day)"),
		Metrics: &[]awscloudwatch.IMetric{sm.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Days(jsii.Number(1)), Statistic: jsii.String("Sum")})},
		Width:   jsii.Number(width),
	}))
	awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(DashboardName),
		Widgets:       &[]*[]awscloudwatch.IWidget{&row},
	})
}
