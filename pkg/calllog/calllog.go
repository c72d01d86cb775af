// Package calllog defines the record of one AWS call that the local Lambdas write when the
// local runner asks them to (awsclient.RecordCalls), and that the stand-in's permission
// audit (sandbox/permissions) reads. It imports nothing, so that the CDK app's module can
// build the audit's package.
package calllog

// Env names the environment variable with which the local runner (sandbox/runner) asks a
// Lambda to record its AWS calls: the path of a JSON-lines file of Calls. It is never set
// on AWS.
const Env = "KEYROTATOR_CALL_LOG"

// Call is one API call: enough to tell the IAM action, its resources and the condition keys
// it is authorized with, and never a secret.
type Call struct {
	// Principal is the assumed-role session the call was signed with (arn:…:sts::…:
	// assumed-role/ROLE/SESSION), or empty for the Lambda's own credentials.
	Principal string `json:"principal,omitempty"`
	Service   string `json:"service"` // the SDK's service ID, e.g. "IAM", "SESv2"
	Operation string `json:"operation"`
	Region    string `json:"region"`
	// Params are the input's and output's identifying fields (Fields), by name.
	Params map[string]string `json:"params,omitempty"`
	// TagKeys are the keys of the tags the call writes or removes.
	TagKeys []string `json:"tagKeys,omitempty"`
	// ResourceTags are the tags of the rotator's own keys (config.RotatorTagKeyPrefix) that an
	// output shows on its resource (DescribeSecret): the resource tags IAM conditions see.
	ResourceTags map[string]string `json:"resourceTags,omitempty"`
	// Error is the error code the call ended with, if any.
	Error string `json:"error,omitempty"`
}

// Fields are the only fields of inputs and outputs a Call holds: names, ARNs and IDs that
// decide authorization. None of them ever carries a secret.
var Fields = []string{
	"UserName", "AccessKeyId", "RoleArn", "RoleSessionName", "Policy", // IAM, STS
	"Bucket", "Key", "Prefix", // S3 (a listing's Prefix is its s3:prefix condition key)
	"SecretId", "Name", "KmsKeyId", "ARN", // Secrets Manager
	"FromEmailAddress", "ConfigurationSetName", "EmailAddress", // SES
	"TopicArn",               // SNS
	"ResourceId", "ParentId", // Organizations
	"FunctionName",       // Lambda (the state machine's invocations, recorded by the local runner)
	"StateMachineArn",    // Step Functions (a Distributed Map's child executions, likewise)
	"Overwrite", "KeyId", // SSM PutParameter (its ssm:Overwrite condition key, "true" or "false"; its KMS key)
}
