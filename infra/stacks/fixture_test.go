package stacks

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
)

// cdkJSON is the repository's cdk.json: the tests synthesize with its context (the
// configuration defaults and the CDK feature flags), as `cdk synth` does.
const cdkJSON = "../../cdk.json"

// repoContext returns the context of cdk.json with overrides applied (nil deletes a key).
func repoContext(t testing.TB, overrides map[string]any) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(cdkJSON)
	if err != nil {
		t.Fatalf("read %s: %v", cdkJSON, err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parse %s: %v", cdkJSON, err)
	}
	for k, v := range overrides {
		if v == nil {
			delete(file.Context, k)
		} else {
			file.Context[k] = v
		}
	}
	return file.Context
}

// testConfig is the validated cdk.json context with overrides applied.
func testConfig(t testing.TB, overrides map[string]any) Config {
	t.Helper()
	ctx := repoContext(t, overrides)
	cfg, err := LoadConfig(func(key string) any { return ctx[key] })
	if err != nil {
		t.Fatalf("config from %s: %v", cdkJSON, err)
	}
	return cfg
}

// testPaths gives the stack placeholder Lambda assets (CDK only hashes the folders)
// and the ASL fixture.
func testPaths(t testing.TB) Paths {
	t.Helper()
	dir := t.TempDir()
	for _, f := range contract.Functions {
		if err := os.MkdirAll(filepath.Join(dir, string(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, string(f), "bootstrap"), []byte("placeholder for "+string(f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Paths{LambdaAssetDir: dir, DefinitionPath: filepath.Join("..", "testdata", "rotation.asl.json")}
}

// newTestApp builds the app as main does, from cdk.json's context with overrides, into
// a temporary cloud assembly directory.
func newTestApp(t testing.TB, overrides map[string]any) (awscdk.App, *Stacks) {
	t.Helper()
	ctx := repoContext(t, overrides)
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
	cfg, err := LoadConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	stacks, err := NewApp(app, cfg, testPaths(t))
	if err != nil {
		t.Fatalf("build app: %v", err)
	}
	return app, stacks
}
