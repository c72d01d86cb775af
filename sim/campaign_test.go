package sim

import (
	"runtime"
	"testing"
)

// TestCampaign is make test's short fault-injection campaign (make faults runs 200 seeds):
// 20 seeds of the default world and 20 of the rare one (RareWorld, RareFaults: the rare
// behaviours and faults five times as common, go run ./cmd/faults -rare); every invariant
// holds on every seed, and faults of every kind were injected.
func TestCampaign(t *testing.T) {
	for _, world := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{}},
		{"rare", Config{World: RareWorld(), Faults: RareFaults()}},
	} {
		t.Run(world.name, func(t *testing.T) {
			c := RunCampaign(world.cfg, 1, 20, runtime.GOMAXPROCS(0))
			t.Logf("faults by kind: %s", c.ByKind())
			t.Logf("world by kind: %s", c.WorldByKind())
			t.Log(c.Summary())
			for _, kind := range []string{"throttle", "5xx", "lost-response", "retried", "crash", "ses-outage", "sfn-retry-after-success", "owner-acts-during-scan", "s3-conditional-conflict"} {
				if c.Faults[kind] == 0 {
					t.Errorf("no %s fault was injected: the campaign does not exercise it", kind)
				}
			}
			for _, kind := range []string{"report-in-documented-case", "operator-places-hold", "operator-releases-hold", "rotator-writes-key-to-github", "workflow-first-uses-key-from-github", "github-app-uninstalled"} {
				if c.World[kind] == 0 {
					t.Errorf("the world never did %s: the campaign does not exercise it", kind)
				}
			}
			for i, v := range c.Violations {
				if i == 5 {
					t.Errorf("... and %d more", len(c.Violations)-5)
					break
				}
				t.Error(v)
			}
		})
	}
}
