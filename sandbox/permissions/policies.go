// Package permissions holds the IAM policies the CDK app synthesizes for every role the
// rotator uses (policies.json, generated from the templates by infra/stacks: `make
// policies`), puts them in the local stand-in, and checks the calls the local Lambdas made
// against them (Audit): action, resource and condition, as IAM would, where moto's own
// enforcement sees actions only.
package permissions

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// FileName is the generated file, beside this package's source.
const FileName = "policies.json"

//go:embed policies.json
var policiesJSON []byte

// The ${Name} placeholders of policies.json: what the CDK app fills in from its
// configuration, its pseudo parameters and its resources, and the stand-in from its own.
const (
	Partition           = "Partition"
	Region              = "Region"
	AccountID           = "AccountId" // the account the role is in
	RotatorAccountID    = "RotatorAccountId"
	ManagementAccountID = "ManagementAccountId"
	OrganizationID      = "OrganizationId"
	MemberRoleName      = "MemberRoleName"
	SenderEmail         = "SenderEmail"
	SenderDomain        = "SenderDomain"
	ReportBucket        = "ReportBucket"
	HandoffKeyARN       = "HandoffKeyArn"
	TopicKeyARN         = "TopicKeyArn"
	FailureTopicARN     = "FailureTopicArn"
	ConfigurationSet    = "ConfigurationSetName"
	GitHubAppSecretARN  = "GitHubAppSecretArn"
)

// Placeholders lists every placeholder.
var Placeholders = []string{Partition, Region, AccountID, RotatorAccountID, ManagementAccountID, OrganizationID,
	MemberRoleName, SenderEmail, SenderDomain, ReportBucket, HandoffKeyARN, TopicKeyARN, FailureTopicARN, ConfigurationSet, GitHubAppSecretARN}

// Names of the roles that are not a function's.
const (
	ManagementRole   = "management"    // lists the organization's accounts, in the management account
	TagReaderRole    = "tag-reader"    // reads one account's tags for ScanAndRotate, in the management account
	MemberRole       = "member"        // ScanAndRotate's, in every member account (StackSet) and the management account
	NotifyMemberRole = "notify-member" // NotifyUser's, beside the member role in every account
	StateMachineRole = "state-machine" // the state machine's: invokes the functions, reads and writes runs/, alerts
)

// File is policies.json.
type File struct {
	Comment string `json:"comment"`
	// Roles are the four functions' execution roles (Name is the function), the state
	// machine's role, the management and tag-reader roles and the two roles of every member
	// account.
	Roles []Role `json:"roles"`
}

// Role is one role with its trust and its permissions, as synthesized, with placeholders.
type Role struct {
	Name     string `json:"name"`
	RoleName string `json:"roleName"`
	// Account is where the role is: ${RotatorAccountId}, ${ManagementAccountId}, or
	// ${AccountId} for the member roles, which are in every account.
	Account string   `json:"account"`
	Trust   Document `json:"trust"`
	Policy  Document `json:"policy"`
}

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is an IAM policy statement. The rotator's policies use no Not* element (the
// infra tests forbid them).
type Statement struct {
	Sid       string                        `json:"Sid,omitempty"`
	Effect    string                        `json:"Effect"`
	Principal map[string]Strings            `json:"Principal,omitempty"`
	Action    Strings                       `json:"Action"`
	Resource  Strings                       `json:"Resource,omitempty"`
	Condition map[string]map[string]Strings `json:"Condition,omitempty"`
}

// Strings is a policy element that is a string or a list of strings.
type Strings []string

// UnmarshalJSON takes a string or a list of strings.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = Strings{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("policy element: want a string or a list of strings: %w", err)
	}
	*s = list
	return nil
}

// Load returns the embedded policies.json.
func Load() (*File, error) {
	var f File
	if err := json.Unmarshal(policiesJSON, &f); err != nil {
		return nil, fmt.Errorf("permissions: %s: %w", FileName, err)
	}
	return &f, nil
}

// Role returns the role named name (a function, ManagementRole, TagReaderRole, MemberRole or
// NotifyMemberRole).
func (f *File) Role(name string) (Role, error) {
	for _, r := range f.Roles {
		if r.Name == name {
			return r, nil
		}
	}
	return Role{}, fmt.Errorf("permissions: no role %q in %s", name, FileName)
}

// Bindings are the values of the placeholders.
type Bindings map[string]string

// With returns a copy of b with name set to value.
func (b Bindings) With(name, value string) Bindings {
	c := maps.Clone(b)
	c[name] = value
	return c
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)

// Fill substitutes the placeholders of s; a placeholder without a value is an error.
func (b Bindings) Fill(s string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		name := p[2 : len(p)-1]
		v, ok := b[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for ${%s} in %q", strings.Join(missing, "}, ${"), s)
	}
	return out, nil
}

// Resolve returns the role with every placeholder filled in.
func (r Role) Resolve(b Bindings) (Role, error) {
	var err error
	fill := func(s string) string {
		v, e := b.Fill(s)
		if e != nil && err == nil {
			err = fmt.Errorf("role %s: %w", r.Name, e)
		}
		return v
	}
	out := Role{Name: r.Name, RoleName: fill(r.RoleName), Account: fill(r.Account),
		Trust: r.Trust.fill(fill), Policy: r.Policy.fill(fill)}
	return out, err
}

func (d Document) fill(fill func(string) string) Document {
	out := Document{Version: d.Version}
	each := func(list Strings) Strings {
		var o Strings
		for _, s := range list {
			o = append(o, fill(s))
		}
		return o
	}
	for _, s := range d.Statement {
		st := Statement{Sid: s.Sid, Effect: s.Effect, Action: each(s.Action), Resource: each(s.Resource)}
		if s.Principal != nil {
			st.Principal = map[string]Strings{}
			for k, v := range s.Principal {
				st.Principal[k] = each(v)
			}
		}
		if s.Condition != nil {
			st.Condition = map[string]map[string]Strings{}
			for op, keys := range s.Condition {
				st.Condition[op] = map[string]Strings{}
				for k, v := range keys {
					st.Condition[op][k] = each(v)
				}
			}
		}
		out.Statement = append(out.Statement, st)
	}
	return out
}

// JSON is the document as IAM takes it.
func (d Document) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // a Document of strings always marshals
	}
	return string(b)
}

// Actions are the actions the document allows, sorted.
func (d Document) Actions() []string {
	var out []string
	for _, s := range d.Statement {
		if s.Effect == "Allow" {
			out = append(out, s.Action...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
