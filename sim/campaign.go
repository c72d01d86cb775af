package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Campaign is the outcome of many seeds.
type Campaign struct {
	Seeds, Days int
	Faults      map[string]int // injected, by kind
	World       map[string]int // what the world did, by kind
	Violations  []Violation
}

// RunCampaign simulates seeds first, first+1, ... in parallel on workers goroutines; each
// seed is independent and deterministic, so the outcome does not depend on the schedule.
// done, if not nil, is told of each seed as it ends (one call at a time, in the order they
// end): the progress of a long campaign.
func RunCampaign(cfg Config, first int64, seeds, workers int, done func(seed int64, r Result)) Campaign {
	results := make([]Result, seeds)
	var wg sync.WaitGroup
	var report sync.Mutex
	next := make(chan int)
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				c := cfg
				c.Seed = first + int64(i)
				results[i] = Run(c)
				if done != nil {
					report.Lock()
					done(c.Seed, results[i])
					report.Unlock()
				}
			}
		})
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	out := Campaign{Seeds: seeds, Faults: map[string]int{}, World: map[string]int{}}
	for _, r := range results {
		out.Days += r.Days
		for k, n := range r.Faults {
			out.Faults[k] += n
		}
		for k, n := range r.World {
			out.World[k] += n
		}
		out.Violations = append(out.Violations, r.Violations...)
	}
	return out
}

// Total is the number of faults injected.
func (c Campaign) Total() int {
	n := 0
	for _, v := range c.Faults {
		n += v
	}
	return n
}

// Summary is the campaign's closing line.
func (c Campaign) Summary() string {
	return fmt.Sprintf("faults: %d seeds, %d days, %d faults injected, %d invariant violations", c.Seeds, c.Days, c.Total(), len(c.Violations))
}

// ByInvariant counts the violations by the invariant they broke.
func (c Campaign) ByInvariant() map[string]int {
	counts := map[string]int{}
	for _, v := range c.Violations {
		counts[v.Invariant]++
	}
	return counts
}

// ByKind lists the faults injected, by kind.
func (c Campaign) ByKind() string { return byKind(c.Faults) }

// WorldByKind lists what the world did, by kind.
func (c Campaign) WorldByKind() string { return byKind(c.World) }

func byKind(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
