package runner

import (
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// TestEverySettingReachesTheLambdasAsTheStackGivesIt: every variable of config.Table set in
// the run's Settings reaches the Lambdas' environment as config.Settings.Environ writes it,
// and those the stack derives from its resources come from the stand-in's, so that a new
// setting of the table needs nothing in the runner.
func TestEverySettingReachesTheLambdasAsTheStackGivesIt(t *testing.T) {
	examples := map[string]string{}
	for _, s := range config.Table {
		if s.Variable != "" {
			examples[s.Variable] = s.Example
		}
	}
	settings, err := config.Load(func(name string) string { return examples[name] })
	if err != nil {
		t.Fatal(err)
	}
	res := Resources{Bucket: "keyrotator-reports-123456789012", TopicARN: "arn:aws:sns:us-east-1:123456789012:keyrotator-failures",
		HandoffKeyARN: "arn:aws:kms:us-east-1:123456789012:key/handoff", ConfigurationSet: "keyrotator-configset",
		TagKeySecretARN:   "arn:aws:secretsmanager:us-east-1:123456789012:secret:tag-key",
		ManagementRoleARN: "arn:aws:iam::123456789012:role/management", TagReaderRoleARN: "arn:aws:iam::123456789012:role/tag-reader"}
	fromResources := map[string]string{config.ReportBucket: res.Bucket, config.FailureTopicARN: res.TopicARN,
		config.HandoffKMSKeyID: res.HandoffKeyARN, config.SESConfigurationSet: res.ConfigurationSet, config.TagKeySecretARN: res.TagKeySecretARN,
		config.ManagementRoleARN: res.ManagementRoleARN, config.TagReaderRoleARN: res.TagReaderRoleARN, config.Partition: sandbox.Partition}

	got := map[string]string{}
	for _, kv := range lambdaEnv("http://127.0.0.1:4566", Settings{Settings: settings}, res) {
		name, value, _ := strings.Cut(kv, "=")
		got[name] = value
	}
	for _, name := range config.Variables {
		want, derived := fromResources[name]
		if !derived {
			want = examples[name]
		}
		if got[name] != want {
			t.Errorf("%s=%q, want %q", name, got[name], want)
		}
	}
}
