package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"time"

	fastjson "github.com/segmentio/encoding/json"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
)

// The world around a pod's shipped actors: what `ochopod run` and the machine do for it. Its user lifecycle
// (app) configures without fail unless a fault says otherwise, its processes are fakeproc's, its control port
// serves the real control handler (runtime/control) over the pod's root, and the calls the handler and the
// sim make into the tree wait for their replies as a future of protoactor does.

// app is the pod's user lifecycle (runtime/sdk): it records what it is configured with, for the invariants,
// and fails or stalls as the faults say.
type app struct{ p *pod }

var (
	_ sdk.Lifecycle     = app{}
	_ sdk.CanConfigurer = app{}
)

// errRefusing is can_configure's failure while the pod refuses (faultRefuse): check answers 406.
var errRefusing = errors.New("sim: the pod refuses the configuration")

// CanConfigure is the check of a phase: invariant (b) on the cluster it names.
func (a app) CanConfigure(_ context.Context, c *sdk.Cluster) error {
	a.p.stall()
	a.p.s.checkCluster(a.p, c)
	if a.p.refuse {
		return errRefusing
	}
	return nil
}

// Configure is the on of a phase that (re)starts the process (the first one, or new dependencies).
func (a app) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	a.p.stall()
	a.p.s.checkCluster(a.p, c)
	return sdk.Command{Argv: []string{"app", "--pod", a.p.key}}, nil
}

// onBody is what configured reads of an on's body: each pod's seq, the dependencies' names. The pod's
// lifecycle opened and checked the whole body before it answered 200; parsing every payload once more here
// cost a tenth of a Scale scenario.
type onBody struct {
	Pods map[string]struct {
		Seq any `json:"seq"`
	} `json:"pods"`
	Dependencies map[string]json.RawMessage `json:"dependencies"`
}

// configured notes the cluster an on the lifecycle accepted carried, as seen at the pod's port: the pod is
// configured with it from now on (a running process whose dependencies did not change gets no configure
// callback, DESIGN §6, yet takes the cluster as its own).
func (p *pod) configured(body []byte) {
	var on onBody
	err := fastjson.Unmarshal(body, &on)
	if err == nil && on.Pods == nil {
		err = errors.New("no pods")
	}
	if err != nil {
		p.s.fail("pod %s accepted an on whose body is not a cluster: %v", p.key, err)
		return
	}
	w := &wire{pods: make(map[string]payload.Payload, len(on.Pods)), keys: sortedKeys(on.Pods)}
	cfg := &podConfig{keys: w.keys, seqs: make([]int64, 0, len(w.keys)), deps: sortedKeys(on.Dependencies)}
	for _, k := range w.keys {
		w.pods[k] = payload.Payload{payload.KeySeq: on.Pods[k].Seq}
		seq, _ := w.pods[k].Seq()
		cfg.seqs = append(cfg.seqs, seq)
	}
	p.s.checkWire(p, w)
	p.config = cfg
	p.configs++
}

// stall is a callback that hangs (faultStall): it holds the lifecycle's queue past the request's timeout,
// so the control handler answers 408 meanwhile.
func (p *pod) stall() {
	if p.stalled > 0 {
		p.delay(p.stalled)
	}
}

// handler is the pod's control port: the real control handler (runtime/control) over the pod's root, whose
// replies leave late while the pod is slow (faultSlow).
func (p *pod) handler() http.Handler {
	h := control.Handler(backend{p: p}, nil, control.Settings{}, nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if p.slow > 0 {
			p.delay(p.slow)
		}
	})
}

// delay holds the running task (a callback, a handler) for d.
func (p *pod) delay(d time.Duration) {
	s, t := p.s, p.s.cur
	if t == nil {
		return
	}
	s.at(d, func() { s.wake(t) })
	s.hold(t)
}

