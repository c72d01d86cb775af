package statemachine_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// modulePath is the root module's; infra's module lies under it, so an import path of either
// module less this prefix is the package's directory from the repository's root.
const modulePath = "github.com/keyrotator/iam-access-key-rotator/"

// subject is the fixed text a message's subject begins with, and where the code builds it.
type subject struct {
	prefix string
	at     string
}

// goSource is the repository's Go code, tests left out, read as syntax: enough to find every
// place that builds an SNS message or a CloudWatch alarm and the constants its subject is
// made of, so that a new one is found without being listed anywhere.
type goSource struct {
	fset   *token.FileSet
	files  []*goFile
	consts map[string]map[string]constant // package directory → name → declaration
	names  map[string]string              // package directory → package name
}

type goFile struct {
	dir  string
	ast  *ast.File
	imps map[string]string // name in this file → package directory (this repository's) or import path
}

type constant struct {
	value ast.Expr
	file  *goFile
}

// readGoSource parses every non-test Go file under root, leaving out what is not the
// project's source (node_modules, build outputs, hidden directories, testdata).
func readGoSource(t *testing.T, root string) *goSource {
	t.Helper()
	src := &goSource{fset: token.NewFileSet(), consts: map[string]map[string]constant{}, names: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			switch {
			case p == root:
			case strings.HasPrefix(name, "."), name == "node_modules", name == "testdata", name == "cdk.out",
				name == "build", name == "out", name == "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(src.fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		src.files = append(src.files, &goFile{dir: filepath.ToSlash(rel), ast: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range src.files {
		src.names[f.dir] = f.ast.Name.Name
	}
	for _, f := range src.files {
		f.imps = map[string]string{}
		for _, imp := range f.ast.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			target, name := ip, path.Base(ip)
			if dir, ok := strings.CutPrefix(ip, modulePath); ok {
				target, name = dir, src.names[dir]
			}
			if imp.Name != nil {
				name = imp.Name.Name
			}
			f.imps[name] = target
		}
		for _, decl := range f.ast.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if src.consts[f.dir] == nil {
							src.consts[f.dir] = map[string]constant{}
						}
						src.consts[f.dir][n.Name] = constant{vs.Values[i], f}
					}
				}
			}
		}
	}
	if len(src.files) == 0 {
		t.Fatalf("no Go source under %s", root)
	}
	return src
}

// literals calls visit for every composite literal in the code whose type is one of types
// ("<import path or package directory>.<Type>"), with the function that holds it.
func (src *goSource) literals(types []string, visit func(f *goFile, fn *ast.FuncDecl, lit *ast.CompositeLit)) {
	for _, f := range src.files {
		for _, decl := range f.ast.Decls {
			fn, _ := decl.(*ast.FuncDecl)
			ast.Inspect(decl, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				var typ string
				switch t := lit.Type.(type) {
				case *ast.SelectorExpr:
					if x, ok := t.X.(*ast.Ident); ok {
						typ = f.imps[x.Name] + "." + t.Sel.Name
					}
				case *ast.Ident:
					typ = f.dir + "." + t.Name
				}
				for _, want := range types {
					if typ == want {
						visit(f, fn, lit)
					}
				}
				return true
			})
		}
	}
}

// field is the value of the field key of a keyed struct literal, nil when it is not set.
func field(lit *ast.CompositeLit, key string) ast.Expr {
	for _, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == key {
				return kv.Value
			}
		}
	}
	return nil
}

