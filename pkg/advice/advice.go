// Package advice says what could replace an IAM user's long-lived access keys, from the
// evidence the rotator reads anyway: where the user's KeyDelivery tag delivers its keys, each
// key's last use (IAM's GetAccessKeyLastUsed, or the credential report's last_used columns:
// when, with which service, in which region) and whether the user has a console password (the
// credential report's password_enabled). Classify is the one place that decides a user's use;
// the owner's emails, report.csv's advice column, report.json and the support report's count
// of users with keys all take it from here.
//
// Advice changes no action: it is words for people, with AWS's documentation. No AWS call is
// made for it, and nothing secret goes into it.
package advice

import (
	"slices"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// Use is what a user's long-lived keys are used for, as far as the evidence shows.
type Use string

// The uses, in the order the support report counts them.
const (
	// GitHubActions: the keys are delivered to GitHub Actions secrets (KeyDelivery github:...).
	GitHubActions Use = "github-actions"
	// AWSWorkload: the keys are delivered to a Secrets Manager secret or an SSM parameter
	// (KeyDelivery secretsmanager:, ssm:, ssm-pair:), which an application reads with AWS
	// credentials of its own.
	AWSWorkload Use = "aws-workload"
	// Workload: every key that was used was last used with one and the same service in one and
	// the same region, and the user has no console password: one machine's use, on AWS or off it.
	Workload Use = "workload"
	// Person: the user has a console password, or its keys were last used with more than one
	// service or region.
	Person Use = "person"
	// Unknown: no key was used (or IAM names no service for its use): nothing to advise.
	Unknown Use = "unknown"
)

// Uses lists every use; the support report counts users by it, and the tests range over it.
var Uses = []Use{GitHubActions, AWSWorkload, Workload, Person, Unknown}

// The KeyDelivery schemes Classify reads: pkg/appsecret's (GitHubScheme; Scheme,
// ParamScheme, PairScheme), which its tests hold together; appsecret cannot be imported here,
// as it imports pkg/workflow, which imports this package.
var (
	ciSchemes    = []string{"github:"}
	storeSchemes = []string{"secretsmanager:", "ssm:", "ssm-pair:"}
)

// Evidence is what the rotator knows of a user's use of its keys.
type Evidence struct {
	// Delivery is the user's KeyDelivery tag value: "" when the keys go by email, or when the
	// user's tags were not read (a user the run did not read in full).
	Delivery string
	// Console: the user has a console password (the credential report's password_enabled).
	Console bool
	// Keys are the last uses of the user's keys, active or not.
	Keys []policy.Usage
}

// Classify says what the evidence shows the keys are used for. The rules, first match:
//  1. KeyDelivery names GitHub: GitHubActions.
//  2. KeyDelivery names a secret or an SSM parameter: AWSWorkload.
//  3. A console password: Person.
//  4. The keys used were last used with one service in one region: Workload; with more than
//     one: Person; none used (or none with a service named): Unknown.
//
// A KeyDelivery scheme is recognized in any case, as the owner meant it, whether or not it
// names a destination the rotator can deliver to.
func Classify(e Evidence) Use {
	delivery := strings.ToLower(strings.TrimSpace(e.Delivery))
	has := func(p string) bool { return strings.HasPrefix(delivery, p) }
	switch {
	case slices.ContainsFunc(ciSchemes, has):
		return GitHubActions
	case slices.ContainsFunc(storeSchemes, has):
		return AWSWorkload
	case e.Console:
		return Person
	}
	type place struct{ service, region string }
	var seen []place
	for _, k := range e.Keys {
		p := place{k.Service, k.Region}
		if k.LastUsedDate != nil && k.Service != "" && !slices.Contains(seen, p) {
			seen = append(seen, p)
		}
	}
	switch len(seen) {
	case 0:
		return Unknown
	case 1:
		return Workload
	}
	return Person
}

// Advice is what replaces a long-lived key for one use, as report.json and report.csv carry
// it: the use, the replacement in a few words, and AWS's documentation of how. Explain says it
// at length, for the owner's email.
type Advice struct {
	Use     Use      `json:"use"`
	Replace string   `json:"replace"`
	Links   []string `json:"links"`
}

// AWS's documentation, each page found in AWS's own guides.
const (
	// IAM User Guide, "Create a role for OpenID Connect federation (console)": GitHub's OIDC
	// provider among others.
	oidcRoleDoc = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html"
	// IAM User Guide, "Programmatic access with AWS security credentials", its section
	// "Alternatives to long-term access keys": roles for EC2, ECS and Lambda.
	alternativesDoc = "https://docs.aws.amazon.com/IAM/latest/UserGuide/security-creds-programmatic-access.html#security-creds-alternatives-to-long-term-access-keys"
	// AWS SDKs and Tools Reference Guide, "Using IAM Roles Anywhere to authenticate AWS SDKs
	// and tools": workloads outside AWS.
	rolesAnywhereDoc = "https://docs.aws.amazon.com/sdkref/latest/guide/access-rolesanywhere.html"
	// AWS SDKs and Tools Reference Guide, "Using IAM Identity Center to authenticate AWS SDK
	// and tools": people.
	identityCenterDoc = "https://docs.aws.amazon.com/sdkref/latest/guide/access-sso.html"
)

// roleText explains the advice for a workload: a role on AWS, IAM Roles Anywhere off it.
const roleText = "On Amazon EC2, Amazon ECS or AWS Lambda, give the workload's IAM role (instance profile, task role, execution role) " +
	"this user's permissions: it gets short-lived credentials by itself. Outside AWS (on premises), IAM Roles Anywhere gives it short-lived " +
	"credentials for an X.509 certificate. Then delete the user's access keys: nothing is left to rotate."

// uses holds each use's advice and its explanation (Unknown has none).
var uses = map[Use]struct {
	replace, explain string
	links            []string
}{
	GitHubActions: {"an IAM role assumed through GitHub's OIDC provider",
		"The keys of this user go to GitHub Actions secrets. Let the workflows assume an IAM role through GitHub's " +
			"OpenID Connect (OIDC) provider instead: each run gets short-lived credentials, and no access key is stored in GitHub to rotate or leak.",
		[]string{oidcRoleDoc}},
	AWSWorkload: {"an IAM role (EC2, ECS, Lambda), or IAM Roles Anywhere off AWS",
		"The keys of this user go to a secret or SSM parameter that an application reads, with AWS credentials of its own. " + roleText,
		[]string{alternativesDoc, rolesAnywhereDoc}},
	Workload: {"an IAM role (EC2, ECS, Lambda), or IAM Roles Anywhere off AWS",
		"The keys of this user were last used with one service in one region: that looks like one workload. " + roleText,
		[]string{alternativesDoc, rolesAnywhereDoc}},
	Person: {"IAM Identity Center",
		"This user looks like a person's (a console password, or keys used with several services or regions). " +
			"People sign in through IAM Identity Center and get short-lived credentials for the AWS CLI and SDKs (aws configure sso), " +
			"with no access key to rotate.",
		[]string{identityCenterDoc}},
}

// For returns the advice for use, nil when there is none (Unknown).
func For(use Use) *Advice {
	u, ok := uses[use]
	if !ok {
		return nil
	}
	return &Advice{Use: use, Replace: u.replace, Links: slices.Clone(u.links)}
}

// Of is the advice for the evidence: For(Classify(e)).
func Of(e Evidence) *Advice { return For(Classify(e)) }

// Explain says the advice at length, for the owner: why the use, and what to do; "" for none.
func (a *Advice) Explain() string {
	if a == nil {
		return ""
	}
	return uses[a.Use].explain
}

// String is the advice on one line, as report.csv's advice column carries it: the use, the
// replacement and its links, e.g. "person: IAM Identity Center https://…"; "" for none.
func (a *Advice) String() string {
	if a == nil {
		return ""
	}
	return string(a.Use) + ": " + a.Replace + " " + strings.Join(a.Links, " ")
}
