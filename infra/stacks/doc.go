// Package stacks builds the rotator's CDK app: the RotatorStack in the provisioning
// account (Lambdas, state machine, schedule, report bucket, hand-off key, failure topic,
// alarm, dashboard), the ManagementRoleStack in the organization's management account,
// and the MemberRoleStackSet that puts the rotator's role in every member account.
// Its configuration comes from CDK context through LoadConfig; the names the Lambdas
// and the state machine definition share with it live in package contract.
package stacks
