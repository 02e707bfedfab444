package sim

import (
	"errors"
	"iter"

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
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	done  bool
	// parked: the task waits (host.Task's Wait) for what recv takes; poll resumes it once recv took it.
	parked func(block bool) bool
	// exchange: the task waits for a control request's reply (http.go), which resumes it.
	exchange *exchange
	// held: the task waits for what wake resumes it with (world.go: a reply of the pod's actors, a delay).
	held bool
}

// goIO starts a task for owner: body runs now up to its first ZooKeeper call, then call by call.
func (s *Sim) goIO(owner *actor, name string, body func(t *task)) { s.startTask(owner, name, body) }

// startTask is goIO for an owner or none (a handler of http.go: nothing to tell).
func (s *Sim) startTask(owner *actor, name string, body func(t *task)) {
	t := &task{s: s, owner: owner, name: name, ch: &channel{}}
	if owner != nil {
		t.inc = owner.inc
	}
	t.next, t.stop = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		body(t)
	})
	s.tasks = append(s.tasks, t)
	s.resume(t)
}

// resume runs the task until its next ZooKeeper call (or its end) and schedules the call.
func (s *Sim) resume(t *task) {
	prev := s.cur
	s.cur = t
	_, more := t.next()
	s.cur = prev
	if !more {
		t.done = true
		s.dropDone()
		return
	}
	switch {
	case t.parked != nil:
		s.parked = append(s.parked, t)
	case t.exchange != nil, t.held: // its reply, or wake, resumes it
	default:
		s.net(t.ch, func() { s.resume(t) })
	}
}

// opHook is zkmem's op hook: a call made by a task yields to the sim first. Calls the sim makes itself
// (faults, checks) go straight through.
func (s *Sim) opHook(_ int64, op zkmem.OpName, _ string) error {
	t := s.cur
	if t == nil {
		return nil
	}
	if !t.yield(struct{}{}) {
		return errAborted
	}
	if op == zkmem.OpMulti {
		s.beforeMulti(t) // a fault may strike between the call's turn and the call
	}
	return nil
}

// tell sends the task's completion to its owner, tagged with the incarnation that started the task.
func (t *task) tell(msg any) {
	t.s.send(t.ch, t.owner.pid, t.owner.pid, t.inc, msg)
}

func (s *Sim) dropDone() {
	kept := s.tasks[:0]
	for _, t := range s.tasks {
		if !t.done {
			kept = append(kept, t)
		}
	}
	for i := len(kept); i < len(s.tasks); i++ {
		s.tasks[i] = nil
	}
	s.tasks = kept
}

// unwind ends every unfinished task at the end of a scenario: its pending call and any later one fail with
// errAborted, and nothing it sends is delivered.
func (s *Sim) unwind() {
	s.ending = true
	s.parked = nil
	for _, t := range s.tasks {
		s.cur = t
		t.stop()
		s.cur = nil
	}
	s.tasks = nil
}

// poll resumes the tasks parked on a channel (host.Recv: a session's events, a watch's event) that now holds
// something: zkmem emits synchronously into buffered channels, so after each event that made it emit, each
// parked task takes what came, in the order the tasks parked.
func (s *Sim) poll() {
	if !s.dirty || len(s.parked) == 0 {
		return
	}
	s.dirty = false
	var ready []*task
	parked := s.parked[:0]
	for _, t := range s.parked {
		if t.parked(false) {
			t.parked = nil
			ready = append(ready, t)
		} else {
			parked = append(parked, t)
		}
	}
	for i := len(parked); i < len(s.parked); i++ {
		s.parked[i] = nil
	}
	s.parked = parked
	for _, t := range ready {
		s.resume(t)
	}
}