// heal ends the pod's faults: it configures again and answers at once from now on; what a fault holds
// already (a hanging callback, a late reply) runs to its end.
func (p *pod) heal() {
	p.refuse, p.stalled, p.slow = false, 0, 0
	if p.state != podGone {
		p.s.listen(p.addr(), p.port)
		p.s.cutHTTP(p.addr(), false)
	}
}

// checkCluster is invariant (b) on a configuration as the pod's callbacks get it.
func (s *Sim) checkCluster(to *pod, c *sdk.Cluster) {
	w := &wire{pods: make(map[string]payload.Payload, len(c.Pods))}
	for _, pod := range c.Pods {
		w.keys = append(w.keys, pod.Key)
		w.pods[pod.Key] = pod.Payload
	}
	s.checkWire(to, w)
}

// procs is the pod's process spawner (fakeproc): a process ends when a fault or a signal says so, and the
// sim looks at the tasks waiting for it after that event.
type procs struct {
	p  *pod
	sp *fakeproc.Spawner
}

func (ps procs) Spawn(spec proc.Spec) (proc.Process, error) {
	if old := ps.p.running(); old != nil {
		ps.p.s.fail("(e) pod %s starts a second process while pid %d runs", ps.p.key, old.Pid())
	}
	pr, err := ps.sp.Spawn(spec)
	if err != nil {
		return nil, err
	}
	ps.p.s.trace(ps.p.who(), "spawn", nil, fmt.Sprintf("pid %d", pr.Pid()))
	return process{Process: pr, s: ps.p.s, p: ps.p}, nil
}

// process is a fake process whose end (by a signal here) wakes the task waiting for it.
type process struct {
	proc.Process
	s *Sim
	p *pod
}

func (pr process) Signal(sig syscall.Signal) error {
	err := pr.Process.Signal(sig)
	pr.s.dirty = true
	pr.s.markReady(pr.p)
	return err
}

// running is the pod's process, if one runs.
func (p *pod) running() *fakeproc.Process {
	r := p.procs.Running()
	if len(r) == 0 {
		return nil
	}
	return r[len(r)-1]
}

// ended makes the pod's process end with status (0: the work is done, the pod dies; else a crash the
// lifecycle restarts); false without a process.
func (p *pod) ended(status int) bool {
	pr := p.running()
	if pr == nil {
		return false
	}
	pr.ExitWith(status)
	p.s.dirty = true
	p.s.markReady(p)
	return true
}

// published watches what the pod's actors publish: a lifecycle that died makes `ochopod run` deregister
// and linger (DESIGN §11).
func (s *Sim) published(from *actor, msg proto.Message) {
	st, ok := msg.(*v1.LifecycleStatus)
	if !ok || from.kind != kindLifecycle {
		return
	}
	from.pod.status = st
	if st.GetProcess() == v1.ProcessState_PROCESS_STATE_DEAD {
		from.pod.die()
	}
}

// processConverged: the pod runs at most one process, the one its lifecycle says it runs (none orphaned by
// a crash of the lifecycle or the executor), and its lifecycle holds the configuration the pod accepted last
// (a restarted lifecycle that forgot it leaves the pod unconfigured: nobody configures it again until its
// cluster changes).
func (p *pod) processConverged() error {
	st := p.status
	if c := p.config; c != nil {
		deps := slices.Sorted(slices.Values(st.GetDependencies()))
		if !st.GetConfigured() || !slices.Equal(deps, c.deps) {
			return fmt.Errorf("pod %s accepted a configuration (dependencies %v) its lifecycle forgot (configured %v, dependencies %v)",
				p.key, c.deps, st.GetConfigured(), deps)
		}
	}
	running := p.procs.Running()
	if len(running) > 1 {
		return fmt.Errorf("(e) pod %s runs %d processes", p.key, len(running))
	}
	switch {
	case len(running) == 1 && st.GetPid() != int64(running[0].Pid()):
		return fmt.Errorf("(e) pod %s runs pid %d, its lifecycle knows pid %d (%s): an orphan", p.key, running[0].Pid(), st.GetPid(), st.GetProcess())
	case len(running) == 0 && st.GetPid() != 0:
		return fmt.Errorf("(e) pod %s runs no process, its lifecycle believes pid %d runs", p.key, st.GetPid())
	}
	return nil
}

