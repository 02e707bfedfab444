package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/ochopod/ochopod/actors/custom"
)

// Options tune a scenario. The zero value is the default scenario: every field has a default.
type Options struct {
	// Steps is the length of the safety phase. A step may inject a fault, then delivers every event due
	// within a random slice of virtual time (up to half a second), checking the invariants after each.
	// 0: DefaultSteps.
	Steps int
	// FaultRate is the probability that a safety step begins with a fault. 0: DefaultFaultRate; negative:
	// no faults.
	FaultRate float64
	// OverlapBound is how long a connected pod may go on believing it leads once its lock node is gone (it
	// has not heard yet); a pod cut off from ZooKeeper gets a third of the session timeout more (the session
	// steps down after that long disconnected). 0: DefaultOverlapBound.
	OverlapBound time.Duration
	// MaxLivenessEvents bounds the liveness phase; a run that is still busy after that many events is a
	// liveness failure (a livelock). 0: DefaultMaxLivenessEvents.
	MaxLivenessEvents int

	// SkipFence is a deliberately broken variant for tests: the leaders' models get a client whose multis drop
	// zk.Fenced's check of the lock node, so a deposed leader's snapshot and hash write lands.
	SkipFence bool
	// NoStepDown is a deliberately broken variant for tests: the simulated session adapter drops the session
	// machine's suspend timer, so a leader cut off from ZooKeeper never steps down.
	NoStepDown bool

	// Paused creates every cluster's paused node (DESIGN §13) before any pod starts and deletes it when the
	// liveness phase begins: no pod may be configured during the safety phase, and the clusters must converge
	// once resumed.
	Paused bool

	// Actors are custom actors (actors/custom, DESIGN §4) every pod runs, wired as runtime/pod wires
	// pod.Config.Actors (custom.go).
	Actors []custom.Actor
	// Converged, if set, checks the program's own invariant once every cluster converged after the
	// liveness phase; an error fails the scenario.
	Converged func(v View) error

	// KeepTrace keeps the whole trace in Result.Trace (else only its tail). Formatting every line costs time:
	// use it for the determinism test and for replaying one seed.
	KeepTrace bool
	// TraceTail is how many trace lines a Result keeps without KeepTrace. 0: DefaultTraceTail.
	TraceTail int
	// Strict turns the advisory checks (see Result.Advisories) into failures.
	Strict bool

	// Scale replaces the drawn topology and the safety phase's steps by the virtual-scale scenario (scale.go).
	Scale *Scale

	// Workers is RunMany's parallelism. 0: GOMAXPROCS.
	Workers int
}

// Defaults of Options.
const (
	DefaultSteps             = 60
	DefaultFaultRate         = 0.3
	DefaultOverlapBound      = 3 * time.Second
	DefaultMaxLivenessEvents = 30000
	DefaultTraceTail         = 50
)

func (o Options) withDefaults() Options {
	if o.Steps <= 0 {
		o.Steps = DefaultSteps
	}
	if o.FaultRate == 0 {
		o.FaultRate = DefaultFaultRate
	}
	if o.OverlapBound <= 0 {
		o.OverlapBound = DefaultOverlapBound
	}
	if o.Scale != nil {
		sc := o.Scale.withDefaults()
		o.Scale = &sc
		o.FaultRate = -1 // its own faults only (Scale.Faults): no lock deleted before a write
		if o.MaxLivenessEvents <= 0 {
			o.MaxLivenessEvents = 1000 * sc.Pods // a cluster's phases cost about its pods squared
		}
	}
	if o.MaxLivenessEvents <= 0 {
		o.MaxLivenessEvents = DefaultMaxLivenessEvents
	}
	if o.TraceTail <= 0 {
		o.TraceTail = DefaultTraceTail
	}
	return o
}

// Result is the outcome of one scenario.
type Result struct {
	Seed     uint64
	Topology string // the clusters, their pods and settings, one line
	Events   int    // events delivered (both phases)
	Faults   int    // faults injected
	Virtual  time.Duration
	// TraceHash is a hash of the whole trace: the same seed and options always give the same hash.
	TraceHash uint64
	// Trace is the whole trace with Options.KeepTrace, else its last lines.
	Trace []string
	// Failure says which invariant or liveness condition failed, "" when the scenario passed.
	Failure string
	// Issue names the known production issue the failure is consistent with (the Issue* constants), "" for
	// a failure none explains: a new finding.
	Issue string
	// Advisories are findings that do not fail a scenario unless Options.Strict: a completion issued by an
	// earlier incarnation of an actor acted on by the restarted one, and the like. One line each, counted.
	Advisories map[string]int
	// Scale is what a Scale scenario measured; nil for others.
	Scale *ScaleReport
	// Wall is the wall time the scenario took.
	Wall time.Duration
}

// Failed reports whether the scenario failed.
func (r Result) Failed() bool { return r.Failure != "" }

// Report renders a failed result for humans: the seed, the failure, the topology and the trace tail.
func (r Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %s\n", r.Seed, r.Failure)
	if r.Issue != "" {
		fmt.Fprintf(&b, "consistent with the known issue %q\n", r.Issue)
	}
	fmt.Fprintf(&b, "topology: %s\n", r.Topology)
	fmt.Fprintf(&b, "events %d, faults %d, virtual time %s, trace hash %016x\n", r.Events, r.Faults, r.Virtual, r.TraceHash)
	if r.Scale != nil {
		b.WriteString(r.Scale.String())
	}
	for _, l := range r.Trace {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// Summary is the outcome of RunMany.
type Summary struct {
	Start   uint64 // the first seed
	N       int    // scenarios run
	Failed  int    // scenarios that failed
	Unknown int    // failures no known issue explains
	// Failures are the first few failures in seed order, those no known issue explains first.
	Failures []Result
	// Issues counts the failures of each known issue; IssueSeeds gives the lowest seed showing each.
	Issues     map[string]int
	IssueSeeds map[string]uint64
	Events     int64
	Faults     int64
	Elapsed    time.Duration
	PerSecond  float64 // scenarios per second of wall time
	// Advisories sums the advisory findings of every scenario; AdvisorySeeds gives one seed showing each.
	Advisories    map[string]int
	AdvisorySeeds map[string]uint64
}

// String is a one-line account of the summary.
func (s Summary) String() string {
	return fmt.Sprintf("%d scenarios from seed %d: %d failed (%d unexplained), %d events, %d faults, %s, %.0f scenarios/s",
		s.N, s.Start, s.Failed, s.Unknown, s.Events, s.Faults, s.Elapsed.Round(time.Millisecond), s.PerSecond)
}
