package sim

import (
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/actors/executor"
	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/payload"
	podrt "github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/supervise"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/fakeproc"
)

// podState is where a simulated pod is in its life.
type podState int

const (
	podRunning podState = iota
	podLeaving          // SIGTERM: deregistering, then it exits
	podDying            // its sub-process ended with 0: the lifecycle finalizes, then dies
	podDead             // its sub-process is done (DESIGN §11): deregistering, answering 410 while it lingers
	podGone             // the process exited or was killed: nothing answers
)

// linger is how long a dead pod keeps answering (ochopod run's --linger default), and how long a stopping
// pod waits for its session before it exits anyway.
const linger = 5 * time.Second

// pod is one simulated pod: runtime/pod's root as shipped, with the session, the lifecycle and the executor
// below it, serving the real control handler; around it the simulated world (world.go): its user lifecycle,
// its fake processes, and what `ochopod run` does (deregister and linger once dead, exit on SIGTERM). The
// sim keeps the pod's identity as the root learnt it and the configurations it received, for the invariants.
type pod struct {
	s      *Sim
	cl     *cluster
	key    string
	ip     string
	url    string
	base   payload.Payload // registration payload without seq
	seq    int64
	hasSeq bool

	// models counts the pod's models across its sessions and leaders, as runtime/pod does: a restarted
	// session or leader takes its lock node again, and phases must keep names of their own (model.Config.Instances).
	models   atomic.Uint64
	root     *actor    // runtime/pod's root: the pod's identity; the session and the lifecycle are its children
	session  *actor    // the root's session child, nil once the process is gone
	conns    []zk.Conn // every client the pod dialed; a process that exits takes them along
	procs    *fakeproc.Spawner
	state    podState
	port     http.Handler  // what its control port serves
	refuse   bool          // its can_configure fails: check answers 406
	stalled  time.Duration // its callbacks hang this long (faultStall)
	slow     time.Duration // its control replies leave this late (faultSlow)
	faultGen int           // the port's last fault (partition, refused): only it ends it

	status  *v1.LifecycleStatus // the last its lifecycle published
	config  *podConfig          // the last configuration an "on" carried that the lifecycle accepted
	configs int
	lastOK  string  // the phase of the last ok the pod answered at its port, 200 or 500: its configured() ran
	created []int64 // the sequences of the pod nodes its registrations created, for the diagnosis
	// heldCreate is a crashed leader's contender create, held up until the next incarnation's (stale.go).
	heldCreate *task
}

// podConfig is what a pod was configured with: the pods (sorted keys, their seqs) and the dependencies.
type podConfig struct {
	keys []string
	seqs []int64
	deps []string
}

// live reports whether the pod runs and means to stay: the pods a converged cluster must account for.
func (p *pod) live() bool { return p.state == podRunning }

// who names the pod in the trace.
func (p *pod) who() string { return p.cl.name + "/" + p.key }

// startPod starts a new pod in c: its root spawns the lifecycle and the session, which registers and
// contends; its control port listens.
func (s *Sim) startPod(c *cluster) *pod {
	n := len(s.pods)
	p := &pod{
		s: s, cl: c, key: fmt.Sprintf("%08x", s.rng.Uint32()),
		ip: fmt.Sprintf("10.%d.%d.%d", c.idx%256, n/250%256, n%250+1), procs: fakeproc.New(),
	}
	for s.byKey[p.key] != nil {
		p.key = fmt.Sprintf("%08x", s.rng.Uint32())
	}
	p.url = "http://" + p.ip + ":8080"
	// Only what the configuration phase needs (DESIGN §7: ip, port, ports): JSON is most of a scenario's cost.
	p.base = payload.Payload{payload.KeyIP: p.ip, payload.KeyPort: "8080", payload.KeyPorts: map[string]any{"8080": int64(8080)}}
	s.pods = append(s.pods, p)
	c.pods = append(c.pods, p)
	s.byKey[p.key] = p
	s.byURL[p.url] = p
	p.port = p.handler()
	s.listen(p.addr(), p.port)
	s.trace(p.who(), "start", nil, p.ip)
	custom, announce := s.customProps(p)
	root := podrt.RootProps(podrt.RootConfig{
		Key: p.key, Session: s.sessionProps(p), Custom: custom, Cluster: announce, Supervisor: supervise.DefaultPolicy(),
		Lifecycle: lifecycle.Props(lifecycle.Config{
			Lifecycle: app{p: p}, Settings: lifecycleSettings, Supervisor: supervise.DefaultPolicy(), Cluster: announce,
			Executor: executor.Props(executor.Config{Spawner: procs{p: p, sp: p.procs}, Supervisor: supervise.DefaultPolicy()}),
		}),
	})
	p.root = s.spawnWith(nil, p, kindRoot, root.Supervisor, func(a *actor) behaviour {
		return &hostedRoot{hosted{a: a, b: root.New()}}
	})
	return p
}

// lifecycleSettings are the pods' (DESIGN §6 defaults), but for sanity checks: every hour, so a converged
// scenario is quiet (liveness.go) yet each configured start runs one.
var lifecycleSettings = lifecycle.Settings{CheckEvery: time.Hour}

