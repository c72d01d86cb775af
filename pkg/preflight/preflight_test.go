package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
)

// fakeSES answers GetAccount with account (or accountErr) and GetEmailIdentity from
// identities (absent: NotFoundException).
type fakeSES struct {
	account    sesv2.GetAccountOutput
	accountErr error
	identities map[string]sesv2.GetEmailIdentityOutput
	reads      int
}

func (f *fakeSES) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	f.reads++
	if f.accountErr != nil {
		return nil, f.accountErr
	}
	return &f.account, nil
}

func (f *fakeSES) GetEmailIdentity(_ context.Context, in *sesv2.GetEmailIdentityInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	if out, ok := f.identities[aws.ToString(in.EmailIdentity)]; ok {
		return &out, nil
	}
	return nil, &sestypes.NotFoundException{Message: aws.String("not found")}
}

func production() sesv2.GetAccountOutput {
	return sesv2.GetAccountOutput{ProductionAccessEnabled: true, SendingEnabled: true,
		SendQuota: &sestypes.SendQuota{Max24HourSend: 50000, MaxSendRate: 14}}
}

func verdicts(results []Result) map[string]Verdict {
	out := map[string]Verdict{}
	for _, r := range results {
		out[r.Check] = r.Verdict
	}
	return out
}

func TestSESChecks(t *testing.T) {
	paused := production()
	paused.SendingEnabled, paused.EnforcementStatus = false, aws.String("SHUTDOWN")
	verified := map[string]sesv2.GetEmailIdentityOutput{"example.com": {VerifiedForSendingStatus: true, VerificationStatus: sestypes.VerificationStatusSuccess}}
	tests := []struct {
		name  string
		ses   fakeSES
		users int
		want  map[string]Verdict
	}{
		{"ready, the domain verified", fakeSES{account: production(), identities: verified}, 1000,
			map[string]Verdict{"SES production access": Pass, "SES sending enabled": Pass, "SES sender verified": Pass, "SES daily quota": Pass}},
		{"sending paused", fakeSES{account: paused, identities: verified}, 1000,
			map[string]Verdict{"SES production access": Pass, "SES sending enabled": Fail, "SES sender verified": Pass, "SES daily quota": Pass}},
		{"identity pending", fakeSES{account: production(), identities: map[string]sesv2.GetEmailIdentityOutput{
			"rotator@example.com": {VerificationStatus: sestypes.VerificationStatusPending}}}, 1000,
			map[string]Verdict{"SES production access": Pass, "SES sending enabled": Pass, "SES sender verified": Fail, "SES daily quota": Pass}},
		{"users unknown", fakeSES{account: production(), identities: verified}, 0,
			map[string]Verdict{"SES production access": Pass, "SES sending enabled": Pass, "SES sender verified": Pass, "SES daily quota": CannotTell}},
		{"GetAccount denied", fakeSES{accountErr: errors.New("AccessDeniedException"), identities: verified}, 1000,
			map[string]Verdict{"SES production access": CannotTell, "SES sending enabled": CannotTell, "SES sender verified": Pass, "SES daily quota": CannotTell}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := Run(context.Background(), SES(&tt.ses, "rotator@example.com", tt.users))
			if got := verdicts(results); !maps.Equal(got, tt.want) {
				t.Errorf("verdicts %v, want %v", got, tt.want)
			}
			if tt.ses.reads != 1 {
				t.Errorf("GetAccount read %d times, want once for all the checks", tt.ses.reads)
			}
			for _, r := range results {
				if r.Verdict != Pass && r.Fix == "" {
					t.Errorf("%s is %s without a fix", r.Check, r.Verdict)
				}
			}
		})
	}
}

type fakeOrg struct {
	feature  orgtypes.OrganizationFeatureSet
	services []string
	admins   []string
}

func (f *fakeOrg) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	return &organizations.DescribeOrganizationOutput{Organization: &orgtypes.Organization{FeatureSet: f.feature}}, nil
}

func (f *fakeOrg) ListAWSServiceAccessForOrganization(context.Context, *organizations.ListAWSServiceAccessForOrganizationInput, ...func(*organizations.Options)) (*organizations.ListAWSServiceAccessForOrganizationOutput, error) {
	out := &organizations.ListAWSServiceAccessForOrganizationOutput{}
	for _, s := range f.services {
		out.EnabledServicePrincipals = append(out.EnabledServicePrincipals, orgtypes.EnabledServicePrincipal{ServicePrincipal: aws.String(s)})
	}
	return out, nil
}

