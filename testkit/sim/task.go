package sim

import (
	"cmp"
	"errors"
	"iter"
	"slices"
	"time"

	"github.com/ochopod/ochopod/testkit/zkmem"
)

// errAborted fails the ZooKeeper calls of a task unwound at the end of a scenario.
var errAborted = errors.New("sim: scenario over")

// task is the sim's version of the goroutine an adapter starts for its I/O (`go func() { tell(io(conn)) }()`).
// Its body is the same sequence of ZooKeeper calls, run as a coroutine (iter.Pull): before each call the
// op hook hands control back to the sim, and the call runs only when the sim resumes the task, one latency
// later, as an event of its own. So every call of every task is a separate event in the seeded schedule:
// other pods' calls, faults and session events interleave between the calls of one task as they would
// between goroutines, yet one seed always gives the same interleaving.
type task struct {
	s     *Sim
	owner *actor
	inc   int
	name  string
	ch    *channel // its messages arrive in order
	w     *worker  // the coroutine that runs its body
	done  bool
	idx   int // its place in s.tasks
	// parked: the task waits (host.Task's Wait) for what recv takes; poll resumes it once recv took it.
	parked  func(block bool) bool
	parkSeq uint64 // the order it parked in
	// exchange: the task waits for a control request's reply (http.go), which resumes it.
	exchange *exchange
	// held: the task waits for what wake resumes it with (world.go: a reply of the pod's actors, a delay).
	held bool
	// hold delays its next call by this much more than a network latency (holdWrite).
	hold time.Duration
}

// worker is a coroutine (iter.Pull) that runs task bodies one after the other, each up to its next call at a
// time. A scenario starts thousands of tasks: a goroutine each, growing its stack each time, cost a third of
// the scenario's time; a worker is taken from the sim's idle ones when there is one.
type worker struct {
	next  func() (finished bool, alive bool)
	stop  func()
	yield func(finished bool) bool
	body  func()
}

func newWorker() *worker {
	w := &worker{}
	w.next, w.stop = iter.Pull(func(yield func(bool) bool) {
		w.yield = yield
		for {
			body := w.body
			w.body = nil
			body()
			if !yield(true) { // idle until the next body, or stopped
				return
			}
		}
	})
	return w
}

// pause hands control back to the sim until it resumes the task; false once the scenario is over (the
// task is being unwound: it must not go on with its I/O).
func (t *task) pause() bool { return t.w.yield(false) }

// goIO starts a task for owner: body runs now up to its first ZooKeeper call, then call by call.
func (s *Sim) goIO(owner *actor, name string, body func(t *task)) { s.startTask(owner, name, body) }

// startTask is goIO for an owner or none (a handler of http.go: nothing to tell).
func (s *Sim) startTask(owner *actor, name string, body func(t *task)) {
	t := &task{s: s, owner: owner, name: name, ch: &channel{}, idx: len(s.tasks)}
	if owner != nil {
		t.inc = owner.inc
	}
	if n := len(s.idle); n > 0 {
		t.w, s.idle = s.idle[n-1], s.idle[:n-1]
	} else {
		t.w = newWorker()
	}
	t.w.body = func() { body(t) }
	s.tasks = append(s.tasks, t)
	s.resume(t)
}

// resume runs the task until its next ZooKeeper call (or its end) and schedules the call.
func (s *Sim) resume(t *task) {
	if t.owner != nil {
		s.touchLeader(t.owner)
		s.markReady(t.owner.pod) // what it does may fill a channel another task of the pod waits on
	}
	prev := s.cur
	s.cur = t
	finished, alive := t.w.next()
	s.cur = prev
	if finished || !alive {
		t.done = true
		s.dropDone(t)
		if finished {
			s.idle = append(s.idle, t.w)
		}
		return
	}
	switch {
	case t.parked != nil:
		s.park(t)
	case t.exchange != nil, t.held: // its reply, or wake, resumes it
	default:
		d := s.netLatency() + t.hold
		t.hold = 0
		s.after(t.ch, d, func() { s.resume(t) })
	}
}

