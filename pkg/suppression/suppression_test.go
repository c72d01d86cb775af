package suppression

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// fakeSES answers GetAccount with the account's reasons and GetConfigurationSet with the
// set's options (missing: NotFoundException).
type fakeSES struct {
	account []sestypes.SuppressionListReason
	sets    map[string]*sestypes.SuppressionOptions
	err     error
	calls   []string
}

var _ API = (*fakeSES)(nil)

func (f *fakeSES) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	f.calls = append(f.calls, "GetAccount")
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.GetAccountOutput{SuppressionAttributes: &sestypes.SuppressionAttributes{SuppressedReasons: f.account}}, nil
}

func (f *fakeSES) GetConfigurationSet(_ context.Context, in *sesv2.GetConfigurationSetInput, _ ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	f.calls = append(f.calls, "GetConfigurationSet")
	if f.err != nil {
		return nil, f.err
	}
	o, ok := f.sets[aws.ToString(in.ConfigurationSetName)]
	if !ok {
		return nil, &sestypes.NotFoundException{Message: aws.String("no such set")}
	}
	return &sesv2.GetConfigurationSetOutput{ConfigurationSetName: in.ConfigurationSetName, SuppressionOptions: o}, nil
}

var (
	bounce    = sestypes.SuppressionListReasonBounce
	complaint = sestypes.SuppressionListReasonComplaint
)

// TestBouncesCountOnlyWhereTheyGovernTheRotatorsMail: the configuration set's suppression
// options decide when it overrides the account's, the account's otherwise; anything without
// BOUNCE (or on a tenant's list) is a problem that names the setting and the fix.
func TestBouncesCountOnlyWhereTheyGovernTheRotatorsMail(t *testing.T) {
	tests := []struct {
		name      string
		configSet string
		account   []sestypes.SuppressionListReason
		set       *sestypes.SuppressionOptions
		want      []string // "" when bounces are suppressed; else substrings of the problem
		calls     string
	}{
		{name: "set suppresses bounces, account does not", configSet: "cs", set: &sestypes.SuppressionOptions{SuppressedReasons: []sestypes.SuppressionListReason{bounce, complaint}},
			calls: "GetConfigurationSet"},
		{name: "set overrides without BOUNCE", configSet: "cs", account: []sestypes.SuppressionListReason{bounce, complaint},
			set:  &sestypes.SuppressionOptions{SuppressedReasons: []sestypes.SuppressionListReason{complaint}},
			want: []string{"configuration set cs overrides", "without BOUNCE", "put-configuration-set-suppression-options --configuration-set-name cs"}, calls: "GetConfigurationSet"},
		{name: "set overrides with no reason", configSet: "cs", account: []sestypes.SuppressionListReason{bounce},
			set: &sestypes.SuppressionOptions{}, want: []string{"without BOUNCE"}, calls: "GetConfigurationSet"},
		{name: "set on a tenant's list", configSet: "cs", set: &sestypes.SuppressionOptions{SuppressedReasons: []sestypes.SuppressionListReason{bounce},
			SuppressionScope: sestypes.SuppressionListScopeTenant}, want: []string{"TENANT suppression list"}, calls: "GetConfigurationSet"},
		{name: "set does not override, account suppresses bounces", configSet: "cs", account: []sestypes.SuppressionListReason{bounce},
			calls: "GetConfigurationSet GetAccount"},
		{name: "set does not override, account without BOUNCE", configSet: "cs", account: []sestypes.SuppressionListReason{complaint},
			want:  []string{"does not override", "without BOUNCE", "put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT"},
			calls: "GetConfigurationSet GetAccount"},
		{name: "set missing", configSet: "gone", account: []sestypes.SuppressionListReason{bounce}, want: []string{"gone (SES_CONFIGURATION_SET) does not exist"},
			calls: "GetConfigurationSet"},
		{name: "no set, account suppresses bounces", account: []sestypes.SuppressionListReason{bounce, complaint}, calls: "GetAccount"},
		{name: "no set, account suppresses nothing", want: []string{"account's suppression settings", "reasons []", "put-account-suppression-attributes"}, calls: "GetAccount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses := &fakeSES{account: tt.account, sets: map[string]*sestypes.SuppressionOptions{}}
			if tt.set != nil || tt.name == "set does not override, account suppresses bounces" || tt.name == "set does not override, account without BOUNCE" {
				ses.sets["cs"] = tt.set
			}
			problem, err := Check(context.Background(), ses, tt.configSet)
			if err != nil {
				t.Fatal(err)
			}
			if (problem == "") != (len(tt.want) == 0) {
				t.Fatalf("problem %q, want one: %v", problem, len(tt.want) > 0)
			}
			for _, w := range tt.want {
				if !strings.Contains(problem, w) {
					t.Errorf("problem %q does not say %q", problem, w)
				}
			}
			if got := strings.Join(ses.calls, " "); got != tt.calls {
				t.Errorf("calls %q, want %q", got, tt.calls)
			}
		})
	}
}

func TestUnreadableSettingsAreAnError(t *testing.T) {
	denied := errors.New("AccessDenied")
	for _, set := range []string{"", "cs"} {
		if _, err := Check(context.Background(), &fakeSES{err: denied}, set); !errors.Is(err, denied) {
			t.Errorf("configuration set %q: err %v, want the AccessDenied", set, err)
		}
	}
}
