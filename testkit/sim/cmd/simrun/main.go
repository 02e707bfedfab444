// Command simrun runs the Ochopod simulation (package testkit/sim) on a range of seeds and prints how many
// scenarios per second it ran, the known production issues its failures are consistent with, and the report
// of every failure. With -replay it runs one seed and prints its whole trace.
//
//	go run ./testkit/sim/cmd/simrun -seed 42 -n 100000
//	go run ./testkit/sim/cmd/simrun -replay 42
//	go run ./testkit/sim/cmd/simrun -skip-fence -n 100      # the broken variant: invariant (a) fires
//	go run ./testkit/sim/cmd/simrun -scale -seed 1          # 10 000 pods in 500 clusters (issue #18)
//	go run ./testkit/sim/cmd/simrun -scale -cpuprofile cpu.out -memprofile mem.out   # where its time goes
//
// Without -seed, the first seed is drawn at random and printed, so the run can be repeated. The exit status
// is 1 when any scenario failed, labelled with a known issue or not, as in CI (with -strict, advisories fail
// scenarios too).
package main

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

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
		scale     = flag.Bool("scale", false, "run the virtual-scale scenario of -seed (n is ignored) and print its table")
		clusters  = flag.Int("scale.clusters", sim.DefaultScaleClusters, "-scale: clusters")
		pods      = flag.Int("scale.pods", sim.DefaultScalePods, "-scale: pods in all")
		dampers   = flag.String("scale.dampers", "", "-scale: the dampers clusters draw from, comma-separated (empty: the default)")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		memProf   = flag.String("memprofile", "", "write a heap profile (allocations and what is live) at the end of the run to this file")
		gogc      = flag.Int("gogc", 0, "the collector's GOGC (0: 400; with -scale, 400 under a soft memory limit that grows with the pods, unless GOMEMLIMIT is set)")
	)
	flag.Parse()
	stop, err := profile(*cpuProf, *memProf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simrun:", err)
		os.Exit(2)
	}
	code := func() int {
		if *scale {
			return runScale(*seed, sim.Scale{Clusters: *clusters, Pods: *pods}, *dampers, *gogc)
		}
		opts := sim.Options{Workers: *workers, Strict: *strict, SkipFence: *skipFence, NoStepDown: *noStep}
		if *replay != 0 {
			opts.KeepTrace = true
			res, err := sim.Run(*replay, opts)
			fmt.Print(res.Report())
			if err != nil {
				return 1
			}
			return 0
		}
		return runMany(*seed, *n, opts, cmp.Or(*gogc, 400))
	}()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "simrun:", err)
		code = max(code, 2)
	}
	os.Exit(code)
}

// runMany runs n scenarios from seed (0: drawn at random) and prints their summary and failures.
func runMany(seed uint64, n int, opts sim.Options, gogc int) int {
	if seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			fmt.Fprintln(os.Stderr, "simrun:", err)
			return 2
		}
		seed = binary.LittleEndian.Uint64(b[:])>>1 | 1
	}
	debug.SetGCPercent(gogc) // many small short-lived objects, little kept: see sim_test.go's fastGC
	fmt.Printf("simrun: %d scenarios from seed %d\n", n, seed)
	sum := sim.RunMany(seed, n, opts)
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
		return 1
	}
	return 0
}

// profile starts a CPU profile into cpu and arranges a heap profile into mem (either "": none); stop ends
// the one and writes the other.
func profile(cpu, mem string) (stop func() error, err error) {
	var cpuFile *os.File
	if cpu != "" {
		if cpuFile, err = os.Create(cpu); err != nil {
			return nil, err
		}
		if err = pprof.StartCPUProfile(cpuFile); err != nil {
			cpuFile.Close()
			return nil, err
		}
	}
	return func() error {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			if err := cpuFile.Close(); err != nil {
				return err
			}
		}
		if mem == "" {
			return nil
		}
		f, err := os.Create(mem)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The collector's settings of -scale. Its heap keeps about 56 KB a pod (the pods' trees, sessions, last
// clusters) and the run allocates about 6 GB at 10 000 pods. Seed 1: GOGC 400 alone took 27.5 s of CPU and
// peaked at 2.7 GB; GOGC 100, 43.6 s at 1.34 GB. GOGC 400 under a soft limit of scaleHeapBase +
// scaleHeapPerPod a pod (1.4 GiB at 10 000) collects rarely while the heap is small and keeps the peak near
// the limit: 34-40 s, 1.4 GB.
const (
	scaleGOGC       = 400
	scaleHeapBase   = 256 << 20
	scaleHeapPerPod = 120 << 10
)

// runScale runs one virtual-scale scenario and prints what it measured: convergence (the worst cluster, in
// dampers), wall and CPU time, peak RSS, events, virtual time, the trace hash and the table.
func runScale(seed uint64, sc sim.Scale, dampers string, gogc int) int {
	for _, d := range strings.Split(dampers, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		v, err := time.ParseDuration(d)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "simrun: -scale.dampers: %q is not a positive duration\n", d)
			return 2
		}
		sc.Dampers = append(sc.Dampers, v)
	}
	if seed == 0 {
		seed = 1
	}
	if gogc == 0 {
		gogc = scaleGOGC
		if os.Getenv("GOMEMLIMIT") == "" { // the environment's limit is the user's choice
			debug.SetMemoryLimit(scaleHeapBase + int64(max(sc.Pods, 1000))*scaleHeapPerPod)
		}
	}
	debug.SetGCPercent(gogc)
	res, err := sim.Run(seed, sim.Options{Scale: &sc})
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	user, sys := time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	verdict := "converged"
	if err != nil {
		verdict = "FAILED"
	}
	fmt.Printf("simrun -scale: seed %d, %d clusters, %d pods: %s", seed, sc.Clusters, sc.Pods, verdict)
	if res.Scale != nil {
		w := res.Scale.Worst()
		fmt.Printf(", the slowest cluster within %.2f dampers (%s, damper %s, limit 2)", w.Ratio, w.Cluster, w.Damper)
	}
	fmt.Printf("\nwall %s, CPU %s (user %s, system %s), peak RSS %d MB, %d events, %d faults, virtual %s, trace hash %016x\n",
		res.Wall.Round(time.Millisecond), (user + sys).Round(time.Millisecond), user.Round(time.Millisecond), sys.Round(time.Millisecond),
		ru.Maxrss/1024, res.Events, res.Faults, res.Virtual.Round(time.Millisecond), res.TraceHash)
	if res.Scale != nil {
		fmt.Print(res.Scale)
	}
	if err != nil {
		fmt.Print(res.Report())
		return 1
	}
	return 0
}