// text is the fixed text e begins with: a string constant or literal, a concatenation (as far
// as its fixed part goes), the format of an fmt.Sprintf up to its first verb, a one-argument
// conversion (aws.String, jsii.String) of any of these, or a local variable assigned once to
// one. full says the whole value is fixed. relay says e passes on another message's subject
// (x.Subject). ok is false when e is none of these.
func (src *goSource) text(f *goFile, fn *ast.FuncDecl, e ast.Expr, depth int) (s string, full, relay, ok bool) {
	if depth > 20 {
		return "", false, false, false
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, true, false, err == nil
		}
	case *ast.ParenExpr:
		return src.text(f, fn, e.X, depth+1)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			break
		}
		x, xfull, relay, ok := src.text(f, fn, e.X, depth+1)
		if !ok || relay || !xfull {
			return x, false, relay, ok
		}
		if y, yfull, _, ok := src.text(f, fn, e.Y, depth+1); ok {
			return x + y, yfull, false, true
		}
		return x, false, false, true
	case *ast.CallExpr:
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			if x, ok := sel.X.(*ast.Ident); ok && f.imps[x.Name] == "fmt" {
				format, _, _, ok := src.text(f, fn, e.Args[0], depth+1)
				before, _, _ := strings.Cut(format, "%")
				return before, false, false, ok
			}
		}
		if len(e.Args) == 1 {
			return src.text(f, fn, e.Args[0], depth+1)
		}
	case *ast.SelectorExpr:
		if e.Sel.Name == "Subject" {
			return "", false, true, true
		}
		if x, ok := e.X.(*ast.Ident); ok {
			if c, ok := src.consts[f.imps[x.Name]][e.Sel.Name]; ok {
				return src.text(c.file, nil, c.value, depth+1)
			}
		}
	case *ast.Ident:
		if c, ok := src.consts[f.dir][e.Name]; ok {
			return src.text(c.file, nil, c.value, depth+1)
		}
		if fn == nil || fn.Body == nil {
			break
		}
		var values []ast.Expr
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == e.Name && len(n.Rhs) == len(n.Lhs) {
						values = append(values, n.Rhs[i])
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if id.Name == e.Name && i < len(n.Values) {
						values = append(values, n.Values[i])
					}
				}
			}
			return true
		})
		if len(values) == 1 {
			return src.text(f, fn, values[0], depth+1)
		}
	}
	return "", false, false, false
}

// snsSubjects is the subject, or its fixed beginning, of every SNS message the Go code
// builds: each sns.PublishInput, sns.PublishBatchRequestEntry and alert.Message (the failure
// topic's messages of CleanupReport) with its Subject. A literal that relays another
// message's subject (alert.Message.Input, the local runner's sns:publish) adds none; one
// whose subject has no fixed beginning, or that has none, is an error: docs/operations.md
// could not say what it means.
func (src *goSource) snsSubjects(t *testing.T) []subject {
	t.Helper()
	var out []subject
	types := []string{"github.com/aws/aws-sdk-go-v2/service/sns.PublishInput",
		"github.com/aws/aws-sdk-go-v2/service/sns/types.PublishBatchRequestEntry",
		"pkg/alert.Message"}
	src.literals(types, func(f *goFile, fn *ast.FuncDecl, lit *ast.CompositeLit) {
		at := src.fset.Position(lit.Pos()).String()
		e := field(lit, "Subject")
		if e == nil {
			t.Errorf("%s: an SNS message without a Subject (email subscribers would read \"AWS Notification Message\"): give it one and a row in docs/operations.md's failure table", at)
			return
		}
		s, _, relay, ok := src.text(f, fn, e, 0)
		switch {
		case relay:
		case !ok || s == "":
			t.Errorf("%s: the subject of this SNS message has no fixed beginning this test can read (a string constant, or one followed by what varies): docs/operations.md's failure table could not list it", at)
		default:
			out = append(out, subject{s, at})
		}
	})
	return out
}

// alarmSubjects is the subject of the messages of every CloudWatch alarm the CDK app makes
// (awscloudwatch.AlarmProps and CreateAlarmOptions): CloudWatch's `ALARM: "<name>" in
// <region>`, so each alarm needs a fixed name.
func (src *goSource) alarmSubjects(t *testing.T) []subject {
	t.Helper()
	var out []subject
	types := []string{"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch.AlarmProps",
		"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch.CreateAlarmOptions"}
	src.literals(types, func(f *goFile, fn *ast.FuncDecl, lit *ast.CompositeLit) {
		at := src.fset.Position(lit.Pos()).String()
		e := field(lit, "AlarmName")
		if e == nil {
			t.Errorf("%s: an alarm without an AlarmName: its messages' subject (ALARM: \"<name>\" ...) cannot be listed in docs/operations.md", at)
			return
		}
		name, full, _, ok := src.text(f, fn, e, 0)
		if !ok || !full {
			t.Errorf("%s: the alarm's name is not a constant this test can read", at)
			return
		}
		out = append(out, subject{`ALARM: "` + name + `"`, at})
	})
	return out
}