func (f *fakeOrg) ListDelegatedAdministrators(context.Context, *organizations.ListDelegatedAdministratorsInput, ...func(*organizations.Options)) (*organizations.ListDelegatedAdministratorsOutput, error) {
	out := &organizations.ListDelegatedAdministratorsOutput{}
	for _, id := range f.admins {
		out.DelegatedAdministrators = append(out.DelegatedAdministrators, orgtypes.DelegatedAdministrator{Id: aws.String(id)})
	}
	return out, nil
}

func TestOrganizationChecks(t *testing.T) {
	all, billing := orgtypes.OrganizationFeatureSetAll, orgtypes.OrganizationFeatureSetConsolidatedBilling
	tests := []struct {
		name          string
		org           fakeOrg
		stackSetAdmin string
		want          map[string]Verdict
	}{
		{"ready", fakeOrg{feature: all, services: []string{"sso.amazonaws.com", StackSetsPrincipal}}, "",
			map[string]Verdict{"Organizations all features": Pass, "StackSets trusted access": Pass}},
		{"consolidated billing only", fakeOrg{feature: billing}, "",
			map[string]Verdict{"Organizations all features": Fail, "StackSets trusted access": Fail}},
		{"delegated administrator registered", fakeOrg{feature: all, services: []string{StackSetsPrincipal}, admins: []string{"222222222222"}}, "222222222222",
			map[string]Verdict{"Organizations all features": Pass, "StackSets trusted access": Pass, "StackSets delegated administrator": Pass}},
		{"delegated administrator missing", fakeOrg{feature: all, services: []string{StackSetsPrincipal}, admins: []string{"333333333333"}}, "222222222222",
			map[string]Verdict{"Organizations all features": Pass, "StackSets trusted access": Pass, "StackSets delegated administrator": Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdicts(Run(context.Background(), Organization(&tt.org, tt.stackSetAdmin))); !maps.Equal(got, tt.want) {
				t.Errorf("verdicts %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTextAndJSONSayTheSame(t *testing.T) {
	results := []Result{pass("a", "fine"), fail("b", "broken", "do this"), cannotTell("c", errors.New("denied"), "grant that")}
	var text, js bytes.Buffer
	if err := WriteText(&text, results); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pass        a", "fail        b", "fix: do this", "cannot-tell c", "3 checks: 1 pass, 1 fail, 1 cannot tell"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{`"failed": true`, `"verdict": "cannot-tell"`, `"fix": "grant that"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %q:\n%s", want, js.String())
		}
	}
	if Failed(results[:1]) || Failed([]Result{results[2]}) || !Failed(results) {
		t.Error("Failed: only a failed check fails the run")
	}
}

type fakeStackSet struct {
	instances []cfntypes.StackInstanceSummary
	notFound  bool
	callAs    cfntypes.CallAs
}

func (f *fakeStackSet) ListStackInstances(_ context.Context, in *cloudformation.ListStackInstancesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackInstancesOutput, error) {
	f.callAs = in.CallAs
	if f.notFound {
		return nil, &cfntypes.StackSetNotFoundException{Message: aws.String("not found")}
	}
	return &cloudformation.ListStackInstancesOutput{Summaries: f.instances}, nil
}

type fakeManagement struct{}

func (fakeManagement) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	return &organizations.DescribeOrganizationOutput{Organization: &orgtypes.Organization{MasterAccountId: aws.String("111111111111")}}, nil
}

// selection is a Selection that reads p (or fails with err).
func selection(p org.Preview, err error) *Selection {
	return NewSelection(func(context.Context) (org.Preview, error) { return p, err })
}

func instance(account string, status cfntypes.StackInstanceStatus, detailed cfntypes.StackInstanceDetailedStatus, reason string) cfntypes.StackInstanceSummary {
	return cfntypes.StackInstanceSummary{Account: aws.String(account), Status: status, StatusReason: aws.String(reason),
		StackInstanceStatus: &cfntypes.StackInstanceComprehensiveStatus{DetailedStatus: detailed}}
}

// TestMemberRolesNamesTheAccountsTheRotatorCannotEnter: the management account (never a
// service-managed StackSet's target) needs no instance, nor do the accounts a run does not
// process; every other one without a succeeded instance is named with its reason.
func TestMemberRolesNamesTheAccountsTheRotatorCannotEnter(t *testing.T) {
	processed := org.Preview{Selected: []string{"111111111111", "222222222222", "333333333333", "444444444444"}}
	ok := instance("222222222222", cfntypes.StackInstanceStatusCurrent, cfntypes.StackInstanceDetailedStatusSucceeded, "")
	taken := instance("333333333333", cfntypes.StackInstanceStatusOutdated, cfntypes.StackInstanceDetailedStatusFailed,
		"ResourceLogicalId:MemberRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:provisioning-admin already exists.")
	takenInOU := taken
	takenInOU.OrganizationalUnitId, takenInOU.Region = aws.String("ou-ab12-workload1"), aws.String("eu-west-1")
	tests := []struct {
		name      string
		stackSet  fakeStackSet
		selection org.Preview
		delegated bool
		want      Verdict
		says      []string
	}{
		{"all there", fakeStackSet{instances: []cfntypes.StackInstanceSummary{ok}}, org.Preview{Selected: []string{"111111111111", "222222222222"}}, false, Pass,
			[]string{"all 1 member accounts a run processes"}},
		{"role taken, one missing", fakeStackSet{instances: []cfntypes.StackInstanceSummary{ok, taken}}, processed, true, Fail,
			[]string{"333333333333 (OUTDATED: ResourceLogicalId:MemberRole", "1 accounts without an instance: 444444444444", "delete or rename it",
				"--deployment-targets OrganizationalUnitIds=<the OU of each account named> --regions <the StackSet's regions> --call-as DELEGATED_ADMIN"}},
		{"role taken, its OU and region known", fakeStackSet{instances: []cfntypes.StackInstanceSummary{ok, takenInOU}}, org.Preview{Selected: []string{"222222222222", "333333333333"}}, false, Fail,
			[]string{"delete or rename it in that account, or choose another memberRoleName; read each failed instance's reason",
				"--deployment-targets OrganizationalUnitIds=ou-ab12-workload1 --regions eu-west-1"}},
		{"not deployed yet", fakeStackSet{notFound: true}, processed, false, CannotTell, []string{"does not exist yet", "npx cdk deploy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MemberRoles(&tt.stackSet, fakeManagement{}, selection(tt.selection, nil), "iam-access-key-rotator-member-role", "provisioning-admin", tt.delegated)(context.Background())
			if r.Verdict != tt.want {
				t.Fatalf("verdict %s (%s), want %s", r.Verdict, r.Detail, tt.want)
			}
			for _, want := range tt.says {
				if !strings.Contains(r.Detail+" fix: "+r.Fix, want) {
					t.Errorf("does not say %q: %s fix: %s", want, r.Detail, r.Fix)
				}
			}
			if wantCallAs := map[bool]cfntypes.CallAs{false: cfntypes.CallAsSelf, true: cfntypes.CallAsDelegatedAdmin}[tt.delegated]; tt.stackSet.callAs != wantCallAs {
				t.Errorf("CallAs %s, want %s", tt.stackSet.callAs, wantCallAs)
			}
		})
	}
}

// TestExclusionsFailsOnSettingsThatCannotBeMeant: a typo in excludeAccounts, an OU that does
// not exist, or exclusions leaving nothing to rotate fail; otherwise the check says what each
// setting excludes.
func TestExclusionsFailsOnSettingsThatCannotBeMeant(t *testing.T) {
	active := []string{"111111111111", "222222222222", "333333333333"}
	for _, tt := range []struct {
		name string
		p    org.Preview
		err  error
		want Verdict
		says string
	}{
		{"as meant", org.Preview{Active: active, Selected: active[:1], Excluded: map[string][]string{"EXCLUDE_ACCOUNTS": {"222222222222"}, "EXCLUDE_ACCOUNT_TAG": {"333333333333"}}},
			nil, Pass, "a run processes 1 of the 3 ACTIVE accounts; excluded: 1 by excludeAccounts (222222222222); 1 by excludeAccountTag (333333333333)"},
		{"a typo", org.Preview{Active: active, Selected: active, NotActive: []string{"22222222222"}}, nil, Fail, "lists 22222222222, no ACTIVE account"},
		{"nothing left", org.Preview{Active: active, Excluded: map[string][]string{"EXCLUDE_OUS": active}}, nil, Fail, "every one of the 3 ACTIVE accounts is excluded"},
		{"no such OU", org.Preview{}, fmt.Errorf("list the accounts of OU ou-x (EXCLUDE_OUS): %w", &orgtypes.ParentNotFoundException{Message: aws.String("no parent")}), Fail, "ou-x"},
		{"denied", org.Preview{}, errors.New("AccessDenied"), CannotTell, "AccessDenied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := selection(tt.p, tt.err).Exclusions()(context.Background())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.says) {
				t.Errorf("%s: %s, want %s saying %q", r.Verdict, r.Detail, tt.want, tt.says)
			}
		})
	}
}

