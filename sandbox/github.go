package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/ghlocal"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// GitHub is the scenario's GitHub (the local one beside the stand-in, sandbox/ghlocal): the
// rotator's App, the owners it is installed on, their repositories, and the owners the
// rotator may deliver to (allowedGitHubOwners).
type GitHub struct {
	// AllowedOwners is the rotator's allowedGitHubOwners.
	AllowedOwners []string `json:"allowedOwners"`
	// Installations are the owners the App is installed on; Revoked, those it was
	// uninstalled from since.
	Installations []string `json:"installations"`
	Revoked       []string `json:"revoked,omitempty"`
	Repositories  []Repo   `json:"repositories"`
}

// Repo is a repository "<owner>/<name>" with its environments and Actions variables.
// A variable's value may name an account of the scenario as "<account name>/<user>": it is
// seeded with the account's ID, as the opt-in AWS_KEY_ROTATOR_USER is written.
type Repo struct {
	Name         string                       `json:"name"`
	Environments []string                     `json:"environments,omitempty"`
	Variables    map[string]string            `json:"variables,omitempty"`
	EnvVariables map[string]map[string]string `json:"environmentVariables,omitempty"`
}

// GitHubAppSecretName names the secret of the rotator account that holds the local App.
const GitHubAppSecretName = statemachine.Name + "/github-app"

// seedGitHub makes the scenario's GitHub in gh (reached at url by the Lambdas) and the App's
// secret in the rotator account; it returns the secret's ARN.
func (s *seeder) seedGitHub(ctx context.Context, base aws.Config, g *GitHub, gh *ghlocal.Server, url string) (string, error) {
	if gh == nil {
		return "", fmt.Errorf("the scenario has a github section and the stand-in no local GitHub")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	const appID = 31337
	gh.AddApp(appID, &key.PublicKey)
	for _, owner := range g.Installations {
		gh.Install(appID, owner)
	}
	for _, owner := range g.Revoked {
		gh.Revoke(owner)
	}
	for _, r := range g.Repositories {
		owner, name, ok := strings.Cut(r.Name, "/")
		if !ok {
			return "", fmt.Errorf("github repository %q is not <owner>/<name>", r.Name)
		}
		gh.AddRepo(owner, name, r.Environments...)
		set := func(env string, vars map[string]string) error {
			for k, v := range vars {
				if account, user, found := strings.Cut(v, "/"); found {
					if id, known := s.out.Settings.AccountID(account); known {
						v = id + "/" + user
					}
				}
				if err := gh.SetVariable(owner, name, env, k, v); err != nil {
					return err
				}
			}
			return nil
		}
		if err := set("", r.Variables); err != nil {
			return "", err
		}
		for env, vars := range r.EnvVariables {
			if err := set(env, vars); err != nil {
				return "", err
			}
		}
	}
	body, err := json.Marshal(appsecret.GitHubAppSecret{AppID: appID, APIURL: url + "/api/v3",
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))})
	if err != nil {
		return "", err
	}
	out, err := secretsmanager.NewFromConfig(base).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(GitHubAppSecretName), SecretString: aws.String(string(body))})
	if err != nil {
		return "", fmt.Errorf("create the GitHub App's secret: %w", err)
	}
	fmt.Fprintf(s.progress, "local GitHub at %s: App installed on %v, %d repositories; its secret %s (%s)\n",
		url, g.Installations, len(g.Repositories), GitHubAppSecretName, config.GitHubAppSecretARN)
	return aws.ToString(out.ARN), nil
}
