package contract

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

func TestPlaceholders(t *testing.T) {
	asl := []byte(`{"A":"${ReportBucketName}","B":${AccountConcurrency},"C":"${ReportBucketName}/x","D":"$.path"}`)
	if got, want := Placeholders(asl), []string{"AccountConcurrency", "ReportBucketName"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Placeholders = %v, want %v", got, want)
	}
}

func TestCheckPlaceholders(t *testing.T) {
	tests := []struct {
		name, asl, wantErr string
	}{
		{"all known", `{"F":"${ListAccountsFunctionArn}","M":${NotifyConcurrency}}`, ""},
		{"none", `{"F":"$.x"}`, ""},
		{"unknown", `{"F":"${ListAccountsFunction}"}`, "placeholder ${ListAccountsFunction} is not substituted"},
		{"prose in a Comment", `{"Comment":"${...} are substituted","F":"${NotifyUserFunctionArn}"}`, "placeholder ${...} is not substituted"},
		{"unknown with digits", `{"F":"${Function_2Arn}"}`, "placeholder ${Function_2Arn} is not substituted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPlaceholders([]byte(tt.asl))
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CheckPlaceholders = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefinitionPlaceholdersSortedAndDistinct(t *testing.T) {
	if !sort.StringsAreSorted(DefinitionPlaceholders) || len(slices.Compact(slices.Clone(DefinitionPlaceholders))) != len(DefinitionPlaceholders) {
		t.Errorf("DefinitionPlaceholders %v: want sorted and distinct", DefinitionPlaceholders)
	}
	if len(DefinitionPlaceholders) != 11 {
		t.Errorf("DefinitionPlaceholders has %d names, want the 11 of the contract", len(DefinitionPlaceholders))
	}
}

func TestFunctionEnv(t *testing.T) {
	all := config.Variables
	used := map[EnvVar]bool{}
	for _, f := range Functions {
		vars, ok := FunctionEnv[f]
		if !ok {
			t.Errorf("FunctionEnv has no entry for %s", f)
		}
		for _, v := range vars {
			if !slices.Contains(all, v) {
				t.Errorf("%s gets unknown variable %s", f, v)
			}
			used[v] = true
		}
		if len(slices.Compact(slices.Clone(vars))) != len(vars) {
			t.Errorf("%s lists a variable twice: %v", f, vars)
		}
	}
	for _, v := range all {
		if !used[v] {
			t.Errorf("no function reads %s", v)
		}
	}
	if len(FunctionEnv) != len(Functions) {
		t.Errorf("FunctionEnv has %d entries for %d functions", len(FunctionEnv), len(Functions))
	}
}

func TestFunctionArnPlaceholders(t *testing.T) {
	if len(Functions) != 4 {
		t.Errorf("Functions = %v, want the four Lambdas", Functions)
	}
	for _, f := range Functions {
		if p := f.ArnPlaceholder(); !slices.Contains(DefinitionPlaceholders, p) {
			t.Errorf("%s: ARN placeholder %q is not substituted by the stack", f, p)
		}
	}
}

func TestFunctionName(t *testing.T) {
	if got := ScanAndRotate.FunctionName(); got != "iam-access-key-rotator-scan-and-rotate" {
		t.Errorf("FunctionName = %q", got)
	}
}
