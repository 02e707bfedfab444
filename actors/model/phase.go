package model

import (
	"bytes"
	"context"
	"encoding/json"
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
	"time"

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
	Sequential   bool        // one request at a time in key order, instead of all at once
	FullShutdown bool        // off to every pod before on
	Clock        clock.Clock // times each request out; nil: the wall clock
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

// RunPhase runs steps 1 to 3 of the configuration phase (DESIGN §7) and returns the keys of the pods that
// answered 410 to check (dead, dropped; also when it fails later). In order:
//
//  1. every pod must expose its control port, else the phase fails before any request;
//  2. check to every pod: 410 drops the pod, any other reply but 200 (or no reply) fails the phase;
//  3. if a pod is left: off to all of them with FullShutdown (replies ignored, as the original did), then
//     on to all (each must answer 200, else the phase fails), then ok to all (replies ignored).
//
// The requests of a step go to all pods at once, or one after the other in key order with Sequential; a step
// ends when every pod answered (or failed), and only then is it judged. Each request is bounded by 1.25 ×
// Grace; ctx bounds the whole phase, and once it ends no step starts. RunPhase returns only after every
// request it made returned: it leaves no goroutine behind.
func RunPhase(ctx context.Context, c control.Caller, plan PhasePlan) (dropped []string, err error) {
	if plan.Grace <= 0 {
		return nil, fmt.Errorf("configuration phase: grace %v must be positive", plan.Grace)
	}
	if plan.Clock == nil {
		plan.Clock = clock.Real{}
	}
	m := NewPhaseMachine(PhaseSettings{
		Sequential: plan.Sequential, FullShutdown: plan.FullShutdown, Guard: plan.Guard != nil, Arm: plan.Arm != nil,
		Known: slices.Collect(maps.Keys(plan.Wire.Pods)),
	}, plan.Pods)
	r := &phaseRun{c: c, plan: plan, wire: sdk.Wire{Pods: maps.Clone(plan.Wire.Pods), Dependencies: plan.Wire.Dependencies}}
	if r.wire.Dependencies == nil {
		r.wire.Dependencies = map[string]map[string]payload.Payload{} // {} on the wire, as the original sent
	}
	// The machine decides; this loop carries its effects out. Requests run on goroutines that report on
	// outcomes; the loop returns only once the machine finished, and it finishes a step only when every
	// request of it returned, so no goroutine is left behind.
	outcomes := make(chan PhaseInput, len(plan.Pods)+1)
	done := ctx.Done()
	pending := m.Start()
	for {
		for len(pending) > 0 {
			e := pending[0]
			pending = pending[1:]
			switch e := e.(type) {
			case Finish:
				return e.Dropped, e.Err
			case RunGuard:
				pending = append(pending, m.Handle(PhaseGuarded{Err: plan.Guard(ctx)})...)
			case RunArm:
				pending = append(pending, m.Handle(PhaseArmed{Err: plan.Arm(ctx)})...)
			case Drop:
				delete(r.wire.Pods, e.Key) // the pods left configure without it, as in the original
				r.enc = nil
			case Send:
				if r.enc == nil { // the cluster is encoded once per phase, again only if check dropped pods
					r.enc = r.bodies()
				}
				enc := r.enc
				go func() { outcomes <- r.send(ctx, e, enc) }()
			}
		}
		select {
		case in := <-outcomes:
			pending = m.Handle(in)
		case <-done:
			done = nil // once
			pending = m.Handle(PhaseOver{Cause: context.Cause(ctx)})
		}
	}
}

// phaseRun is one run of RunPhase: the caller, the plan, and the wire as pods get dropped.
type phaseRun struct {
	c    control.Caller
	plan PhasePlan
	wire sdk.Wire
	enc  Bodies // the bodies of wire; nil once a pod was dropped from it
}

// send posts task to one pod with the wire whose key is that pod's, within 1.25 × grace.
func (r *phaseRun) send(ctx context.Context, e Send, enc Bodies) PhaseReplied {
	task, p := e.Task, e.Pod
	secs := int64(math.Ceil(r.plan.Grace.Seconds()))
	url := strings.TrimRight(p.URL, "/") + "/control/" + task + "/" + strconv.FormatInt(secs, 10)
	if r.plan.Phase != "" {
		url += "?" + control.PhaseParam + "=" + neturl.QueryEscape(r.plan.Phase)
	}
	rep := PhaseReplied{Index: e.Index, URL: url}
	wait := time.Duration(secs) * time.Second * 5 / 4
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := r.plan.Clock.AfterFunc(wait, func() {
		cancel(fmt.Errorf("no reply within %v: %w", wait, context.DeadlineExceeded))
	})
	defer timer.Stop()
	var isDelta bool
	var encErr, err error
	rep.Code, rep.Body, isDelta, encErr, err = r.post(reqCtx, url, enc, p.Key)
	if encErr == nil && err == nil && isDelta && rep.Code == http.StatusPreconditionFailed { // DESIGN §7: the whole cluster, in the same step
		enc.Refused(p.Key)
		rep.Code, rep.Body, _, encErr, err = r.post(reqCtx, url, enc, p.Key)
	}
	if encErr != nil {
		rep.Err = fmt.Errorf("%s: encode the cluster: %w", task, encErr)
		return rep
	}
	if err == nil && task == taskOn && rep.Code == http.StatusOK {
		enc.Accepted(p.Key)
	}
	if err != nil {
		if cause := context.Cause(reqCtx); cause != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w (%w)", cause, err) // our timeout, not the phase's end
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
