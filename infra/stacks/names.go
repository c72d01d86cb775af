package stacks

import (
	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Names of the rotator's resources. The role names are fixed because other accounts'
// trust policies name them.
const (
	RotatorRoleName      = statemachine.ScanRoleName                   // scan-and-rotate; trusted by the member role (memberRoleName)
	ListAccountsRoleName = contract.NamePrefix + "-list-accounts-role" // trusted by the management account
	NotifyRoleName       = statemachine.NotifyRoleName                 // notify-user; trusted by its own role in member accounts (memberRoleName-notify)
	ManagementRoleName   = contract.NamePrefix + "-management"         // in the management account
	TagReaderRoleName    = contract.NamePrefix + "-tag-reader"         // in the management account; trusted by scan-and-rotate
	StateMachineName     = contract.NamePrefix
	FailureTopicName     = contract.NamePrefix + "-topic"
	ConfigurationSetName = statemachine.ConfigurationSetName
	ScheduleRuleName     = statemachine.ScheduleRuleName
	MemberStackSetName   = statemachine.MemberStackSetName
	DashboardName        = contract.NamePrefix
	FailedAlarmName      = contract.NamePrefix + "-executions-failed"
	HandoffKeyAlias      = statemachine.HandoffKeyAlias
	LogsKeyAlias         = "alias/" + contract.NamePrefix + "-logs"
	TopicKeyAlias        = "alias/" + contract.NamePrefix + "-topic"
	RunsPrefix           = "runs/"    // ListAccounts and ScanAndRotate objects
	ReportsPrefix        = "reports/" // CleanupReport's reports
)
