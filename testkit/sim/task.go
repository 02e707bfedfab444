package sim

import (
	"errors"
	"iter"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
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
}

// goIO starts a task for owner: body runs now up to its first ZooKeeper call, then call by call.
func (s *Sim) goIO(owner *actor, name string, body func(t *task)) {
	t := &task{s: s, owner: owner, inc: owner.inc, name: name, ch: &channel{}}
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
	if t.parked != nil {
		s.parked = append(s.parked, t)
		return
	}
	s.net(t.ch, func() { s.resume(t) })
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

// relay is the goroutine of session.actor.go's dial: it forwards the client's session events, in order.
type relay struct {
	events <-chan zk.SessionEvent
	to     *actor
	inc    int
	epoch  uint64
	ch     *channel
}

// watchWait is the second half of a watch goroutine: it waits for the watch's one event and reports it.
type watchWait struct {
	ch   <-chan zk.WatchEvent
	t    *task
	gen  uint64
	path string
}

// waitWatch registers the watch a task just set; its event is reported as NodeChanged on the task's channel.
func (t *task) waitWatch(ch <-chan zk.WatchEvent, gen uint64, path string) {
	t.s.waits = append(t.s.waits, &watchWait{ch: ch, t: t, gen: gen, path: path})
}

// poll forwards what ZooKeeper emitted since the last event: session events to their sessions, watch
// events to whoever set the watch. zkmem emits synchronously into buffered channels, so nothing is missed.
func (s *Sim) poll() {
	if !s.dirty {
		return
	}
	s.dirty = false
	relays := s.relays[:0]
	for _, r := range s.relays {
		if s.drainRelay(r) {
			relays = append(relays, r)
		}
	}
	for i := len(relays); i < len(s.relays); i++ {
		s.relays[i] = nil
	}
	s.relays = relays
	waits := s.waits[:0]
	for _, w := range s.waits {
		select {
		case ev, open := <-w.ch:
			w.t.tell(&v1.NodeChanged{Generation: w.gen, Path: w.path, Event: protocol.Event(ev, open)})
		default:
			waits = append(waits, w)
		}
	}
	for i := len(waits); i < len(s.waits); i++ {
		s.waits[i] = nil
	}
	s.waits = waits
	if len(s.parked) == 0 {
		return
	}
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

// drainRelay forwards a client's pending session events; false once the channel is closed.
func (s *Sim) drainRelay(r *relay) bool {
	for {
		select {
		case ev, open := <-r.events:
			if !open {
				return false
			}
			s.send(r.ch, r.to.pid, r.to.pid, r.inc, &v1.SessionStateChanged{
				Epoch: r.epoch, State: protocol.State(ev.State), SessionId: ev.SessionID, Server: ev.Server,
			})
		default:
			return true
		}
	}
}
