package stacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
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
	// TagKey is the secret whose value signs the rotator's tags on IAM users (history.Seal).
	TagKey   awssecretsmanager.Secret
	TopicKey awskms.Key
	LogsKey  awskms.Key
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
	s.TagKey = newTagKey(stack, skips)
	s.TopicKey = newKey(stack, "TopicKey", TopicKeyAlias, "Encrypts the rotator's failure topic")
	s.LogsKey = newLogsKey(stack)
	s.FailureTopic = newFailureTopic(stack, cfg, s.TopicKey)
	configSet := awsses.NewConfigurationSet(stack, jsii.String("ConfigurationSet"), &awsses.ConfigurationSetProps{
		ConfigurationSetName: jsii.String(ConfigurationSetName),
		ReputationMetrics:    jsii.Bool(true),
		SendingEnabled:       jsii.Bool(true),
		TlsPolicy:            awsses.ConfigurationSetTlsPolicy_REQUIRE, // key mails never travel in clear
		// A delivery is confirmed from the account-level suppression list (pkg/suppression):
		// the set's reasons override the account's, so a bounce of the rotator's mail lands
		// there whatever the account is set to.
		SuppressionReasons: awsses.SuppressionReasons_BOUNCES_AND_COMPLAINTS,
	})

	env := environment(cfg, resourceNames{
		reportBucket:     *s.ReportBucket.BucketName(),
		handoffKeyARN:    *s.HandoffKey.KeyArn(),
		tagKeySecretARN:  *s.TagKey.SecretArn(),
		failureTopicARN:  *s.FailureTopic.TopicArn(),
		configurationSet: *configSet.ConfigurationSetName(),
		managementRole:   managementRoleARN(cfg),
		tagReaderRole:    tagReaderRoleARN(cfg),
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
			MemoryMB:    float64(f.MemoryMB()),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(f.Timeout().Seconds())),
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
	reportBucket, handoffKeyARN, tagKeySecretARN, failureTopicARN, configurationSet, managementRole, tagReaderRole, partition string
}

// environment gives the value of every variable of contract.FunctionEnv (an unset one is
// empty): the Lambdas' settings read from context, and those the stack sets from its
// resources, written by config.Settings.Environ, the inverse of what the Lambdas read. An
// empty ALLOWED_EMAIL_DOMAINS means any domain to the Lambdas; the CDK app gets there only
// when allowedEmailDomains is explicitly "*".
func environment(cfg Config, r resourceNames) map[contract.EnvVar]string {
	s := cfg.Settings
	s.ManagementRoleARN = r.managementRole
	s.ReportBucket = r.reportBucket
	s.HandoffSecretPrefix = contract.HandoffSecretNamePrefix
	s.HandoffKMSKeyID = r.handoffKeyARN
	s.SESConfigurationSet = r.configurationSet
	s.FailureTopicARN = r.failureTopicARN
	s.Partition = r.partition
	s.TagKeySecretARN = r.tagKeySecretARN
	if tagExclusion(cfg) {
		s.TagReaderRoleARN = r.tagReaderRole
	}
	return s.Environ()
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
			// The SES send slots (pkg/sendrate) matter for a second: gone the next day.
			*props.LifecycleRules = append(*props.LifecycleRules, &awss3.LifecycleRule{
				Id:                          jsii.String("expire-send-slots"),
				Prefix:                      jsii.String(workflow.SendSlotsPrefix),
				Expiration:                  awscdk.Duration_Days(jsii.Number(1)),
				NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
			})
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

// newTagKey is the secret whose random value signs the rotator's tags on IAM users
// (history.Seal): 64 letters and digits generated by Secrets Manager, never seen by anyone.
// Only ScanAndRotate and NotifyUser may read it (grantFunctions; its resource policy denies
// every other principal). It is not rotated automatically: a new value leaves every signed
// tag unverified, which postpones every pending action once (docs/policy.md).
func newTagKey(stack awscdk.Stack, skips checkovSkips) awssecretsmanager.Secret {
	secret := awssecretsmanager.NewSecret(stack, jsii.String("TagKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(contract.TagKeySecretName),
		Description: jsii.String("Signs the key-rotator:* tags the IAM access key rotator keeps on IAM users; read only by scan-and-rotate and notify-user"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	readers := []string{roleARN(*stack.Account(), RotatorRoleName), roleARN(*stack.Account(), NotifyRoleName)}
	secret.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("ReadOnlyByScanAndRotateAndNotifyUser"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("secretsmanager:GetSecretValue"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{"StringNotEquals": map[string]any{"aws:PrincipalArn": readers}},
	}))
	suppressNag(secret, suppression{
		rule: "AwsSolutions-SMG4",
		reason: "The tag key signs the rotator's history on IAM users; a new value leaves every signed tag unverified, which postpones every pending " +
			"action once (docs/policy.md, What the rotator trusts from tags): it is replaced deliberately, not on a schedule",
	})
	skips.skip(secret, "CKV_AWS_149", "Encrypted with Secrets Manager's AWS managed key: CloudFormation generates the value, which a customer managed "+
		"key that grants no use to the deploying principal would refuse; the resource policy denies reading it to every principal but the two roles")
	return secret
}
