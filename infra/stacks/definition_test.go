package stacks

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
)

func TestFixtureUsesEveryPlaceholder(t *testing.T) {
	raw, err := os.ReadFile("../testdata/rotation.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := contract.Placeholders(raw); !reflect.DeepEqual(got, contract.DefinitionPlaceholders) {
		t.Errorf("fixture placeholders %v, want every substituted one %v", got, contract.DefinitionPlaceholders)
	}
	if _, err := loadDefinition("../testdata/rotation.asl.json"); err != nil {
		t.Errorf("fixture: %v", err)
	}
}

func TestLoadDefinitionRejects(t *testing.T) {
	tests := []struct {
		name, asl, want string
	}{
		{"unknown placeholder", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${OtherFunctionArn}","End":true}}}`,
			"placeholder ${OtherFunctionArn} is not substituted by the stack"},
		{"not JSON", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}`, "not valid JSON after substitution"},
		{"bare placeholder in a string position", `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":${ReportBucketName}x,"End":true}}}`,
			"not valid JSON after substitution"},
		{"StartAt names no state", `{"StartAt":"B","States":{"A":{"Type":"Pass","End":true}}}`, `StartAt "B" names no state`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rotation.asl.json")
			if err := os.WriteFile(path, []byte(tt.asl), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadDefinition(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
	if _, err := loadDefinition(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error %v, want one wrapping fs.ErrNotExist", err)
	}
}

// The stack must be able to deploy the repository's definition, not only the fixture.
func TestRepositoryDefinition(t *testing.T) {
	if _, err := loadDefinition("../../statemachine/rotation.asl.json"); err != nil {
		t.Error(err)
	}
}

func TestNewAppRejectsMissingInputs(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, p *Paths)
		want    string
	}{
		{"a function without bootstrap", func(t *testing.T, p *Paths) {
			if err := os.Remove(filepath.Join(p.LambdaAssetDir, "notify-user", "bootstrap")); err != nil {
				t.Fatal(err)
			}
		}, "lambda asset of notify-user"},
		{"no definition file", func(t *testing.T, p *Paths) {
			p.DefinitionPath = filepath.Join(t.TempDir(), "rotation.asl.json")
		}, "read state machine definition"},
		{"a definition with an unknown placeholder", func(t *testing.T, p *Paths) {
			p.DefinitionPath = filepath.Join(t.TempDir(), "rotation.asl.json")
			asl := `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${Unknown}","End":true}}}`
			if err := os.WriteFile(p.DefinitionPath, []byte(asl), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "placeholder ${Unknown} is not substituted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths := testPaths(t)
			tt.breakIt(t, &paths)
			ctx := repoContext(t, nil)
			app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())})
			_, err := NewApp(app, testConfig(t, nil), paths)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
