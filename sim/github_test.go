package sim

import "testing"

// TestGitHubStoresKeepEveryInvariantUnderFaults runs a world of machine users whose keys all
// go to GitHub Actions secrets (World.GitHubStore), under the campaign's faults and the rare
// world's GitHub behaviours: keys are written there and first used by the workflows, the App
// is uninstalled and reinstalled, applications revert their secrets, and every invariant holds.
func TestGitHubStoresKeepEveryInvariantUnderFaults(t *testing.T) {
	w := RareWorld()
	w.MachineUser, w.ParamStore, w.GitHubStore = 1, 0, 1
	w.GitHubAppRevoked *= 4
	c := RunCampaign(Config{Accounts: 2, Users: 30, World: w}, 1, 2, 2, nil)
	t.Logf("world by kind: %v", c.World)
	for _, kind := range []string{"rotator-writes-key-to-github", "workflow-first-uses-key-from-github", "github-app-uninstalled", "github-app-reinstalled",
		"app-reverts-github-secrets", "github-owner-not-allowed", "machine-user-delivered-to-github-environment"} {
		if c.World[kind] == 0 {
			t.Errorf("the world never did %s", kind)
		}
	}
	for i, v := range c.Violations {
		if i == 3 {
			t.Errorf("... and %d more", len(c.Violations)-3)
			break
		}
		t.Error(v)
	}
}
