package sim

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

const (
	maxReported     = 5                      // failures a Summary keeps
	maxSlice        = 500 * time.Millisecond // the longest step of the safety phase
	maxSafetyEvents = 20000                  // a safety phase that busy stops early (the liveness phase judges it)
)

// Run runs the scenario of one seed: a random topology, a safety phase of random deliveries and faults with
// the invariants checked after every step, then a liveness phase that heals everything and requires
// convergence. The same seed and options always give the same trace (Result.TraceHash). The error is nil
// when the scenario passed; else it names the seed and the failure, and Result.Report has the trace.
func Run(seed uint64, opts Options) (Result, error) {
	began := time.Now()
	s := newSim(seed, opts)
	res := s.run()
	res.Wall = time.Since(began)
	if res.Failed() {
		return res, fmt.Errorf("sim: seed %d: %s", seed, res.Failure)
	}
	return res, nil
}

func (s *Sim) run() (res Result) {
	defer func() {
		if r := recover(); r != nil {
			s.fail("panic: %v\n%s", r, debug.Stack())
		}
		s.unwind()
		res = s.result()
	}()
	admin, _, err := s.srv.Dial(zk.Ensemble{Servers: []string{"zkmem:2181"}}, time.Hour)
	if err != nil {
		s.fail("dial: %v", err)
		return
	}
	s.admin = admin
	if s.opts.Scale != nil {
		s.runScale()
		return
	}
	s.buildTopology()
	s.indexClusters()
	s.trace("sim", "topology", nil, s.describeTopology())
	if s.opts.Paused {
		s.pause()
	}
	for _, c := range s.clusters {
		for range c.initial {
			s.at(time.Duration(s.rng.IntN(500))*time.Millisecond, func() { s.startPod(c) })
		}
	}
	s.stage = "safety"
	for step := 0; step < s.opts.Steps && s.failure == "" && s.events < s.maxSafety; step++ {
		if s.opts.FaultRate > 0 && s.rng.Float64() < s.opts.FaultRate {
			s.injectFault()
		}
		s.runFor(time.Duration(s.rng.Int64N(int64(maxSlice))))
	}
	if s.failure == "" && s.opts.Paused {
		s.unpause()
	}
	if s.failure == "" {
		s.liveness()
	}
	return
}

// pause creates every cluster's paused node, from outside the pods as `ochopod pause` does.
func (s *Sim) pause() {
	for _, c := range s.clusters {
		if err := zk.EnsurePath(s.admin, c.zc.Paused()); err != nil {
			s.fail("pause %s: %v", c.name, err)
			return
		}
	}
}

// unpause checks that no pod was configured while its cluster was paused, then deletes the paused nodes.
func (s *Sim) unpause() {
	for _, p := range s.pods {
		if p.config != nil {
			s.fail("pod %s was configured while its cluster was paused", p.key)
			return
		}
	}
	for _, c := range s.clusters {
		s.trace("sim", "resume", nil, c.name)
		if err := s.admin.Delete(c.zc.Paused(), zk.AnyVersion); err != nil {
			s.fail("resume %s: %v", c.name, err)
			return
		}
	}
}

// runFor delivers every event due within d, checking the invariants after each, then moves the clock to
// the end of the slice.
func (s *Sim) runFor(d time.Duration) {
	until := s.clk.Now().Add(d)
	for s.failure == "" && s.events < s.maxSafety {
		due, ok := s.clk.NextDue()
		if !ok || due.After(until) {
			break
		}
		s.step()
	}
	if s.failure == "" {
		s.clk.AdvanceTo(until)
	}
}

func (s *Sim) result() Result {
	if s.opts.Strict && s.failure == "" && len(s.advisories) > 0 {
		s.failure = "advisory: " + sortedKeys(s.advisories)[0]
	}
	return Result{
		Seed: s.seed, Topology: s.describeTopology(), Events: s.events, Faults: s.faults, Virtual: s.now(),
		TraceHash: s.tr.h.h, Trace: s.tr.lines(), Failure: s.failure, Issue: s.diagnose(), Advisories: s.advisories,
		Scale: s.scaleReport,
	}
}

// RunMany runs the scenarios of seeds start, start+1, ... start+n-1 on Options.Workers goroutines (each
// scenario runs on one of them, alone) and sums them up.
func RunMany(start uint64, n int, opts Options) Summary {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sum := Summary{Start: start, N: n, Issues: map[string]int{}, IssueSeeds: map[string]uint64{},
		Advisories: map[string]int{}, AdvisorySeeds: map[string]uint64{}}
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	began := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				res, _ := Run(start+uint64(i), opts)
				mu.Lock()
				sum.add(res)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sum.Elapsed = time.Since(began)
	if secs := sum.Elapsed.Seconds(); secs > 0 {
		sum.PerSecond = float64(n) / secs
	}
	return sum
}

func (sum *Summary) add(res Result) {
	sum.Events += int64(res.Events)
	sum.Faults += int64(res.Faults)
	for what, k := range res.Advisories {
		sum.Advisories[what] += k
		if seed, ok := sum.AdvisorySeeds[what]; !ok || res.Seed < seed {
			sum.AdvisorySeeds[what] = res.Seed
		}
	}
	if !res.Failed() {
		return
	}
	sum.Failed++
	if res.Issue == "" {
		sum.Unknown++
	} else {
		sum.Issues[res.Issue]++
		if seed, ok := sum.IssueSeeds[res.Issue]; !ok || res.Seed < seed {
			sum.IssueSeeds[res.Issue] = res.Seed
		}
	}
	res.Trace = res.Trace[:min(len(res.Trace), DefaultTraceTail)]
	sum.Failures = append(sum.Failures, res)
	sort.Slice(sum.Failures, func(i, j int) bool {
		a, b := sum.Failures[i], sum.Failures[j]
		if (a.Issue == "") != (b.Issue == "") {
			return a.Issue == ""
		}
		return a.Seed < b.Seed
	})
	if len(sum.Failures) > maxReported {
		sum.Failures = sum.Failures[:maxReported]
	}
}