// hostedRoot is runtime/pod's root as shipped; the sim notes the seq it takes from the session's first
// registration, the pod's identity from then on (invariant b).
type hostedRoot struct{ hosted }

func (r *hostedRoot) receive(env envelope) int {
	n := r.hosted.receive(env)
	msg, ok := env.msg.(*v1.SeqAssigned)
	p := r.a.pod
	if !ok || msg.GetKey() != p.key || p.hasSeq {
		return n
	}
	p.seq, p.hasSeq = msg.GetSeq(), true
	p.s.trace(p.who(), "seq", nil, fmt.Sprint(msg.GetSeq()))
	if prev, ok := p.s.promised[p.key]; ok && prev != msg.GetSeq() {
		p.s.seqFail(p.key, []int64{prev, msg.GetSeq()}, "(b) pod %s was configured with seq %d before it took seq %d", p.key, prev, msg.GetSeq())
	}
	return n
}

// toSession sends msg to the session through the root, as `ochopod run` and the control API do; the
// session's SessionStopped comes back to the pod.
func (p *pod) toSession(msg any) {
	p.ask(msg, func(reply any) {
		if _, ok := reply.(*v1.SessionStopped); ok {
			p.stopped()
		}
	})
}

// leave is SIGTERM: the session deregisters, then the process exits (at the latest after linger).
func (p *pod) leave() {
	if p.state != podRunning {
		return
	}
	p.state = podLeaving
	p.toSession(&v1.StopSession{})
	p.s.at(linger, func() { p.exit(false) })
}

// die is the lifecycle's death (its process ended with 0, or a configuration failed; DESIGN §11): the pod
// deregisters at once, its lifecycle answers 410 while it lingers, then it exits.
func (p *pod) die() {
	if p.state != podRunning && p.state != podDying {
		return
	}
	p.state = podDead
	p.s.trace(p.who(), "dead", nil, "")
	p.toSession(&v1.StopSession{})
	p.s.at(linger, func() { p.exit(false) })
}

// stopped is the session's Stopped: a leaving pod exits now, a dead one once it lingered.
func (p *pod) stopped() {
	if p.state == podLeaving {
		p.exit(false)
	}
}

// exit ends the pod's process, its actors and its control port; its sub-process dies with it (the
// parent-death signal). A clean exit closes its clients (a connected session ends at once on the server); a
// killed process cannot: its sessions expire one timeout later.
func (p *pod) exit(killed bool) {
	if p.state == podGone {
		return
	}
	p.state = podGone
	what := "exit"
	if killed {
		what = "killed"
	}
	p.s.trace(p.who(), what, nil, "")
	p.s.vanish(p.root) // and everything below it
	p.s.unlisten(p.addr())
	p.session = nil
	for _, pr := range p.procs.Running() {
		pr.KillWith(syscall.SIGKILL)
	}
	for _, c := range p.conns {
		if killed {
			_ = p.s.srv.Disconnect(c.SessionID())
		}
		c.Close()
	}
	p.conns = nil
}

// wire is the cluster a phase sends (sdk.Wire), as the sim needs it.
type wire struct {
	pods map[string]payload.Payload
	keys []string // sorted
	deps []string // sorted
}

func (w *wire) without(key string) *wire {
	out := &wire{pods: w.pods, deps: w.deps}
	for _, k := range w.keys {
		if k != key {
			out.keys = append(out.keys, k)
		}
	}
	return out
}

// seqFail fails invariant (b) on pod key and the seqs in question.
func (s *Sim) seqFail(key string, seqs []int64, format string, args ...any) {
	if s.failure == "" {
		s.conflict = &seqConflict{key: key, seqs: seqs}
	}
	s.fail(format, args...)
}

// checkWire is invariant (b) as the pods see it: the seq a configuration gives a pod is the one the pod
// holds, and never changes; seqs are unique within the cluster.
func (s *Sim) checkWire(to *pod, w *wire) {
	seen := make([]int64, 0, len(w.keys))
	for _, k := range w.keys {
		seq, ok := w.pods[k].Seq()
		if !ok {
			s.fail("(b) pod %s got a configuration where pod %s has no seq", to.key, k)
			return
		}
		if slices.Contains(seen, seq) {
			s.fail("(b) pod %s got a configuration where seq %d is given twice", to.key, seq)
			return
		}
		seen = append(seen, seq)
		if owner := s.byKey[k]; owner != nil && owner.hasSeq && owner.seq != seq {
			s.seqFail(k, []int64{seq, owner.seq}, "(b) pod %s got a configuration giving pod %s seq %d, but its seq is %d", to.key, k, seq, owner.seq)
			return
		}
		if prev, ok := s.promised[k]; ok && prev != seq {
			s.seqFail(k, []int64{seq, prev}, "(b) pod %s got a configuration giving pod %s seq %d, an earlier one gave it %d", to.key, k, seq, prev)
			return
		}
		s.promised[k] = seq
	}
}
