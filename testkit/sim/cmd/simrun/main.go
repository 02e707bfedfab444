// Command simrun runs the Ochopod simulation (package testkit/sim) on a range of seeds and prints how many
// scenarios per second it ran, the known production issues its failures are consistent with, and the report
// of every failure. With -replay it runs one seed and prints its whole trace.
//
//	go run ./testkit/sim/cmd/simrun -seed 42 -n 100000
//	go run ./testkit/sim/cmd/simrun -replay 42
//	go run ./testkit/sim/cmd/simrun -skip-fence -n 100      # the broken variant: invariant (a) fires
//
// Without -seed, the first seed is drawn at random and printed, so the run can be repeated. The exit status
// is 1 when any scenario failed, labelled with a known issue or not, as in CI (with -strict, advisories fail
// scenarios too).
package main

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"

	"github.com/ochopod/ochopod/testkit/sim"
)

func main() {
	var (
		seed      = flag.Uint64("seed", 0, "first seed (0: drawn at random)")
		n         = flag.Int("n", 10000, "number of scenarios")
		workers   = flag.Int("workers", 0, "scenarios run in parallel (0: GOMAXPROCS)")
		replay    = flag.Uint64("replay", 0, "run only this seed and print its whole trace")
		strict    = flag.Bool("strict", false, "count the advisories as failures too")
		skipFence = flag.Bool("skip-fence", false, "broken variant: writes skip the fencing check")
		noStep    = flag.Bool("no-step-down", false, "broken variant: a leader cut off never steps down")
	)
	flag.Parse()
	opts := sim.Options{Workers: *workers, Strict: *strict, SkipFence: *skipFence, NoStepDown: *noStep}
	if *replay != 0 {
		opts.KeepTrace = true
		res, err := sim.Run(*replay, opts)
		fmt.Print(res.Report())
		if err != nil {
			os.Exit(1)
		}
		return
	}
	if *seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			fmt.Fprintln(os.Stderr, "simrun:", err)
			os.Exit(2)
		}
		*seed = binary.LittleEndian.Uint64(b[:])>>1 | 1
	}
	debug.SetGCPercent(400) // many small short-lived objects, little kept: see sim_test.go's fastGC
	fmt.Printf("simrun: %d scenarios from seed %d\n", *n, *seed)
	sum := sim.RunMany(*seed, *n, opts)
	fmt.Println(sum)
	for _, issue := range sortedKeys(sum.Issues) {
		fmt.Printf("consistent with known issue %s: %d scenarios, e.g. seed %d\n", issue, sum.Issues[issue], sum.IssueSeeds[issue])
	}
	for _, what := range sortedKeys(sum.Advisories) {
		fmt.Printf("advisory (%d, e.g. seed %d): %s\n", sum.Advisories[what], sum.AdvisorySeeds[what], what)
	}
	for _, f := range sum.Failures { // a label explains a failure, it does not excuse it
		fmt.Print(f.Report())
	}
	if sum.Failed > 0 {
		os.Exit(1)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
