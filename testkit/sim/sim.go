package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
)

// Sim is one scenario: the clusters and pods, the in-memory ZooKeeper, the virtual clock that orders every
// event, and the random source that picks latencies and faults. Everything runs on the goroutine that calls
// run, except the bodies of I/O tasks, which run as coroutines handing control back and forth with it (see
// task.go): at any moment exactly one of them runs, so the sim needs no lock.
type Sim struct {
	seed uint64
	opts Options
	rng  *rand.Rand
	clk  *vclock.Clock
	t0   time.Time
	srv  *zkmem.Server
	// admin is the sim's own session: the operator's hand in faults and the observer in liveness checks.
	admin zk.Conn
	tr    *tracer
	topo  topology

	clusters []*cluster
	byName   map[string]*cluster // by qualified name
	// touched are the clusters an event changed since the last safety check; overdue, those with a
	// believer whose lock node is gone (invariant (d) runs with time).
	touched, overdue []*cluster
	pass             uint64          // counts the safety checks
	pods             []*pod          // every pod ever started, in order
	byKey            map[string]*pod // by key
	byURL            map[string]*pod // by control URL
	actors           map[int]*actor  // live actors by pid
	nextPID          int
	pairs            map[[2]int]*channel // FIFO channels between two actors
	// endpoints are the control ports listening, by "host:port"; waiting, the control requests in flight of
	// each actor's tasks (http.go).
	endpoints map[string]*endpoint
	waiting   map[int][]*exchange
	// listeners are the actors spawned with host.Props.Events, in spawn order (publish drops the dead).
	listeners []*actor

	cur    *task     // the task whose body runs now, nil on the sim's goroutine
	tasks  []*task   // tasks not finished yet
	idle   []*worker // coroutines that ran a task to its end, for the next ones
	parked []*task   // tasks of no pod waiting for a watch's event (host.Task's Wait)
	// parkedOf are each pod's parked tasks, in the order they parked; ready, the pods whose sessions got
	// an event since the last poll (zkmem.WithDelivered), so that poll looks at their tasks only.
	parkedOf  map[*pod][]*task
	ready     []*pod
	isReady   map[*pod]bool
	sessionOf map[int64]*pod // the pod that dialed each session
	parkSeq   uint64
	dirty     bool // ZooKeeper emitted something since the last poll
	ending    bool // the scenario is over: tasks are being unwound, nothing is sent any more

	events     int
	maxSafety  int // the safety phase stops early after that many events
	faults     int
	stage      string // "setup", "safety" or "liveness"
	failure    string
	advisories map[string]int
	promised   map[string]int64   // the seq each pod key was configured with, the first time it was
	conflict   *seqConflict       // what invariant (b) tripped on, for the diagnosis
	cuts       map[int64]*cutSpan // sessions the faults cut off: since when, and until when

	scaleReport *ScaleReport // what a Scale scenario measured
}

// cutSpan is when a session was cut off from ZooKeeper, and when its connection came back (-1: not yet).
type cutSpan struct{ from, to time.Duration }

// eventBuffer is the capacity of each client's session event channel: the sim drains them after every event,
// so a few suffice (zkmem records an overflow as a violation).
const eventBuffer = 64

// channel is a FIFO link: what is sent on it is delivered in order, whatever latency each message draws.
type channel struct{ last time.Time }

func newSim(seed uint64, opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		seed:       seed,
		opts:       opts,
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		clk:        vclock.New(),
		tr:         newTracer(opts.KeepTrace, opts.TraceTail),
		byKey:      map[string]*pod{},
		byURL:      map[string]*pod{},
		actors:     map[int]*actor{},
		pairs:      map[[2]int]*channel{},
		endpoints:  map[string]*endpoint{},
		waiting:    map[int][]*exchange{},
		advisories: map[string]int{},
		promised:   map[string]int64{},
		cuts:       map[int64]*cutSpan{},
		parkedOf:   map[*pod][]*task{},
		isReady:    map[*pod]bool{},
		sessionOf:  map[int64]*pod{},
		stage:      "setup",
		maxSafety:  maxSafetyEvents,
	}
	s.t0 = s.clk.Now()
	s.srv = zkmem.New(s.clk,
		zkmem.WithOpHook(s.opHook),
		zkmem.WithEventBuffer(eventBuffer),
		zkmem.WithTrace(s.zkTrace),
		zkmem.WithDelivered(s.delivered),
		zkmem.WithInvariant("fenced-writes", s.fencedWrites),
		zkmem.WithInvariant("pod-seq", s.podSeqInZK),
		zkmem.WithInvariant("touch", s.touchCommit),
	)
	if opts.Scale != nil {
		s.srv.AddInvariant("scale-delays", s.observeCommit)
	}
	return s
}

