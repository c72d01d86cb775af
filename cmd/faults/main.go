// Command faults runs the fault-injection campaign of package sim: every seed simulates an
// organization for a number of days under a seeded schedule of faults, checking the safety
// invariants before every write. It prints the faults injected by kind, each violation with
// its replay, and one closing line; it exits 1 when an invariant was violated.
//
//	go run ./cmd/faults -seeds 200 -days 120
//	go run ./cmd/faults -seed 17 -seeds 1    # replay seed 17
//	go run ./cmd/faults -seed 17 -seeds 1 -fault-seed 3    # seed 17's organization under seed 3's faults
package main

import (
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
	flag.Parse()
	if *seeds < 1 || *days < 1 {
		fmt.Fprintln(os.Stderr, "faults: -seeds and -days must be at least 1")
		os.Exit(2)
	}
	start := time.Now()
	cfg := sim.Config{Days: *days, FaultSeed: *faultSeed}
	fmt.Printf("seeds %d to %d, %s\n", *first, *first+int64(*seeds)-1, cfg.Resolved())
	c := sim.RunCampaign(cfg, *first, *seeds, runtime.GOMAXPROCS(0))
	fmt.Printf("world by kind: %s\n", c.WorldByKind())
	fmt.Printf("faults by kind: %s\n", c.ByKind())
	byInvariant := map[string]int{}
	for i, v := range c.Violations {
		byInvariant[v.Invariant]++
		if i < *show {
			fmt.Printf("\n%s\n", v)
		}
	}
	if len(byInvariant) > 0 {
		fmt.Printf("\nviolations by invariant: %v\n", byInvariant)
	}
	fmt.Printf("wall time %s\n%s\n", time.Since(start).Round(time.Millisecond), c.Summary())
	if len(c.Violations) > 0 {
		os.Exit(1)
	}
}