// call is a request from outside the pod's tree (its control handler, `ochopod run`) and the address its
// reply comes back to: a short-lived actor, as a protoactor future is.
type call struct {
	a     *actor
	reply func(msg any) // the first reply; then the call is over
}

func (c *call) start()   {}
func (c *call) release() {}
func (c *call) receive(env envelope) int {
	if reply := c.reply; reply != nil {
		c.reply = nil
		c.a.s.forget(c.a)
		reply(env.msg)
	}
	return 0
}

// ask sends msg to the pod's root as a request from outside; reply (nil: none awaited) gets the answer, if
// one comes. It returns the call's actor, to forget it when the caller gives up.
func (p *pod) ask(msg any, reply func(any)) *actor {
	if p.root == nil || !p.root.alive {
		return nil
	}
	c := &call{reply: reply}
	a := p.s.spawn(nil, p, kindCall, func(a *actor) behaviour { c.a = a; return c })
	a.ask(p.root, msg)
	if reply == nil {
		p.s.forget(a)
	}
	return a
}

// forget ends a call's actor quietly: what still comes for it is a dead letter.
func (s *Sim) forget(a *actor) {
	if a != nil && a.alive {
		a.alive = false
		delete(s.actors, a.pid)
	}
}

// hold parks the running task until wake; false when the scenario ended meanwhile.
func (s *Sim) hold(t *task) bool {
	t.held = true
	ok := t.pause()
	t.held = false
	return ok
}

// wake resumes a held task, from the event that ends its wait.
func (s *Sim) wake(t *task) {
	if s.ending || t.done || !t.held {
		return
	}
	t.held = false
	s.resume(t)
}

// backend is the pod as its control handler sees it (runtime/control's Backend, as *pod.Pod is in
// production): each control request goes to the pod's root and its reply is awaited on the virtual clock,
// within the request's timeout.
type backend struct{ p *pod }

var _ control.Backend = backend{}

func (b backend) Info(context.Context) (map[string]any, error) {
	return map[string]any{"key": b.p.key, "ip": b.p.ip}, nil
}

func (b backend) Log() []string { return []string{} }

func (b backend) Reset(cause string) { b.p.ask(&v1.ResetSession{Cause: cause}, nil) }

func (b backend) Control(ctx context.Context, r control.Request) (int, []byte, error) {
	s, t := b.p.s, b.p.s.cur
	if t == nil {
		return 0, nil, errors.New("sim: a control request outside a sim task")
	}
	var reply *v1.ControlReply
	var timer clock.Timer
	c := b.p.ask(&v1.ControlRequest{Task: r.Task, Body: slices.Clone(r.Body), Phase: r.Phase, Timeout: durationpb.New(r.Timeout)},
		func(msg any) {
			reply, _ = msg.(*v1.ControlReply)
			timer.Stop()
			s.wake(t)
		})
	if c == nil {
		return 0, nil, errors.New("sim: the pod's tree is gone")
	}
	timer = s.at(r.Timeout, func() { s.forget(c); s.wake(t) })
	if !s.hold(t) {
		return 0, nil, errAborted
	}
	s.forget(c)
	if reply == nil {
		return 0, nil, control.ErrTimeout
	}
	if r.Task == v1.Task_TASK_ON && reply.GetCode() == 200 && len(r.Body) > 0 {
		b.p.configured(r.Body)
	}
	if r.Task == v1.Task_TASK_OK && (reply.GetCode() == 200 || reply.GetCode() == 500) {
		b.p.lastOK = r.Phase
	}
	return int(reply.GetCode()), reply.GetBody(), nil
}