// opHook is zkmem's op hook: a call made by a task yields to the sim first. Calls the sim makes itself
// (faults, checks) go straight through.
func (s *Sim) opHook(_ int64, op zkmem.OpName, _ string) error {
	t := s.cur
	if t == nil {
		return nil
	}
	if op == zkmem.OpCreate {
		s.contenderCreate(t) // a fault may hold it up (stale.go)
	}
	if !t.pause() {
		return errAborted
	}
	if op == zkmem.OpMulti {
		s.beforeMulti(t) // a fault may strike between the call's turn and the call
		if s.holdWrite(t) && !t.pause() {
			return errAborted
		}
	}
	return nil
}

// tell sends the task's completion to its owner, tagged with the incarnation that started the task.
func (t *task) tell(msg any) {
	t.s.send(t.ch, t.owner.pid, t.owner.pid, t.inc, msg)
}

// dropDone takes t out of the unfinished tasks, in O(1): the last one takes its place.
func (s *Sim) dropDone(t *task) {
	last := len(s.tasks) - 1
	if t.idx > last || s.tasks[t.idx] != t {
		return
	}
	s.tasks[t.idx] = s.tasks[last]
	s.tasks[t.idx].idx = t.idx
	s.tasks[last] = nil
	s.tasks = s.tasks[:last]
}

// unwind ends every unfinished task at the end of a scenario: its pending call and any later one fail with
// errAborted, and nothing it sends is delivered.
func (s *Sim) unwind() {
	s.ending = true
	s.parked = nil
	s.parkedOf = map[*pod][]*task{}
	for _, t := range s.tasks {
		if t.done {
			continue
		}
		s.cur = t
		t.w.stop()
		s.cur = nil
	}
	s.tasks = nil
	for _, w := range s.idle {
		w.stop()
	}
	s.idle = nil
}

// park lists a task that waits for a ZooKeeper event: under its pod, whose sessions' events wake it.
func (s *Sim) park(t *task) {
	s.parkSeq++
	t.parkSeq = s.parkSeq
	if t.owner == nil {
		s.parked = append(s.parked, t)
		return
	}
	p := t.owner.pod
	s.parkedOf[p] = append(s.parkedOf[p], t)
}

// delivered is zkmem's report that a session's client got an event: its pod's parked tasks may go on.
func (s *Sim) delivered(session int64) {
	if p := s.sessionOf[session]; p != nil {
		s.markReady(p)
	}
}

func (s *Sim) markReady(p *pod) {
	if !s.isReady[p] {
		s.isReady[p] = true
		s.ready = append(s.ready, p)
	}
}

// poll resumes the tasks parked on a channel (host.Recv: a session's events, a watch's event) that now holds
// something: zkmem emits synchronously into buffered channels, so after each event that made it emit, each
// parked task takes what came, in the order the tasks parked. Only the tasks of the pods whose sessions got
// an event are tried (and those of no pod whenever ZooKeeper emitted anything).
func (s *Sim) poll() {
	if !s.dirty {
		return
	}
	s.dirty = false
	var ready []*task
	for _, p := range s.ready {
		delete(s.isReady, p)
		s.parkedOf[p] = s.tryParked(s.parkedOf[p], &ready)
		if len(s.parkedOf[p]) == 0 {
			delete(s.parkedOf, p)
		}
	}
	s.ready = s.ready[:0]
	s.parked = s.tryParked(s.parked, &ready)
	slices.SortFunc(ready, func(a, b *task) int { return cmp.Compare(a.parkSeq, b.parkSeq) })
	for _, t := range ready {
		s.resume(t)
	}
}

// tryParked moves the tasks of list whose channel holds something to ready and returns the others.
func (s *Sim) tryParked(list []*task, ready *[]*task) []*task {
	kept := list[:0]
	for _, t := range list {
		if t.parked(false) {
			t.parked = nil
			*ready = append(*ready, t)
		} else {
			kept = append(kept, t)
		}
	}
	clear(list[len(kept):])
	return kept
}
