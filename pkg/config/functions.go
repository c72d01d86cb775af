package config

import "github.com/keyrotator/iam-access-key-rotator/statemachine"

// FunctionVariables are the variables one Lambda function receives (Reads) and, of those,
// the ones it cannot start without (Requires).
type FunctionVariables struct{ Reads, Requires []string }

// Functions is the one place that decides which variables each function receives, by
// function name (statemachine): the CDK app sets each function's environment from it
// (infra/contract.FunctionEnv), the local runner gives each function only these, as Lambda
// does, and each function's start (pkg/boot) checks its required ones. Accounts excluded by
// ID or OU are filtered by ListAccounts, which every execution starts with; the exclusion tag
// is read by each account's ScanAndRotate, before anything is assumed in the account.
var Functions = map[string]FunctionVariables{
	statemachine.ListAccounts: {
		Reads:    []string{ManagementRoleARN, ExcludeAccounts, ExcludeOUs, ReportBucket, SESMaxSendRate, SESConfigurationSet},
		Requires: []string{ReportBucket},
	},
	statemachine.ScanAndRotate: {
		Reads: []string{LimitDays, NoticePeriod, MaxUsers, MemberRoleName, EmailTagKeys, ExemptTagKey, AllowedEmailDomains,
			ReportBucket, HandoffSecretPrefix, HandoffKMSKeyID, Partition, TagKeySecretARN, ExcludeAccountTag, TagReaderRoleARN},
		Requires: []string{ReportBucket, TagKeySecretARN},
	},
	statemachine.NotifyUser: {
		Reads:    []string{SenderEmail, SESConfigurationSet, MemberRoleName, ExemptTagKey, Partition, ReportBucket, TagKeySecretARN},
		Requires: []string{SenderEmail, ReportBucket, TagKeySecretARN},
	},
	statemachine.CleanupReport: {
		Reads:    []string{SenderEmail, SupportEmail, SESConfigurationSet, ReportBucket, FailureTopicARN},
		Requires: []string{ReportBucket, SenderEmail, SupportEmail, FailureTopicARN},
	},
}
