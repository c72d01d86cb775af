package permissions

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
)

// FunctionCall is a call one of the Lambdas made.
type FunctionCall struct {
	Function string `json:"function"`
	calllog.Call
}

// Audit matches the calls of the local Lambdas against the synthesized policies, run after
// run, and keeps what it found: calls a policy does not allow, and the actions each role was
// seen using.
type Audit struct {
	file *File

	mu       sync.Mutex
	used     map[string]map[string]bool   // role → action
	denied   map[string]int               // finding → how many calls
	refused  map[string]int               // role and action the stand-in denied, as the policies do → how many calls
	keys     map[string]string            // secret ARN → the KMS key it was created with, or described with
	tags     map[string]map[string]string // secret ARN → its rotator tags, as last read
	sessions map[string]string            // assumed-role session ARN → its session policy
}

// NewAudit starts an audit of the policies of f.
func NewAudit(f *File) *Audit {
	a := &Audit{file: f, used: map[string]map[string]bool{}, denied: map[string]int{}, refused: map[string]int{},
		keys: map[string]string{}, tags: map[string]map[string]string{}, sessions: map[string]string{}}
	for _, r := range f.Roles {
		a.used[r.Name] = map[string]bool{}
	}
	return a
}

// Add checks the calls of one run on a stand-in whose placeholders b fills: the functions'
// roles are in b's RotatorAccountId, the member roles in every account.
func (a *Audit) Add(b Bindings, calls []FunctionCall) {
	a.mu.Lock()
	defer a.mu.Unlock()
	roles := map[string]Role{} // by account and role name, resolved
	var inEveryAccount []Role  // the member roles, resolved per account below
	for _, r := range a.file.Roles {
		account, err := b.Fill(r.Account)
		if err != nil {
			inEveryAccount = append(inEveryAccount, r)
			continue
		}
		if role, err := r.Resolve(b.With(AccountID, account)); err == nil {
			roles[account+"/"+role.RoleName] = role
		}
	}
	// member finds a role that is in every account, by account and name, resolved once.
	members := map[string]Role{}
	member := func(account, roleName string) (Role, bool) {
		if role, ok := members[account+"/"+roleName]; ok {
			return role, true
		}
		for _, r := range inEveryAccount {
			if role, err := r.Resolve(b.With(AccountID, account)); err == nil && role.RoleName == roleName {
				members[account+"/"+roleName] = role
				return role, true
			}
		}
		return Role{}, false
	}
	for _, c := range calls {
		a.check(b, roles, member, c)
	}
}

// assumedRole splits arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION.
func assumedRole(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return "", "", false
	}
	name, _, _ = strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return parts[4], name, true
}

func (a *Audit) check(b Bindings, roles map[string]Role, member func(account, roleName string) (Role, bool), c FunctionCall) {
	finding := func(format string, args ...any) {
		a.denied[fmt.Sprintf("%s: %s %s: ", c.Function, c.Service, c.Operation)+fmt.Sprintf(format, args...)]++
	}
	// The caller: the function's own role, or a role it assumed.
	var role Role
	account := b[RotatorAccountID]
	if c.Principal == "" {
		for _, r := range roles {
			if r.Name == c.Function {
				role = r
			}
		}
	} else {
		var name string
		var ok bool
		if account, name, ok = assumedRole(c.Principal); !ok {
			finding("principal %s is not an assumed role", c.Principal)
			return
		}
		role = roles[account+"/"+name]
		if m, ok := member(account, name); ok {
			role = m
		}
	}
	if role.Name == "" {
		finding("no role in %s for principal %q", FileName, c.Principal)
		return
	}
	op, ok := operations[c.Service+" "+c.Operation]
	if !ok {
		finding("no authorization model for this operation: add it to permissions.operations")
		return
	}
	w := where{account: account, partition: b[Partition], organization: b[OrganizationID], keyOf: func(arn string) string {
		if arn == b[FailureTopicARN] {
			return b[TopicKeyARN]
		}
		return a.keys[arn]
	}, tagsOf: func(arn string) map[string]string {
		if arn == c.Params["ARN"] && c.ResourceTags != nil {
			return c.ResourceTags // the call's own output shows them
		}
		return a.tags[arn]
	}}
	session := a.sessions[c.Principal]
	if strings.HasPrefix(c.Error, "AccessDenied") && a.refusal(role, session, op(c.Call, w), finding) {
		return
	}
	for _, r := range op(c.Call, w) {
		allowed, err := role.Policy.Allows(r)
		switch {
		case err != nil:
			finding("%s: %v", role.Name, err)
		case !allowed:
			finding("the %s role does not allow %s", role.Name, r)
		default:
			a.used[role.Name][r.Action] = true
		}
		if session != "" {
			var doc Document
			if err := unmarshalPolicy(session, &doc); err != nil {
				finding("session policy of %s: %v", c.Principal, err)
			} else if ok, err := doc.Allows(r); err != nil || !ok {
				finding("the session policy of %s does not allow %s (%v)", c.Principal, r, err)
			}
		}
	}
	switch c.Service + " " + c.Operation {
	case "Secrets Manager DescribeSecret":
		if c.Error == "" {
			a.tags[c.Params["ARN"]] = c.ResourceTags
			if c.Params["KmsKeyId"] != "" { // an application's secret under its own key
				a.keys[c.Params["ARN"]] = c.Params["KmsKeyId"]
			}
		}
	case "SSM ListTagsForResource":
		if c.Error == "" {
			a.tags[parameterARN(c.Call, w)] = c.ResourceTags
		}
	case "Secrets Manager CreateSecret":
		if c.Error == "" && c.Params["KmsKeyId"] != "" {
			a.keys[c.Params["ARN"]] = c.Params["KmsKeyId"]
		}
	case "STS AssumeRole":
		if c.Error == "" {
			a.checkTrust(b, role, roles, member, c, finding)
		}
	}
}