// now is the virtual time since the scenario began.
func (s *Sim) now() time.Duration { return s.clk.Now().Sub(s.t0) }

// trace adds a line to the trace.
func (s *Sim) trace(who, what string, msg any, text string) {
	s.tr.add(record{at: s.now(), who: who, what: what, msg: msg, text: text})
}

// zkTrace receives the in-memory ZooKeeper's own trace (commits, session and watch events), under its lock.
func (s *Sim) zkTrace(line string) {
	s.dirty = true
	s.trace("zk", "", nil, line)
}

// fail records the first failure; the run stops at the next check.
func (s *Sim) fail(format string, args ...any) {
	if s.failure != "" {
		return
	}
	s.failure = fmt.Sprintf("%s: %s", s.stage, fmt.Sprintf(format, args...))
	s.trace("sim", "FAIL", nil, s.failure)
}

// advise records an advisory finding (see Result.Advisories).
func (s *Sim) advise(what string) {
	s.advisories[what]++
	if s.advisories[what] == 1 {
		s.trace("sim", "ADVISORY", nil, what)
	}
}

// netLatency draws a network round trip (a ZooKeeper call, a control request or its reply): mostly a few
// milliseconds, sometimes tens, rarely a few hundred. OverlapBound must exceed a few of them.
func (s *Sim) netLatency() time.Duration {
	switch r := s.rng.IntN(100); {
	case r < 80:
		return time.Duration(s.rng.IntN(5000)) * time.Microsecond
	case r < 98:
		return 5*time.Millisecond + time.Duration(s.rng.IntN(45000))*time.Microsecond
	}
	return 50*time.Millisecond + time.Duration(s.rng.IntN(250))*time.Millisecond
}

// localLatency draws the delivery of a message inside the process (a mailbox): up to 200 µs.
func (s *Sim) localLatency() time.Duration {
	return time.Duration(s.rng.IntN(200)) * time.Microsecond
}

// at runs fn after d of virtual time, as one event.
func (s *Sim) at(d time.Duration, fn func()) clock.Timer {
	return s.clk.AfterFunc(d, fn)
}

// on runs fn after a local latency on ch (nil: no order with anything else).
func (s *Sim) on(ch *channel, fn func()) { s.after(ch, s.localLatency(), fn) }

// net runs fn after a network latency on ch.
func (s *Sim) net(ch *channel, fn func()) { s.after(ch, s.netLatency(), fn) }

// after runs fn d from now, never before what was sent on ch earlier.
func (s *Sim) after(ch *channel, d time.Duration, fn func()) {
	due := s.clk.Now().Add(d)
	if ch != nil {
		if due.Before(ch.last) {
			due = ch.last
		}
		ch.last = due
	}
	s.clk.AfterFunc(due.Sub(s.clk.Now()), fn)
}

// pair is the FIFO channel from one actor to another (protoactor delivers one sender's messages in order).
func (s *Sim) pair(from, to int) *channel {
	k := [2]int{from, to}
	ch, ok := s.pairs[k]
	if !ok {
		ch = &channel{}
		s.pairs[k] = ch
	}
	return ch
}

// send delivers msg to the actor pid after a local latency on ch. inc is the incarnation of the recipient that
// issued the work msg completes, or -1 for a message from someone else.
func (s *Sim) send(ch *channel, to, from int, inc int, msg any) {
	if s.ending {
		return
	}
	s.on(ch, func() { s.deliver(envelope{to: to, from: from, inc: inc, msg: msg}) })
}

// step fires the next event. It reports false when nothing is pending.
func (s *Sim) step() bool {
	if !s.clk.FireNext() {
		return false
	}
	s.events++
	s.poll()
	s.checkSafety()
	return true
}
