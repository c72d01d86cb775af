package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// built is a synthesized app: its stacks and their templates as Go values.
type built struct {
	app       awscdk.App
	stacks    *Stacks
	templates map[string]map[string]any // by stack ID
}

var (
	defaultOnce  sync.Once
	defaultBuilt *built
	tempDirs     []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range tempDirs {
		os.RemoveAll(dir)
	}
	jsii.Close()
	os.Exit(code)
}

// build synthesizes the app from cdk.json's context with overrides.
func build(t testing.TB, overrides map[string]any) *built {
	t.Helper()
	app, stacks := newTestApp(t, overrides)
	b := &built{app: app, stacks: stacks, templates: map[string]map[string]any{}}
	for id, stack := range map[string]awscdk.Stack{
		RotatorStackID:        stacks.Rotator.Stack,
		ManagementRoleStackID: stacks.ManagementRole,
		MemberRoleStackSetID:  stacks.MemberRoles,
	} {
		b.templates[id] = *assertions.Template_FromStack(stack, nil).ToJSON()
	}
	return b
}

// defaultApp is the app of cdk.json's context, built once for all tests that only read it.
func defaultApp(t testing.TB) *built {
	t.Helper()
	defaultOnce.Do(func() {
		dir, err := os.MkdirTemp("", "infra-test-")
		if err != nil {
			t.Fatal(err)
		}
		tempDirs = append(tempDirs, dir)
		defaultBuilt = build(&longLivedTB{TB: t, dir: dir}, nil)
	})
	if defaultBuilt == nil {
		t.Fatal("the default app failed to build (see the first failing test)")
	}
	return defaultBuilt
}

// longLivedTB hands out a temp dir that outlives the test that first builds the
// shared app (t.TempDir would be removed when that test ends).
type longLivedTB struct {
	testing.TB
	dir string
	n   int
}

func (l *longLivedTB) TempDir() string {
	l.n++
	dir := fmt.Sprintf("%s/%d", l.dir, l.n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.Fatal(err)
	}
	return dir
}

// resources returns the template's resources of a type, by logical ID.
func resources(template map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range template["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// only returns the one resource of a type, failing the test if there is not exactly one.
func only(t testing.TB, template map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resources(template, typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, got %d", typ, len(rs))
	}
	for id, r := range rs {
		return id, props(r)
	}
	panic("unreachable")
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// logicalHash is the 8-hex-digit suffix CDK adds to logical IDs.
var logicalHash = regexp.MustCompile(`[0-9A-F]{8}$`)

// resolve renders a CloudFormation value as readable text: Fn::Join and Fn::Sub are
// flattened, AWS::Partition is "aws", other pseudo parameters and references appear as
// <AWS::Region> or <ReportBucket.Arn> (logical IDs without their hash).
func resolve(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = resolve(p)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok {
			parts := j[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				out[i] = resolve(p)
			}
			return strings.Join(out, j[0].(string))
		}
		if s, ok := x["Fn::Sub"].(string); ok {
			return strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::AccountId}", "<AWS::AccountId>", "${AWS::Region}", "<AWS::Region>").Replace(s)
		}
		if ref, ok := x["Ref"].(string); ok {
			if ref == "AWS::Partition" {
				return "aws"
			}
			return "<" + logicalHash.ReplaceAllString(ref, "") + ">"
		}
		if f, ok := x["Fn::FindInMap"].([]any); ok && len(f) == 3 {
			return "<" + resolve(f[0]) + "[" + resolve(f[1]) + "]." + resolve(f[2]) + ">"
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok {
			return "<" + logicalHash.ReplaceAllString(g[0].(string), "") + "." + g[1].(string) + ">"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// strs returns a policy element (a string or a list of strings) as a list.
func strs(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, item := range x {
			out = append(out, resolve(item))
		}
		return out
	default:
		return []string{resolve(x)}
	}
}

// statements returns a policy document's statements.
func statements(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	var out []map[string]any
	switch s := d["Statement"].(type) {
	case []any:
		for _, st := range s {
			out = append(out, st.(map[string]any))
		}
	case map[string]any:
		out = append(out, s)
	}
	return out
}

// permissions maps each allowed action of the statements to its sorted resources.
func permissions(stmts []map[string]any) map[string][]string {
	out := map[string][]string{}
	for _, s := range stmts {
		if s["Effect"] != "Allow" {
			continue
		}
		for _, a := range strs(s["Action"]) {
			out[a] = append(out[a], strs(s["Resource"])...)
			sort.Strings(out[a])
		}
	}
	return out
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// mustJSON is compact JSON without HTML escaping, for comparing with literals.
func mustJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