// refusal checks a call the stand-in denied, and reports whether the caller's policies deny
// it too: then the first request they do not allow is kept as the refusal. A denied call they
// allow is a finding (the stand-in and the policies disagree), except an AssumeRole: the
// role assumed may refuse it (an account without the member role), which is checked on the
// calls that succeed.
func (a *Audit) refusal(role Role, session string, requests []Request, finding func(string, ...any)) bool {
	for _, r := range requests {
		allowed, err := role.Policy.Allows(r)
		if err == nil && allowed && session != "" {
			var doc Document
			if err = unmarshalPolicy(session, &doc); err == nil {
				allowed, err = doc.Allows(r)
			}
		}
		switch {
		case err != nil:
			finding("%s: %v", role.Name, err)
			return true
		case !allowed:
			a.refused[role.Name+" "+r.Action]++
			return true
		}
	}
	if !slices.ContainsFunc(requests, func(r Request) bool { return r.Action == "sts:AssumeRole" }) {
		finding("the stand-in denied it, which the %s role allows", role.Name)
	}
	return false
}

// checkTrust checks that the assumed role trusts the caller, and keeps the session policy.
func (a *Audit) checkTrust(b Bindings, caller Role, roles map[string]Role, member func(account, roleName string) (Role, bool), c FunctionCall, finding func(string, ...any)) {
	target := c.Params["RoleArn"]
	account := accountOf(target)
	name := target[strings.LastIndex(target, "/")+1:]
	role, ok := roles[account+"/"+name]
	if m, found := member(account, name); found {
		role, ok = m, true
	}
	if !ok {
		finding("assumed %s, which is none of the roles of %s", target, FileName)
		return
	}
	callerAccount, err := b.Fill(caller.Account)
	if err != nil {
		callerAccount = accountOf(c.Principal)
	}
	principal := fmt.Sprintf("arn:%s:iam::%s:role/%s", b[Partition], callerAccount, caller.RoleName)
	r := Request{Action: "sts:AssumeRole", Resource: target, Principal: principal,
		Context: map[string][]string{"aws:PrincipalOrgID": {b[OrganizationID]}}}
	if ok, err := role.Trust.Allows(r); err != nil || !ok {
		finding("the trust policy of the %s role does not let %s assume it (%v)", role.Name, principal, err)
	}
	if p := c.Params["Policy"]; p != "" {
		a.sessions[fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", b[Partition], account, name, c.Params["RoleSessionName"])] = p
	}
}

// Unreachable names actions a role is granted that the e2e suite cannot make the code call,
// each with the reason; they are not reported unused.
type Unreachable map[string]string

// Refusals names the actions the code is denied by design and reads the denial of, each
// with the reason: a call the stand-in denied, as the policies do, is a finding unless its
// action is listed here.
type Refusals map[string]string

// Findings are the audit's result: each call a policy did not allow (with how many calls),
// and each granted action no call used, except the unreachable ones; an unreachable action
// that was used is a finding too (the list must not outlive its reason). A call that AWS
// would deny and the stand-in did deny is a finding unless its action is one of refusals,
// and each of refusals must have been seen denied.
func (a *Audit) Findings(unreachable Unreachable, refusals Refusals) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, f := range slices.Sorted(maps.Keys(a.denied)) {
		out = append(out, fmt.Sprintf("not allowed (%d calls): %s", a.denied[f], f))
	}
	seen := map[string]bool{}
	for _, f := range slices.Sorted(maps.Keys(a.refused)) {
		role, action, _ := strings.Cut(f, " ")
		if seen[action] = true; refusals[action] == "" {
			out = append(out, fmt.Sprintf("refused (%d calls): the %s role was denied %s, which no code expects: fix the call, or list it in the refusals with why", a.refused[f], role, action))
		}
	}
	for _, action := range slices.Sorted(maps.Keys(refusals)) {
		if !seen[action] {
			out = append(out, fmt.Sprintf("never refused: %s is listed as refused by design (%s), and no call was denied it", action, refusals[action]))
		}
	}
	for _, r := range a.file.Roles {
		for _, action := range r.Policy.Actions() {
			_, excused := unreachable[action]
			switch used := a.used[r.Name][action]; {
			case !used && !excused:
				out = append(out, fmt.Sprintf("unused: the %s role grants %s, which no call of the Lambdas or the state machine used", r.Name, action))
			case used && excused:
				out = append(out, fmt.Sprintf("reachable: the %s role used %s, which is listed as unreachable (%s)", r.Name, action, unreachable[action]))
			}
		}
	}
	return out
}

func unmarshalPolicy(s string, doc *Document) error {
	if err := json.Unmarshal([]byte(s), doc); err != nil {
		return fmt.Errorf("policy document: %w", err)
	}
	return nil
}