type fakeExecutions struct{ executions []sfntypes.ExecutionListItem }

func (f fakeExecutions) ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	return &sfn.ListExecutionsOutput{Executions: f.executions}, nil
}

// TestRecentRunsReadsTheLastWeek: a failure older than 7 days is history, not a finding.
func TestRecentRunsReadsTheLastWeek(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	run := func(name string, daysAgo int, status sfntypes.ExecutionStatus) sfntypes.ExecutionListItem {
		return sfntypes.ExecutionListItem{Name: aws.String(name), Status: status, StartDate: aws.Time(now.AddDate(0, 0, -daysAgo))}
	}
	ok := run("today", 0, sfntypes.ExecutionStatusSucceeded)
	for _, tt := range []struct {
		name string
		runs []sfntypes.ExecutionListItem
		want Verdict
		says string
	}{
		{"succeeded", []sfntypes.ExecutionListItem{ok, run("old", 9, sfntypes.ExecutionStatusFailed)}, Pass, "1 runs of the last 7 days succeeded"},
		{"timed out this week", []sfntypes.ExecutionListItem{ok, run("tuesday", 4, sfntypes.ExecutionStatusTimedOut)}, Fail, "tuesday TIMED_OUT on 2026-12-02"},
		{"none yet", nil, Pass, "no run in the last 7 days yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := RecentRuns(fakeExecutions{tt.runs}, "arn:aws:states:us-east-1:111122223333:stateMachine:x", now)(context.Background())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.says) {
				t.Errorf("%s: %s, want %s saying %q", r.Verdict, r.Detail, tt.want, tt.says)
			}
		})
	}
}

