package permissions

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// where is what a call's requests depend on besides the call: the caller's account, the
// stand-in's partition and organization, and the KMS key of an encrypted resource.
type where struct {
	account, partition, organization string
	keyOf                            func(resourceARN string) string
	// tagsOf gives the rotator's own tags of a resource, as a call's output last showed them.
	tagsOf func(resourceARN string) map[string]string
}

// operation turns a call into the authorizations IAM makes for it: its own, and those the
// service makes on the caller's behalf (KMS use by Secrets Manager and SNS).
type operation func(c calllog.Call, w where) []Request

// operations are the calls the Lambdas and the state machine make, by SDK service ID and
// operation name. A call of any other operation is reported, so that the model grows with
// the code.
var operations = map[string]operation{
	"IAM ListUsers":                on("iam:ListUsers"),
	"IAM GenerateCredentialReport": on("iam:GenerateCredentialReport"),
	"IAM GetCredentialReport":      on("iam:GetCredentialReport"),
	"IAM ListAccessKeys":           onUser("iam:ListAccessKeys"),
	"IAM GetAccessKeyLastUsed":     onUser("iam:GetAccessKeyLastUsed"),
	"IAM ListUserTags":             onUser("iam:ListUserTags"),
	"IAM CreateAccessKey":          onUser("iam:CreateAccessKey"),
	"IAM UpdateAccessKey":          onUser("iam:UpdateAccessKey"),
	"IAM DeleteAccessKey":          onUser("iam:DeleteAccessKey"),
	"IAM TagUser":                  onUser("iam:TagUser"),
	"IAM UntagUser":                onUser("iam:UntagUser"),
	"STS AssumeRole": func(c calllog.Call, w where) []Request {
		return []Request{{Action: "sts:AssumeRole", Resource: c.Params["RoleArn"],
			Context: map[string][]string{"aws:ResourceOrgID": {w.organization}}}}
	},
	"Organizations ListAccounts":                     on("organizations:ListAccounts"),
	"Organizations ListAccountsForParent":            on("organizations:ListAccountsForParent"),
	"Organizations ListOrganizationalUnitsForParent": on("organizations:ListOrganizationalUnitsForParent"),
	"Organizations ListTagsForResource": func(c calllog.Call, w where) []Request {
		// The management role's account is the organization's management account.
		return []Request{{Action: "organizations:ListTagsForResource",
			Resource: fmt.Sprintf("arn:%s:organizations::%s:account/%s/%s", w.partition, w.account, w.organization, c.Params["ResourceId"])}}
	},
	"IAM GetAccountAuthorizationDetails": on("iam:GetAccountAuthorizationDetails"),
	"SESv2 GetAccount":                   on("ses:GetAccount"),
	"S3 PutObject":                       onObject("s3:PutObject"),
	"S3 GetObject":                       readObject,
	"S3 HeadObject":                      readObject,
	"S3 DeleteObject":                    onObject("s3:DeleteObject"),
	"S3 ListObjectsV2": func(c calllog.Call, w where) []Request {
		return []Request{{Action: "s3:ListBucket", Resource: fmt.Sprintf("arn:%s:s3:::%s", w.partition, c.Params["Bucket"]),
			Context: map[string][]string{"s3:prefix": {c.Params["Prefix"]}}}}
	},
	"Secrets Manager ListSecrets": on("secretsmanager:ListSecrets"),
	"Secrets Manager CreateSecret": func(c calllog.Call, w where) []Request {
		arn, key := c.Params["ARN"], c.Params["KmsKeyId"]
		out := []Request{{Action: "secretsmanager:CreateSecret", Resource: arn,
			Context: map[string][]string{"secretsmanager:KmsKeyArn": {key}, "aws:TagKeys": c.TagKeys}}}
		if len(c.TagKeys) > 0 { // tags given at creation need TagResource too
			out = append(out, Request{Action: "secretsmanager:TagResource", Resource: arn,
				Context: map[string][]string{"aws:TagKeys": c.TagKeys}})
		}
		if key == "" {
			return out
		}
		return append(out,
			viaSecretsManager("kms:GenerateDataKey", key, arn, c.Region, nil),
			viaSecretsManager("kms:Decrypt", key, arn, c.Region, []string{config.SecretsKeyAccessCheck}))
	},
	"Secrets Manager TagResource": func(c calllog.Call, w where) []Request {
		return []Request{{Action: "secretsmanager:TagResource", Resource: secretARN(c, w),
			Context: map[string][]string{"aws:TagKeys": c.TagKeys}}}
	},
	"Secrets Manager DescribeSecret": onSecret("secretsmanager:DescribeSecret"),
	"Secrets Manager DeleteSecret":   onSecret("secretsmanager:DeleteSecret"),
	"Secrets Manager RestoreSecret":  onSecret("secretsmanager:RestoreSecret"),
	"Secrets Manager PutSecretValue": func(c calllog.Call, w where) []Request {
		out := onSecret("secretsmanager:PutSecretValue")(c, w)
		arn := cmp.Or(c.Params["ARN"], secretARN(c, w))
		if key := w.keyOf(arn); key != "" {
			// A new value of a secret under a customer managed key: Secrets Manager generates
			// its data key, and checks that the caller may use the key, on the caller's behalf.
			out = append(out,
				viaSecretsManager("kms:GenerateDataKey", key, arn, c.Region, nil),
				viaSecretsManager("kms:Decrypt", key, arn, c.Region, []string{config.SecretsKeyAccessCheck}))
		}
		return out
	},
	"Secrets Manager GetSecretValue": func(c calllog.Call, w where) []Request {
		arn := secretARN(c, w)
		out := onSecret("secretsmanager:GetSecretValue")(c, w)
		if key := w.keyOf(arn); key != "" {
			// A real version's encryption context holds its version ID, never the access check's.
			out = append(out, viaSecretsManager("kms:Decrypt", key, arn, c.Region, []string{"a-secret-version"}))
		}
		return out
	},
	// The rotator sends raw MIME only; SES v2 authorizes a SendEmail of raw content as
	// ses:SendRawEmail as well as ses:SendEmail (its AccessDenied errors name
	// ses:SendRawEmail for the SendEmail operation).
	"SESv2 SendEmail": func(c calllog.Call, w where) []Request {
		from := c.Params["FromEmailAddress"]
		ctx := map[string][]string{"ses:FromAddress": {from}}
		resources := []string{fmt.Sprintf("arn:%s:ses:%s:%s:identity/%s", w.partition, c.Region, w.account, from)}
		if set := c.Params["ConfigurationSetName"]; set != "" {
			resources = append(resources, fmt.Sprintf("arn:%s:ses:%s:%s:configuration-set/%s", w.partition, c.Region, w.account, set))
		}
		var out []Request
		for _, action := range []string{"ses:SendEmail", "ses:SendRawEmail"} {
			for _, r := range resources {
				out = append(out, Request{Action: action, Resource: r, Context: ctx})
			}
		}
		return out
	},
	"SESv2 GetSuppressedDestination": on("ses:GetSuppressedDestination"),
	// The findings are imported under the caller's default product (pkg/report findings.go);
	// the stand-in refuses a finding of any other (sandbox/moto_server.py).
	"SecurityHub BatchImportFindings": func(c calllog.Call, w where) []Request {
		return []Request{{Action: "securityhub:BatchImportFindings",
			Resource: fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", w.partition, c.Region, w.account, w.account)}}
	},
	"SESv2 GetConfigurationSet": func(c calllog.Call, w where) []Request {
		return []Request{{Action: "ses:GetConfigurationSet",
			Resource: fmt.Sprintf("arn:%s:ses:%s:%s:configuration-set/%s", w.partition, c.Region, w.account, c.Params["ConfigurationSetName"])}}
	},
	// Step Functions invokes a Task's function, and starts a Distributed Map's child
	// executions, with the state machine's role ("IAM policies for using Distributed Map
	// states", Step Functions developer guide); the local runner records both.
	"Lambda Invoke": func(c calllog.Call, _ where) []Request {
		return []Request{{Action: "lambda:InvokeFunction", Resource: c.Params["FunctionName"]}}
	},
	"SFN StartExecution": func(c calllog.Call, _ where) []Request {
		return []Request{{Action: "states:StartExecution", Resource: c.Params["StateMachineArn"]}}
	},
	// An SSM parameter that a machine user's keys are delivered to (pkg/appsecret ssm.go).
	"SSM DescribeParameters":  on("ssm:DescribeParameters"),
	"SSM ListTagsForResource": onParameter("ssm:ListTagsForResource"),
	"SSM PutParameter": func(c calllog.Call, w where) []Request {
		out := onParameter("ssm:PutParameter")(c, w)
		out[0].Context["ssm:Overwrite"] = []string{cmp.Or(c.Params["Overwrite"], "false")}
		if key := c.Params["KeyId"]; strings.HasPrefix(key, "arn:") {
			// A SecureString under a customer managed key: SSM encrypts the value with it on
			// the caller's behalf (a standard parameter; an advanced one uses
			// kms:GenerateDataKey). The AWS managed key aws/ssm needs no grant of the caller.
			out = append(out, Request{Action: "kms:Encrypt", Resource: key,
				Context: map[string][]string{"kms:ViaService": {"ssm." + c.Region + ".amazonaws.com"}}})
		}
		return out
	},
	"SNS Publish": func(c calllog.Call, w where) []Request {
		topic := c.Params["TopicArn"]
		out := []Request{{Action: "sns:Publish", Resource: topic}}
		if key := w.keyOf(topic); key != "" { // an encrypted topic uses its key on the publisher's behalf
			out = append(out, Request{Action: "kms:GenerateDataKey", Resource: key}, Request{Action: "kms:Decrypt", Resource: key})
		}
		return out
	},
}

// on is an action without resource-level permissions (Resource "*").
func on(action string) operation {
	return func(calllog.Call, where) []Request { return []Request{{Action: action, Resource: "*"}} }
}

// onUser is an action on the IAM user the call names (GetAccessKeyLastUsed: in its answer),
// with the keys of the tags it writes.
func onUser(action string) operation {
	return func(c calllog.Call, w where) []Request {
		r := Request{Action: action, Resource: fmt.Sprintf("arn:%s:iam::%s:user/%s", w.partition, w.account, c.Params["UserName"])}
		if action == "iam:TagUser" || action == "iam:UntagUser" {
			r.Context = map[string][]string{"aws:TagKeys": c.TagKeys}
		}
		return []Request{r}
	}
}

func onObject(action string) operation {
	return func(c calllog.Call, w where) []Request {
		return []Request{{Action: action, Resource: fmt.Sprintf("arn:%s:s3:::%s/%s", w.partition, c.Params["Bucket"], c.Params["Key"])}}
	}
}

// readObject is a GetObject or HeadObject. One answered NoSuchKey (NotFound for HEAD) was
// allowed s3:ListBucket on its key's prefix too: without it S3 answers AccessDenied for a
// missing key (S3 API reference, GetObject, "Permissions").
func readObject(c calllog.Call, w where) []Request {
	out := onObject("s3:GetObject")(c, w)
	if c.Error == "NoSuchKey" || c.Error == "NotFound" {
		out = append(out, Request{Action: "s3:ListBucket", Resource: fmt.Sprintf("arn:%s:s3:::%s", w.partition, c.Params["Bucket"]),
			Context: map[string][]string{"s3:prefix": {c.Params["Key"]}}})
	}
	return out
}

func onSecret(action string) operation {
	return func(c calllog.Call, w where) []Request {
		r := Request{Action: action, Resource: secretARN(c, w)}
		for k, v := range w.tagsOf(c.Params["ARN"]) {
			if r.Context == nil {
				r.Context = map[string][]string{}
			}
			r.Context["secretsmanager:ResourceTag/"+k] = []string{v}
		}
		return []Request{r}
	}
}

// onParameter is an action on the SSM parameter a call names (Name, or a
// ListTagsForResource's ResourceId), with its tags as the condition keys ssm:resourceTag/<key>:
// the ones a ListTagsForResource's own output shows, or the ones last read.
func onParameter(action string) operation {
	return func(c calllog.Call, w where) []Request {
		arn := parameterARN(c, w)
		tags := w.tagsOf(arn)
		if c.Operation == "ListTagsForResource" && c.ResourceTags != nil {
			tags = c.ResourceTags
		}
		r := Request{Action: action, Resource: arn, Context: map[string][]string{}}
		for k, v := range tags {
			r.Context["ssm:resourceTag/"+k] = []string{v}
		}
		return []Request{r}
	}
}

// parameterARN is the ARN of the SSM parameter a call names (a name with or without its
// leading "/": the ARN has one "/" after "parameter").
func parameterARN(c calllog.Call, w where) string {
	name := cmp.Or(c.Params["Name"], c.Params["ResourceId"])
	return fmt.Sprintf("arn:%s:ssm:%s:%s:parameter/%s", w.partition, c.Region, w.account, strings.TrimPrefix(name, "/"))
}

// secretARN is the ARN of the secret a call names (by ARN, or by name: then with the
// random suffix Secrets Manager adds as a wildcard).
func secretARN(c calllog.Call, w where) string {
	id := c.Params["SecretId"]
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", w.partition, c.Region, w.account, id)
}

// viaSecretsManager is Secrets Manager's use of a secret's KMS key on the caller's behalf.
func viaSecretsManager(action, key, secret, region string, versionID []string) Request {
	ctx := map[string][]string{
		"kms:ViaService":                  {"secretsmanager." + region + ".amazonaws.com"},
		"kms:EncryptionContext:SecretARN": {secret},
	}
	if versionID != nil {
		ctx["kms:EncryptionContext:SecretVersionId"] = versionID
	}
	return Request{Action: action, Resource: key, Context: ctx}
}
