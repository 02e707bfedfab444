package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	neturl "net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// PhasePod is one pod of a configuration phase.
type PhasePod struct {
	Key string
	URL string // http://ip:hostport of its control port; "" if the pod does not expose it
}

// PhasePlan is what a configuration phase needs (DESIGN §7).
type PhasePlan struct {
	Pods []PhasePod // sorted by key
	Wire sdk.Wire   // the cluster sent to every pod; Key is set per pod, Pods loses the pods dropped on 410
	// Grace is the timeout each pod gets for each request, rounded up to whole seconds (the original's pods
	// parse it as an integer); the leader waits 1.25 × that for the reply, as the original's client did.
	Grace time.Duration
	// Phase names the phase to the pods (?phase=, PhaseID): a pod refuses off, on and ok of a phase other than
	// its last check's, so a request of this phase delivered after a newer leader's check changes nothing.
	Phase        string
	Sequential   bool // one request at a time in key order, instead of all at once
	FullShutdown bool // off to every pod before on
	// Guard, when set, runs before the checks and before the pods are turned off or on: an error (the
	// leader lost its lock) aborts the phase, so a deposed leader does not reconfigure pods with a stale view.
	Guard func(ctx context.Context) error
	// Arm, when set, runs once the checks passed, right before the pods are turned off or on: the leader
	// clears the recorded hash there (fenced), so that a phase that dies after some pods were reconfigured
	// leaves ZooKeeper saying "not configured" and the next leader configures again (DESIGN §7 step 4 then
	// records the new hash).
	Arm func(ctx context.Context) error
	// Bodies, when set, makes the pods' bodies for a cluster (runtime/delta: deltas to the pods that read
	// them, DESIGN §7); nil: every pod gets the whole cluster.
	Bodies func(pods map[string]payload.Payload, deps map[string]map[string]payload.Payload) (Bodies, error)
}

// Bodies are the bodies of one phase's cluster, pod by pod (runtime/delta.Bodies); safe for concurrent use.
type Bodies interface {
	// Body is the pod's body; isDelta when it holds only what changed since the pod's base.
	Body(key string) (body []byte, isDelta bool, err error)
	// Refused: the pod answered 412 to its delta; it gets the whole cluster from now on.
	Refused(key string)
	// Accepted: the pod answered 200 to on; this cluster is its base from now on.
	Accepted(key string)
}

