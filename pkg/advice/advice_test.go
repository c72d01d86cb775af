package advice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

func used(service, region string) policy.Usage {
	at := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	return policy.Usage{AccessKeyID: "AKIA" + service + region, LastUsedDate: &at, Service: service, Region: region}
}

var never = policy.Usage{AccessKeyID: "AKIANEVER"}

// TestClassify: each rule of Classify, in its order.
func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    advice.Evidence
		want advice.Use
	}{
		{"delivered to a repository secret", advice.Evidence{Delivery: appsecret.GitHubScheme + "octo-org/deploy"}, advice.GitHubActions},
		{"delivered to an environment secret", advice.Evidence{Delivery: appsecret.GitHubScheme + "octo-org/deploy/environments/prod"}, advice.GitHubActions},
		{"GitHub wins over a console password and several uses", advice.Evidence{Delivery: "github:o/r", Console: true,
			Keys: []policy.Usage{used("s3", "eu-west-1"), used("ec2", "us-east-1")}}, advice.GitHubActions},
		{"delivered to a secret", advice.Evidence{Delivery: appsecret.Scheme + "app/key"}, advice.AWSWorkload},
		{"delivered to a parameter", advice.Evidence{Delivery: appsecret.ParamScheme + "/ci/deployer"}, advice.AWSWorkload},
		{"delivered to a pair of parameters", advice.Evidence{Delivery: appsecret.PairScheme + "/ci/deployer"}, advice.AWSWorkload},
		{"a delivery scheme in another case", advice.Evidence{Delivery: " SSM:/ci/deployer"}, advice.AWSWorkload},
		{"a secret wins over a console password", advice.Evidence{Delivery: appsecret.Scheme + "x", Console: true}, advice.AWSWorkload},
		{"an unknown delivery is read as none", advice.Evidence{Delivery: "s3://bucket/key", Keys: []policy.Usage{used("s3", "eu-west-1")}}, advice.Workload},
		{"a console password", advice.Evidence{Console: true, Keys: []policy.Usage{used("s3", "eu-west-1")}}, advice.Person},
		{"a console password, keys never used", advice.Evidence{Console: true, Keys: []policy.Usage{never}}, advice.Person},
		{"one key used with one service in one region", advice.Evidence{Keys: []policy.Usage{used("s3", "eu-west-1")}}, advice.Workload},
		{"two keys, same service and region, one never used", advice.Evidence{Keys: []policy.Usage{used("s3", "eu-west-1"), used("s3", "eu-west-1"), never}}, advice.Workload},
		{"a global service without a region", advice.Evidence{Keys: []policy.Usage{used("iam", "")}}, advice.Workload},
		{"two services", advice.Evidence{Keys: []policy.Usage{used("s3", "eu-west-1"), used("ec2", "eu-west-1")}}, advice.Person},
		{"two regions", advice.Evidence{Keys: []policy.Usage{used("s3", "eu-west-1"), used("s3", "us-east-1")}}, advice.Person},
		{"never used", advice.Evidence{Keys: []policy.Usage{never}}, advice.Unknown},
		{"used, no service named (before IAM tracked it)", advice.Evidence{Keys: []policy.Usage{used("", "")}}, advice.Unknown},
		{"no keys", advice.Evidence{}, advice.Unknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := advice.Classify(tt.e); got != tt.want {
				t.Errorf("Classify(%+v) = %s, want %s", tt.e, got, tt.want)
			}
		})
	}
}

// TestEveryUseHasAdvice: every use but Unknown says what replaces the key, with AWS's
// documentation; Unknown says nothing.
func TestEveryUseHasAdvice(t *testing.T) {
	wantDoc := map[advice.Use][]string{
		advice.GitHubActions: {"id_roles_create_for-idp_oidc"},
		advice.AWSWorkload:   {"alternatives-to-long-term-access-keys", "access-rolesanywhere"},
		advice.Workload:      {"alternatives-to-long-term-access-keys", "access-rolesanywhere"},
		advice.Person:        {"access-sso"},
	}
	for _, use := range advice.Uses {
		a := advice.For(use)
		if use == advice.Unknown {
			if a != nil || a.String() != "" || a.Explain() != "" {
				t.Errorf("For(%s) = %v, want none", use, a)
			}
			continue
		}
		if a == nil || a.Use != use || a.Replace == "" || a.Explain() == "" || len(a.Links) != len(wantDoc[use]) {
			t.Fatalf("For(%s) = %+v, want its replacement, its explanation and %d links", use, a, len(wantDoc[use]))
		}
		if !strings.HasPrefix(a.String(), string(use)+": "+a.Replace+" ") {
			t.Errorf("For(%s).String() = %q, want the use and the replacement first", use, a.String())
		}
		for i, link := range a.Links {
			if !strings.HasPrefix(link, "https://docs.aws.amazon.com/") || !strings.Contains(link, wantDoc[use][i]) {
				t.Errorf("For(%s) link %d = %s, want AWS's page on %s", use, i, link, wantDoc[use][i])
			}
			if !strings.Contains(a.String(), link) {
				t.Errorf("For(%s).String() = %q lacks %s", use, a.String(), link)
			}
		}
		a.Links[0] = "changed"
		if advice.For(use).Links[0] == "changed" {
			t.Errorf("For(%s) hands out its table's links", use)
		}
	}
}