type fakeSuppression struct {
	set     *sestypes.SuppressionOptions // nil: the set does not exist
	account []sestypes.SuppressionListReason
}

func (f fakeSuppression) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return &sesv2.GetAccountOutput{SuppressionAttributes: &sestypes.SuppressionAttributes{SuppressedReasons: f.account}}, nil
}

func (f fakeSuppression) GetConfigurationSet(context.Context, *sesv2.GetConfigurationSetInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	if f.set == nil {
		return nil, &sestypes.NotFoundException{Message: aws.String("no such set")}
	}
	return &sesv2.GetConfigurationSetOutput{SuppressionOptions: f.set}, nil
}

// TestBouncesReadTheSetOrBeforeTheDeployTheAccount: the stack's configuration set decides
// once it exists; before the deploy, the account's settings.
func TestBouncesReadTheSetOrBeforeTheDeployTheAccount(t *testing.T) {
	both := []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}
	complaints := []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}
	for _, tt := range []struct {
		name string
		api  fakeSuppression
		want Verdict
	}{
		{"the set suppresses bounces", fakeSuppression{set: &sestypes.SuppressionOptions{SuppressedReasons: both}, account: complaints}, Pass},
		{"the set overrides without bounces", fakeSuppression{set: &sestypes.SuppressionOptions{SuppressedReasons: complaints}, account: both}, Fail},
		{"before the deploy, the account suppresses bounces", fakeSuppression{account: both}, Pass},
		{"before the deploy, the account does not", fakeSuppression{account: complaints}, Fail},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Bounces(tt.api, "iam-access-key-rotator-configset")(context.Background())
			if r.Verdict != tt.want || (r.Verdict == Fail && r.Fix == "") {
				t.Errorf("%s: %s (fix %q), want %s", r.Verdict, r.Detail, r.Fix, tt.want)
			}
		})
	}
}
