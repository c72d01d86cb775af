package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/preflight"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// smallScenario is an organization of one member account without users, seeded in a second.
func smallScenario() *sandbox.Scenario {
	return &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "workloads"}}}
}

// postJSON posts body to one of the stand-in's own endpoints and decodes the answer into out.
func postJSON(t *testing.T, url string, body, out any) int {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestBulkAccountsJoinTheOrganization: POST /keyrotator/accounts creates the accounts at once,
// each ACTIVE in the organization's root as CreateAccount makes it, and ListAccounts pages
// them after the seeded ones, in the order created.
func TestBulkAccountsJoinTheOrganization(t *testing.T) {
	ctx := context.Background()
	sb := sandboxtest.New(t, smallScenario())
	for _, bad := range []map[string]any{{"count": 0}, {"count": 100_001}, {"count": "3"}, {"count": 3, "namePrefix": ""}} {
		if code := postJSON(t, sb.URL+"/keyrotator/accounts", bad, nil); code != http.StatusBadRequest {
			t.Errorf("POST /keyrotator/accounts %v: %d, want 400", bad, code)
		}
	}
	var created struct {
		AccountIDs []string `json:"accountIds"`
	}
	if code := postJSON(t, sb.URL+"/keyrotator/accounts", map[string]any{"count": 45, "namePrefix": "bulk"}, &created); code != http.StatusOK {
		t.Fatalf("POST /keyrotator/accounts: %d", code)
	}
	client := organizations.NewFromConfig(sb.Config())
	var names, ids []string
	pages := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Accounts) > 20 {
			t.Errorf("a page of %d accounts, want 20 at most", len(page.Accounts))
		}
		for _, a := range page.Accounts {
			if a.State != orgtypes.AccountStateActive {
				t.Errorf("%s is %s, want ACTIVE", aws.ToString(a.Name), a.State)
			}
			names, ids = append(names, aws.ToString(a.Name)), append(ids, aws.ToString(a.Id))
		}
	}
	if len(names) != 47 || names[0] != "management" || names[1] != "workloads" || names[2] != "bulk-0" || names[46] != "bulk-44" {
		t.Fatalf("ListAccounts: %d accounts %v, want management, workloads, bulk-0 to bulk-44", len(names), names)
	}
	if !slices.Equal(ids[2:], created.AccountIDs) {
		t.Errorf("listed %v, created %v", ids[2:], created.AccountIDs)
	}
	roots, err := client.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	parents, err := client.ListParents(ctx, &organizations.ListParentsInput{ChildId: aws.String(created.AccountIDs[44])})
	if err != nil || len(parents.Parents) != 1 || aws.ToString(parents.Parents[0].Id) != aws.ToString(roots.Roots[0].Id) {
		t.Errorf("the parent of bulk-44: %+v (%v), want the root", parents, err)
	}
}

