// Command faults runs the fault-injection campaign of package sim: every seed simulates an
// organization for a number of days under a seeded schedule of faults, checking the safety
// invariants before every write. It prints the faults injected by kind, each violation with
// its replay, and one closing line (or, with -json, one JSON object that cmd/mutations
// reads); it exits 1 when an invariant was violated.
//
//	go run ./cmd/faults -seeds 200 -days 120
//	go run ./cmd/faults -seed 17 -seeds 1    # replay seed 17
//	go run ./cmd/faults -seed 17 -seeds 1 -fault-seed 3    # seed 17's organization under seed 3's faults
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sim"
)

func main() {
	seeds := flag.Int("seeds", 200, "how many seeds to simulate")
	first := flag.Int64("seed", 1, "the first seed")
	days := flag.Int("days", 120, "days simulated per seed")
	show := flag.Int("show", 5, "how many violations to print in full")
	faultSeed := flag.Int64("fault-seed", 0, "draw the faults from this seed instead of each seed's own (with -seeds 1: replay a violation)")
	rare := flag.Bool("rare", false, "simulate the rare world (sim.RareWorld, sim.RareFaults): its rare behaviours and faults five times as common")
	asJSON := flag.Bool("json", false, "print only one JSON object: seeds, days, faults injected, violations and violations by invariant")
	flag.Parse()
	if *seeds < 1 || *days < 1 {
		fmt.Fprintln(os.Stderr, "faults: -seeds and -days must be at least 1")
		os.Exit(2)
	}
	start := time.Now()
	cfg := sim.Config{Days: *days, FaultSeed: *faultSeed}
	if *rare {
		cfg.World, cfg.Faults = sim.RareWorld(), sim.RareFaults()
	}
	if !*asJSON {
		fmt.Printf("seeds %d to %d, %s\n", *first, *first+int64(*seeds)-1, cfg.Resolved())
	}
	ended, violations := 0, 0
	c := sim.RunCampaign(cfg, *first, *seeds, runtime.GOMAXPROCS(0), func(seed int64, r sim.Result) {
		ended++
		violations += len(r.Violations)
		fmt.Fprintf(os.Stderr, "faults: seed %d ended, %d of %d seeds, %d violations so far, %s\n",
			seed, ended, *seeds, violations, time.Since(start).Round(time.Second))
	})
	if *asJSON {
		printJSON(c)
	} else {
		printText(c, *show, time.Since(start))
	}
	if len(c.Violations) > 0 {
		os.Exit(1)
	}
}

// Outcome is what -json prints.
type Outcome struct {
	Seeds       int            `json:"seeds"`
	Days        int            `json:"days"`
	Faults      int            `json:"faults"`
	Violations  int            `json:"violations"`
	ByInvariant map[string]int `json:"byInvariant"`
}

func printJSON(c sim.Campaign) {
	out, err := json.Marshal(Outcome{Seeds: c.Seeds, Days: c.Days, Faults: c.Total(), Violations: len(c.Violations), ByInvariant: c.ByInvariant()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
}

func printText(c sim.Campaign, show int, took time.Duration) {
	fmt.Printf("world by kind: %s\n", c.WorldByKind())
	fmt.Printf("faults by kind: %s\n", c.ByKind())
	for i, v := range c.Violations {
		if i == show {
			break
		}
		fmt.Printf("\n%s\n", v)
	}
	if byInvariant := c.ByInvariant(); len(byInvariant) > 0 {
		fmt.Printf("\nviolations by invariant: %v\n", byInvariant)
	}
	fmt.Printf("wall time %s\n%s\n", took.Round(time.Millisecond), c.Summary())
}
