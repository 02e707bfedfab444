package sim

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// podState is where a simulated pod is in its life.
type podState int

const (
	podRunning podState = iota
	podLeaving          // SIGTERM: deregistering, then it exits
	podDead             // its sub-process is done (DESIGN §11): deregistering, answering 410 while it lingers
	podGone             // the process exited or was killed: nothing answers
)

// linger is how long a dead pod keeps answering (ochopod run's --linger default), and how long a stopping
// pod waits for its session before it exits anyway.
const linger = 5 * time.Second

// pod is one simulated pod: the root actor's part (its identity: key and seq, which survive restarts of the
// session below it), the process's control endpoint, and the configurations it received.
type pod struct {
	s      *Sim
	cl     *cluster
	key    string
	ip     string
	url    string
	base   payload.Payload // registration payload without seq
	seq    int64
	hasSeq bool

	root    *actor    // runtime/pod's root: the pod's identity; the session is its child
	session *actor    // nil once the process is gone
	conns   []zk.Conn // every client the pod dialed; a process that exits takes them along
	state   podState
	refuse  bool // its can_configure fails: check answers 406
	// lastCheck is the phase of the last check (actors/lifecycle): off, on and ok of another phase get 409.
	lastCheck string

	config  *podConfig // the last configuration an "on" carried
	configs int
	created []int64 // the sequences of the pod nodes its registrations created, for the diagnosis
}

// podConfig is what a pod was configured with: the pods (sorted keys, their seqs) and the dependencies.
type podConfig struct {
	keys []string
	seqs []int64
	deps []string
}

// live reports whether the pod runs and means to stay: the pods a converged cluster must account for.
func (p *pod) live() bool { return p.state == podRunning }

// startPod starts a new pod in c: its root spawns the session, which registers and contends.
func (s *Sim) startPod(c *cluster) *pod {
	n := len(s.pods)
	p := &pod{
		s: s, cl: c, key: fmt.Sprintf("%08x", s.rng.Uint32()),
		ip: fmt.Sprintf("10.%d.%d.%d", c.idx, n/250, n%250+1),
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
	s.listen(p.addr(), p.handler())
	s.trace(c.name+"/"+p.key, "start", nil, p.ip)
	p.root = s.spawn(nil, p, kindRoot, func(a *actor) behaviour { return &podRoot{p: p, a: a} })
	return p
}

// podRoot is the pod's root actor (runtime/pod's root): it spawns the session, holds the pod's identity
// (key, and seq once the first registration gave it) across the session's restarts, and hears the session
// say it stopped.
type podRoot struct {
	p *pod
	a *actor
}

func (r *podRoot) start() {
	r.a.s.spawnCustom(r.a)
	r.p.session = r.a.s.spawnSession(r.a)
}

func (r *podRoot) release() {}

func (r *podRoot) receive(env envelope) int {
	p := r.p
	switch msg := env.msg.(type) {
	case *v1.IdentityRequest:
		// What it holds when the request reaches it: after any SeqAssigned sent before (in order).
		r.a.tell(p.s.actors[env.from], &v1.Identity{Key: p.key, Seq: p.seq, HasSeq: p.hasSeq})
	case *v1.SeqAssigned:
		if msg.GetKey() != p.key || p.hasSeq {
			return 0
		}
		p.seq, p.hasSeq = msg.GetSeq(), true
		p.s.trace(p.cl.name+"/"+p.key, "seq", nil, fmt.Sprint(msg.GetSeq()))
		if prev, ok := p.s.promised[p.key]; ok && prev != msg.GetSeq() {
			p.s.seqFail(p.key, []int64{prev, msg.GetSeq()}, "(b) pod %s was configured with seq %d before it took seq %d", p.key, prev, msg.GetSeq())
		}
	case *v1.SessionStopped:
		p.stopped()
	}
	return 0
}

// toSession sends msg from the root to the session, which may answer (StopSession: SessionStopped).
func (p *pod) toSession(msg any) {
	if p.root != nil && p.session != nil {
		p.root.ask(p.session, msg)
	}
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

// die is the sub-process ending with 0 (DESIGN §11): the pod is dead, deregisters at once, answers 410 to
// control requests while it lingers, then exits.
func (p *pod) die() {
	if p.state != podRunning {
		return
	}
	p.state = podDead
	p.toSession(&v1.StopSession{})
	p.s.at(linger, func() { p.exit(false) })
}

// stopped is the session's Stopped: a leaving pod exits now, a dead one once it lingered.
func (p *pod) stopped() {
	if p.state == podLeaving {
		p.exit(false)
	}
}

// exit ends the process. A clean exit closes its clients (a connected session ends at once on the server);
// a killed process cannot: its sessions expire one timeout later.
func (p *pod) exit(killed bool) {
	if p.state == podGone {
		return
	}
	p.state = podGone
	what := "exit"
	if killed {
		what = "killed"
	}
	p.s.trace(p.cl.name+"/"+p.key, what, nil, "")
	p.s.vanish(p.root) // and the session below it
	p.s.unlisten(p.addr())
	p.session = nil
	for _, c := range p.conns {
		if killed {
			_ = p.s.srv.Disconnect(c.SessionID())
		}
		c.Close()
	}
	p.conns = nil
}

// control answers a control request (DESIGN §8) the way the lifecycle would for a process that configures
// without fail: check 200 (406 while refusing), on 200 and the configuration is kept, off and ok 200; 409
// for off, on and ok of a phase other than the last check's; 410 once dead; no answer at all once gone.
func (p *pod) control(task, phase string, w *wire) (int, error) {
	switch p.state {
	case podGone:
		return 0, errRefused
	case podDead:
		return http.StatusGone, nil
	}
	switch {
	case task == "check":
		p.lastCheck = phase
	case phase != "" && phase != p.lastCheck:
		return http.StatusConflict, nil
	}
	if task == "check" || task == "on" {
		p.s.checkWire(p, w)
	}
	switch task {
	case "check":
		if p.refuse {
			return http.StatusNotAcceptable, nil
		}
	case "on":
		cfg := &podConfig{keys: w.keys, deps: w.deps}
		for _, k := range w.keys {
			seq, _ := w.pods[k].Seq()
			cfg.seqs = append(cfg.seqs, seq)
		}
		p.config = cfg
		p.configs++
	}
	return http.StatusOK, nil
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