// TestAllFeaturesNeedTheManagementAccountsHandshake: an organization of consolidated
// billing refuses trusted access and delegated administrators; EnableAllFeatures starts the
// change, which ends when the management account accepts the APPROVE_ALL_FEATURES handshake
// (the management account cannot accept the ENABLE_ALL_FEATURES one, meant for invited
// accounts), and not twice.
func TestAllFeaturesNeedTheManagementAccountsHandshake(t *testing.T) {
	ctx := context.Background()
	sc := smallScenario()
	sc.ConsolidatedBilling = true
	sb := sandboxtest.New(t, sc)
	client := organizations.NewFromConfig(sb.Config())
	featureSet := func() orgtypes.OrganizationFeatureSet {
		t.Helper()
		out, err := client.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out.Organization.FeatureSet
	}
	if got := featureSet(); got != orgtypes.OrganizationFeatureSetConsolidatedBilling {
		t.Fatalf("feature set %s, want CONSOLIDATED_BILLING", got)
	}
	workloads, _ := sb.AccountID("workloads")
	trust := func() error {
		_, err := client.EnableAWSServiceAccess(ctx, &organizations.EnableAWSServiceAccessInput{ServicePrincipal: aws.String(preflight.StackSetsPrincipal)})
		return err
	}
	delegate := func() error {
		_, err := client.RegisterDelegatedAdministrator(ctx, &organizations.RegisterDelegatedAdministratorInput{
			AccountId: aws.String(workloads), ServicePrincipal: aws.String(preflight.StackSetsPrincipal)})
		return err
	}
	var constraint *orgtypes.ConstraintViolationException
	for name, call := range map[string]func() error{"EnableAWSServiceAccess": trust, "RegisterDelegatedAdministrator": delegate} {
		if err := call(); !errors.As(err, &constraint) {
			t.Errorf("%s with consolidated billing: %v, want ConstraintViolationException", name, err)
		}
	}

	started, err := client.EnableAllFeatures(ctx, &organizations.EnableAllFeaturesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if started.Handshake.Action != orgtypes.ActionTypeEnableAllFeatures {
		t.Errorf("EnableAllFeatures answered a %s handshake", started.Handshake.Action)
	}
	var handshakeConstraint *orgtypes.HandshakeConstraintViolationException
	if _, err := client.EnableAllFeatures(ctx, &organizations.EnableAllFeaturesInput{}); !errors.As(err, &handshakeConstraint) {
		t.Errorf("EnableAllFeatures again while pending: %v, want HandshakeConstraintViolationException", err)
	}
	if got := featureSet(); got != orgtypes.OrganizationFeatureSetConsolidatedBilling {
		t.Errorf("before the handshake is accepted: %s, want CONSOLIDATED_BILLING still", got)
	}
	if _, err := client.AcceptHandshake(ctx, &organizations.AcceptHandshakeInput{HandshakeId: started.Handshake.Id}); err == nil {
		t.Errorf("the management account accepted the ENABLE_ALL_FEATURES handshake, meant for invited accounts")
	}
	listed, err := client.ListHandshakesForAccount(ctx, &organizations.ListHandshakesForAccountInput{
		Filter: &orgtypes.HandshakeFilter{ActionType: orgtypes.ActionTypeApproveAllFeatures}})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed.Handshakes) != 1 || listed.Handshakes[0].State != orgtypes.HandshakeStateOpen {
		t.Fatalf("handshakes %+v, want one OPEN APPROVE_ALL_FEATURES", listed.Handshakes)
	}
	accepted, err := client.AcceptHandshake(ctx, &organizations.AcceptHandshakeInput{HandshakeId: listed.Handshakes[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	if accepted.Handshake.Action != orgtypes.ActionTypeApproveAllFeatures {
		t.Errorf("accepted a %s handshake", accepted.Handshake.Action)
	}
	if got := featureSet(); got != orgtypes.OrganizationFeatureSetAll {
		t.Errorf("after the handshake: %s, want ALL", got)
	}
	if _, err := client.EnableAllFeatures(ctx, &organizations.EnableAllFeaturesInput{}); !errors.As(err, &handshakeConstraint) {
		t.Errorf("EnableAllFeatures with all features: %v, want HandshakeConstraintViolationException", err)
	}
	for name, call := range map[string]func() error{"EnableAWSServiceAccess": trust, "RegisterDelegatedAdministrator": delegate} {
		if err := call(); err != nil {
			t.Errorf("%s with all features: %v", name, err)
		}
	}
}

// TestSESSendingPausedAndProductionAccess: PutAccountSendingAttributes pauses the account's
// sending (GetAccount says so, SendEmail answers SendingPausedException) and resumes it;
// PutAccountDetails with ProductionAccessEnabled takes the account out of the SES sandbox.
func TestSESSendingPausedAndProductionAccess(t *testing.T) {
	ctx := context.Background()
	sc := smallScenario()
	sc.SESSandbox = &sandbox.SESSandbox{}
	sb := sandboxtest.New(t, sc)
	client := sesv2.NewFromConfig(sb.Config(), func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
	send := func(to string) error {
		// Raw, as the rotator sends (the stand-in's sandbox checks raw messages).
		raw := rawEmail(sc.SenderEmail, to, "Your new access key", "Open the zip.", "key.zip", []byte("zip"))
		_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{FromEmailAddress: aws.String(sc.SenderEmail),
			Destination: &sesv2types.Destination{ToAddresses: []string{to}},
			Content:     &sesv2types.EmailContent{Raw: &sesv2types.RawMessage{Data: []byte(raw)}}})
		return err
	}
	account := func() *sesv2.GetAccountOutput {
		t.Helper()
		out, err := client.GetAccount(ctx, &sesv2.GetAccountInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	pause := func(enabled bool) {
		t.Helper()
		if _, err := client.PutAccountSendingAttributes(ctx, &sesv2.PutAccountSendingAttributesInput{SendingEnabled: enabled}); err != nil {
			t.Fatal(err)
		}
	}
	pause(false)
	var paused *sesv2types.SendingPausedException
	if err := send(sc.SenderEmail); !errors.As(err, &paused) {
		t.Errorf("SendEmail while paused: %v, want SendingPausedException", err)
	}
	if a := account(); a.SendingEnabled {
		t.Errorf("GetAccount while paused: SendingEnabled")
	}
	pause(true)
	if err := send(sc.SenderEmail); err != nil {
		t.Errorf("SendEmail once resumed: %v", err)
	}

	if err := send("owner@example.com"); err == nil {
		t.Errorf("in the sandbox SES sent to an unverified address")
	}
	if _, err := client.PutAccountDetails(ctx, &sesv2.PutAccountDetailsInput{MailType: sesv2types.MailTypeTransactional}); err == nil {
		t.Errorf("PutAccountDetails without WebsiteURL was taken")
	}
	if _, err := client.PutAccountDetails(ctx, &sesv2.PutAccountDetailsInput{MailType: sesv2types.MailTypeTransactional,
		WebsiteURL: aws.String("https://example.com"), ProductionAccessEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	a := account()
	if !a.ProductionAccessEnabled || a.SendQuota == nil || a.SendQuota.Max24HourSend != 50000 || a.Details == nil ||
		a.Details.MailType != sesv2types.MailTypeTransactional {
		t.Errorf("GetAccount after production access: %v, quota %+v, details %+v", a.ProductionAccessEnabled, a.SendQuota, a.Details)
	}
	if err := send("owner@example.com"); err != nil {
		t.Errorf("with production access, to any address: %v", err)
	}
}
