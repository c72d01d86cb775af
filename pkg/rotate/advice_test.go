package rotate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestMachineUsersAreAdvisedAndCountedByUse: a machine user whose key goes to an SSM
// parameter is advised to use a role (its notification, its owner's email and its result
// say so); the account's users with an active key are counted by use, those the run does not
// read in full by their credential report rows alone: one key used with one service in one
// region (a workload), keys used with two services (a person), a key never used (unknown);
// a user with only an inactive key is not counted. Not one IAM call more is made for it:
// only the candidate's tags are read, and no operation but the scan's and the rotation's.
func TestMachineUsersAreAdvisedAndCountedByUse(t *testing.T) {
	h := scenario.New(t)
	h.ParamUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85) // due: read in full
	h.User("steady", nil, 10)                                          // s3 in us-east-1, not due
	people := h.User("people", nil, 20, 5)
	scenario.Must(h.W.UseKey(scenario.Account, people[1], h.Now.Add(-time.Hour), "ec2", "eu-west-1"))
	scenario.Must(h.W.CreateUser(scenario.Account, "idle", map[string]string{"EmailID": "idle@" + scenario.Domain}))
	_, _, err := h.W.AddKey(scenario.Account, "idle", h.Now.AddDate(0, 0, -3), types.StatusTypeActive)
	scenario.Must(err)
	scenario.Must(h.W.CreateUser(scenario.Account, "retired", nil))
	_, _, err = h.W.AddKey(scenario.Account, "retired", h.Now.AddDate(0, 0, -3), types.StatusTypeInactive)
	scenario.Must(err)
	h.Now = h.Now.Add(time.Minute)

	operations, tagsRead := map[string]int{}, map[string]bool{}
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		operations[c.Operation]++
		if in, ok := c.Input.(*iam.ListUserTagsInput); ok {
			tagsRead[aws.ToString(in.UserName)] = true
		}
	}
	res, notes := h.ScanWith(t.Context())
	h.W.Observe = nil
	h.Notify(notes)

	want := advice.For(advice.AWSWorkload)
	if len(notes) != 1 || notes[0].UserName != "ci" || notes[0].Use != advice.AWSWorkload {
		t.Fatalf("notifications %+v, want ci's, advising %s", notes, advice.AWSWorkload)
	}
	if len(res.Users) != 1 || res.Users[0].Advice == nil || res.Users[0].Advice.String() != want.String() {
		t.Errorf("results %+v, want ci's, advising %s", res.Users, advice.AWSWorkload)
	}
	var told bool
	for _, m := range h.W.Delivered("ci@" + scenario.Domain) {
		raw := strings.ReplaceAll(string(m.Raw), "=\r\n", "") // quoted-printable's soft line breaks
		told = told || strings.Contains(raw, "Leave long-lived keys behind:") && strings.Contains(raw, want.Links[0])
	}
	if !told {
		t.Errorf("ci's owner got %q, none advising a role with %s", h.Subjects("ci"), want.Links[0])
	}
	wantCounts := map[advice.Use]int{advice.GitHubActions: 0, advice.AWSWorkload: 1, advice.Workload: 1, advice.Person: 1, advice.Unknown: 1}
	if got := res.Counts.UsersWithKeys; len(got) != len(wantCounts) || !equalCounts(got, wantCounts) {
		t.Errorf("users with keys by use %v, want %v", got, wantCounts)
	}
	if len(tagsRead) != 1 || !tagsRead["ci"] || operations["GetLoginProfile"] != 0 {
		t.Errorf("calls %v, tags read of %v: want the tags of ci alone read, and nothing asked for the advice", operations, tagsRead)
	}
}

func equalCounts(a, b map[advice.Use]int) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// TestActiveKeysAreCountedByAgeBucket: the account's active keys are counted by 10-day age
// bucket (workflow.Counts.KeyAges, the support email's chart), those of users not read in full
// by their credential report rows; an inactive key is not counted; the run's limit goes along.
func TestActiveKeysAreCountedByAgeBucket(t *testing.T) {
	h := scenario.New(t)
	h.User("due", nil, 85)       // read in full
	h.User("steady", nil, 10)    // a row alone
	h.User("people", nil, 20, 5) // two active keys
	h.User("ancient", nil, 4000) // the last bucket
	scenario.Must(h.W.CreateUser(scenario.Account, "retired", nil))
	_, _, err := h.W.AddKey(scenario.Account, "retired", h.Now.AddDate(0, 0, -3), types.StatusTypeInactive)
	scenario.Must(err)
	h.Now = h.Now.Add(time.Minute)
	res, notes := h.ScanWith(t.Context())
	h.Notify(notes)
	want := make([]int, workflow.KeyAgeBuckets)
	want[0], want[1], want[2], want[8], want[workflow.KeyAgeBuckets-1] = 1, 1, 1, 1, 1
	if got := res.Counts.KeyAges; !slices.Equal(got, want) || res.Counts.KeyAgeLimit != policy.DefaultLimitDays {
		t.Errorf("key ages %v, limit %d; want %v, %d", got, res.Counts.KeyAgeLimit, want, policy.DefaultLimitDays)
	}
}