// PhasePods lists the pods of a cluster, sorted by key, each with its control URL built from the payload's
// ip, port (the control port as the container sees it) and ports[port] (the host port it is mapped to).
func PhasePods(pods map[string]payload.Payload) []PhasePod {
	out := make([]PhasePod, 0, len(pods))
	for key, p := range pods {
		out = append(out, PhasePod{Key: key, URL: controlURL(p)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ControlURLs are the control URLs a phase calls pods at, for those that expose their control port, in the
// order of PhasePods.
func ControlURLs(pods map[string]payload.Payload) []string {
	urls := make([]string, 0, len(pods))
	for _, p := range PhasePods(pods) {
		if p.URL != "" {
			urls = append(urls, p.URL)
		}
	}
	return urls
}

func controlURL(p payload.Payload) string {
	addr := p.ControlAddress()
	if addr == "" {
		return ""
	}
	scheme := "http://"
	if p.String(payload.KeyScheme) == "https" { // DESIGN §12
		scheme = "https://"
	}
	return scheme + addr
}

// PhaseID names the phase of generation gen run under the lock node lock: unique across leaders (each holds
// its own lock node) and across the phases of one leader, its model restarts included.
func PhaseID(lock string, gen uint64) string {
	return path.Base(lock) + "." + strconv.FormatUint(gen, 10)
}

// Control tasks of the phase (DESIGN §6, §8).
const (
	taskCheck = "check"
	taskOff   = "off"
	taskOn    = "on"
	taskOK    = "ok"
)

// PhaseConfig is one configuration phase's actor (PhaseProps).
type PhaseConfig struct {
	Plan       PhasePlan
	Caller     control.Caller
	Generation uint64 // the model's, on PhaseDone
	// Clock reads when the phase started and ended, for PhaseDone's times (DESIGN §13: the history); nil: no
	// times. The phase's timers are the host's.
	Clock      clock.Clock
	Supervisor host.Supervisor // zero: host.DefaultSupervisor()
}

// PhaseProps is the actor of one configuration phase (DESIGN §7 steps 1 to 3): the PhaseMachine's effects on
// the host. It tells its parent PhaseDone{Generation} once, then waits to be stopped. In order:
//
//  1. every pod must expose its control port, else the phase fails before any request;
//  2. check to every pod: 410 drops the pod, any other reply but 200 (or no reply) fails the phase;
//  3. if a pod is left: off to all of them with FullShutdown (replies ignored, as the original did), then
//     on to all (each must answer 200, else the phase fails), then ok to all (replies ignored).
//
// Each request, the guard and the arm run as a task (host.Context's Go) that tells its outcome; a request
// that got no reply within 1.25 × Grace (a timer of the host's) is cancelled, and its task then tells the
// failure. The requests of a step go to all pods at once, or one after the other in key order with
// Sequential; a step is judged once every pod answered or failed. Stopping the actor cancels what is in
// flight. A crash does not run the phase again: the next incarnation reports the phase failed at once, and
// the model retries one damper later.
func PhaseProps(cfg PhaseConfig) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	var instances atomic.Uint64
	return host.Props{Name: "phase", Supervisor: cfg.Supervisor, New: func() host.Behaviour {
		return &phaseBehaviour{cfg: cfg, crashed: instances.Add(1) > 1}
	}}
}

// phaseBehaviour carries a PhaseMachine's effects out on the host.
type phaseBehaviour struct {
	cfg      PhaseConfig
	crashed  bool // a restart after a crash: report the phase failed
	m        *PhaseMachine
	run      *phaseRun
	ctx      context.Context // ends when the actor stops: the tasks' I/O ends with it
	cancel   context.CancelFunc
	task     string               // the step's task: replies of any other are not the machine's
	requests map[uint64]*inFlight // by id, the epoch of its TIMER_REQUEST
	nextID   uint64
	started  time.Time
	armed    bool
	finished bool
}

// inFlight is a request sent and not answered yet.
type inFlight struct {
	cancel context.CancelCauseFunc
	timer  host.Timer
}

func (b *phaseBehaviour) Started(ctx host.Context) {
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.requests = map[uint64]*inFlight{}
	if b.cfg.Clock != nil {
		b.started = b.cfg.Clock.Now()
	}
	plan := b.cfg.Plan
	if b.crashed {
		b.finish(ctx, nil, errors.New("configuration phase: it crashed"))
		return
	}
	if plan.Grace <= 0 {
		b.finish(ctx, nil, fmt.Errorf("configuration phase: grace %v must be positive", plan.Grace))
		return
	}
	b.m = NewPhaseMachine(PhaseSettings{
		Sequential: plan.Sequential, FullShutdown: plan.FullShutdown, Guard: plan.Guard != nil, Arm: plan.Arm != nil,
		Known: slices.Collect(maps.Keys(plan.Wire.Pods)),
	}, plan.Pods)
	b.run = &phaseRun{c: b.cfg.Caller, plan: plan, wire: sdk.Wire{Pods: maps.Clone(plan.Wire.Pods), Dependencies: plan.Wire.Dependencies}}
	if b.run.wire.Dependencies == nil {
		b.run.wire.Dependencies = map[string]map[string]payload.Payload{} // {} on the wire, as the original sent
	}
	b.apply(ctx, b.m.Start())
}

func (b *phaseBehaviour) Release(host.Context, bool) {
	b.cancel()
	for id, r := range b.requests {
		r.timer.Stop()
		delete(b.requests, id)
	}
}

func (b *phaseBehaviour) Receive(ctx host.Context, msg proto.Message) {
	if b.finished {
		return
	}
	switch msg := msg.(type) {
	case *v1.TimerFired:
		if r := b.requests[msg.GetEpoch()]; r != nil && msg.GetTimer() == v1.Timer_TIMER_REQUEST {
			r.cancel(errNoReply) // the task tells the failure
		}
	case *v1.PhaseOutcome:
		b.apply(ctx, b.m.Handle(b.input(msg)))
	}
}

// errNoReply is why a request is cancelled: its timer fired.
var errNoReply = errors.New("no reply in time")

// input is the machine's input for a task's outcome, or nil for none (a request of another step).
func (b *phaseBehaviour) input(o *v1.PhaseOutcome) PhaseInput {
	switch o.GetOp() {
	case v1.PhaseOp_PHASE_OP_GUARD:
		return PhaseGuarded{Err: protocol.Err(o.GetFailure())}
	case v1.PhaseOp_PHASE_OP_ARM:
		b.armed = b.armed || o.GetFailure() == nil
		return PhaseArmed{Err: protocol.Err(o.GetFailure())}
	case v1.PhaseOp_PHASE_OP_REQUEST:
		r := b.requests[o.GetRequest()]
		if r == nil || o.GetTask() != b.task {
			return nil
		}
		r.timer.Stop()
		delete(b.requests, o.GetRequest())
		return PhaseReplied{Index: int(o.GetIndex()), URL: o.GetUrl(), Code: int(o.GetCode()), Body: []byte(o.GetBody()), Err: protocol.Err(o.GetFailure())}
	}
	return nil
}

func (b *phaseBehaviour) apply(ctx host.Context, effects []PhaseEffect) {
	for _, e := range effects {
		b.do(ctx, e)
	}
}

func (b *phaseBehaviour) do(ctx host.Context, e PhaseEffect) {
	plan, base := b.cfg.Plan, b.ctx
	switch e := e.(type) {
	case Finish:
		b.finish(ctx, e.Dropped, e.Err)
	case RunGuard:
		ctx.Go("guard", func(t host.Task) {
			t.Tell(&v1.PhaseOutcome{Op: v1.PhaseOp_PHASE_OP_GUARD, Failure: protocol.Failure(plan.Guard(base))})
		})
	case RunArm:
		ctx.Go("arm", func(t host.Task) {
			t.Tell(&v1.PhaseOutcome{Op: v1.PhaseOp_PHASE_OP_ARM, Failure: protocol.Failure(plan.Arm(base))})
		})
	case Drop:
		delete(b.run.wire.Pods, e.Key) // the pods left configure without it, as in the original
		b.run.enc = nil
	case Send:
		if b.run.enc == nil { // the cluster is encoded once per phase, again only if check dropped pods
			b.run.enc = b.run.bodies()
		}
		b.nextID++
		id, enc, r := b.nextID, b.run.enc, b.run
		reqCtx, cancel := context.WithCancelCause(base)
		b.requests[id] = &inFlight{cancel: cancel, timer: ctx.After(r.wait(), &v1.TimerFired{Timer: v1.Timer_TIMER_REQUEST, Epoch: id})}
		b.task = e.Task
		ctx.Go("post", func(t host.Task) {
			defer cancel(nil)
			rep := r.send(reqCtx, e, enc)
			t.Tell(&v1.PhaseOutcome{Op: v1.PhaseOp_PHASE_OP_REQUEST, Request: id, Task: e.Task, Index: int32(rep.Index),
				Url: rep.URL, Code: int32(rep.Code), Body: snippet(rep.Body), Failure: protocol.Failure(rep.Err)})
		})
	}
}

// finish tells the parent how the phase ended.
func (b *phaseBehaviour) finish(ctx host.Context, dropped []string, err error) {
	b.finished = true
	done := &v1.PhaseDone{Generation: b.cfg.Generation, Dropped: dropped, Failure: protocol.Failure(err), Armed: b.armed}
	if b.cfg.Clock != nil { // DESIGN §13: the history entry's times
		end := b.cfg.Clock.Now()
		done.EndedUnixMs, done.DurationMs = end.UnixMilli(), end.Sub(b.started).Milliseconds()
	}
	ctx.Send(ctx.Parent(), done)
}

// phaseRun is one phase's requests: the caller, the plan, and the wire as pods get dropped.
type phaseRun struct {
	c    control.Caller
	plan PhasePlan
	wire sdk.Wire
	enc  Bodies // the bodies of wire; nil once a pod was dropped from it
}

// wait is how long the leader waits for a reply: 1.25 × grace in whole seconds, as the original's client did.
func (r *phaseRun) wait() time.Duration {
	return time.Duration(r.graceSeconds()) * time.Second * 5 / 4
}

func (r *phaseRun) graceSeconds() int64 { return int64(math.Ceil(r.plan.Grace.Seconds())) }

// send posts task to one pod with the wire whose key is that pod's. ctx ends when the request's timer fires
// (errNoReply) or the phase stops.
func (r *phaseRun) send(ctx context.Context, e Send, enc Bodies) PhaseReplied {
	task, p := e.Task, e.Pod
	url := strings.TrimRight(p.URL, "/") + "/control/" + task + "/" + strconv.FormatInt(r.graceSeconds(), 10)
	if r.plan.Phase != "" {
		url += "?" + control.PhaseParam + "=" + neturl.QueryEscape(r.plan.Phase)
	}
	rep := PhaseReplied{Index: e.Index, URL: url}
	var isDelta bool
	var encErr, err error
	rep.Code, rep.Body, isDelta, encErr, err = r.post(ctx, url, enc, p.Key)
	if encErr == nil && err == nil && isDelta && rep.Code == http.StatusPreconditionFailed { // DESIGN §7: the whole cluster, in the same step
		enc.Refused(p.Key)
		rep.Code, rep.Body, _, encErr, err = r.post(ctx, url, enc, p.Key)
	}
	if encErr != nil {
		rep.Err = fmt.Errorf("%s: encode the cluster: %w", task, encErr)
		return rep
	}
	if err == nil && task == taskOn && rep.Code == http.StatusOK {
		enc.Accepted(p.Key)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errNoReply) {
			err = fmt.Errorf("no reply within %v: %w (%w)", r.wait(), context.DeadlineExceeded, err) // our timeout, not the phase's end
		}
		rep.Err = fmt.Errorf("%s %s: %w", task, url, err)
	}
	return rep
}

// snippet is the start of a reply body for an error message.
func snippet(b []byte) string {
	const most = 200
	s := strings.TrimSpace(string(b))
	if len(s) > most {
		s = s[:most] + "..."
	}
	return s
}

// encoder returns the body of each pod. The bodies differ only by their key, and the cluster grows with the
// pods, so the cluster is encoded once per phase and each key spliced in: encoding it once per pod made a
// phase cost O(n²) in JSON work. A pod's body is made once per phase too: check, on and ok send the same, and
// three copies per pod of a 56 KB cluster (at 200 pods) cost a new leader's first phase ~30 MB of memory it had
// never touched, a page fault every 4 KB.
func (r *phaseRun) encoder() func(key string) ([]byte, error) {
	w := r.wire
	w.Key = ""
	whole, err := json.Marshal(w)
	const tail = `"key":""}`
	if err != nil || !bytes.HasSuffix(whole, []byte(tail)) {
		return func(key string) ([]byte, error) { // not the expected shape: encode each body
			w := r.wire
			w.Key = key
			return json.Marshal(w)
		}
	}
	prefix := whole[:len(whole)-len(tail)]
	var mu sync.Mutex // the step's requests ask at once
	made := map[string][]byte{}
	return func(key string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if body, ok := made[key]; ok {
			return body, nil
		}
		k, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		body := make([]byte, 0, len(prefix)+len(k)+8)
		body = append(append(append(body, prefix...), `"key":`...), k...)
		body = append(body, '}')
		made[key] = body
		return body, nil
	}
}
