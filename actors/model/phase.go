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
	pods := append([]PhasePod(nil), plan.Pods...)
	sort.Slice(pods, func(i, j int) bool { return pods[i].Key < pods[j].Key })
	for _, p := range pods { // step 1
		if p.URL == "" {
			return nil, fmt.Errorf("configuration phase: pod %s does not expose its control port", p.Key)
		}
		if _, ok := plan.Wire.Pods[p.Key]; !ok {
			return nil, fmt.Errorf("configuration phase: pod %s is not among the cluster's pods", p.Key)
		}
	}
	if len(pods) == 0 {
		return nil, nil
	}
	r := &phaseRun{c: c, plan: plan, wire: sdk.Wire{Pods: maps.Clone(plan.Wire.Pods), Dependencies: plan.Wire.Dependencies}}
	if r.wire.Dependencies == nil {
		r.wire.Dependencies = map[string]map[string]payload.Payload{} // {} on the wire, as the original sent
	}

	if err := guard(ctx, plan); err != nil {
		return nil, err
	}
	replies := r.step(ctx, taskCheck, pods) // step 2
	var left []PhasePod
	var failures []error
	for i, rep := range replies {
		switch {
		case rep.err == nil && rep.code == http.StatusOK:
			left = append(left, pods[i])
		case rep.err == nil && rep.code == http.StatusGone:
			dropped = append(dropped, pods[i].Key)
			delete(r.wire.Pods, pods[i].Key) // the pods left configure without it, as in the original
			r.enc = nil
		default:
			failures = append(failures, rep.failure(pods[i]))
		}
	}
	if err := r.judge(ctx, taskCheck, failures); err != nil {
		return dropped, err
	}
	if len(left) == 0 { // step 3
		return dropped, nil
	}
	if err := guard(ctx, plan); err != nil {
		return dropped, err
	}
	if plan.Arm != nil {
		if err := plan.Arm(ctx); err != nil {
			return dropped, fmt.Errorf("configuration phase: %w", err)
		}
	}
	if plan.FullShutdown {
		r.step(ctx, taskOff, left)
		if err := r.judge(ctx, taskOff, nil); err != nil {
			return dropped, err
		}
	}
	failures = nil
	for i, rep := range r.step(ctx, taskOn, left) {
		if rep.err != nil || rep.code != http.StatusOK {
			failures = append(failures, rep.failure(left[i]))
		}
	}
	if err := r.judge(ctx, taskOn, failures); err != nil {
		return dropped, err
	}
	r.step(ctx, taskOK, left)
	return dropped, nil
}

// phaseRun is one run of RunPhase: the caller, the plan, and the wire as pods get dropped.
type phaseRun struct {
	c    control.Caller
	plan PhasePlan
	wire sdk.Wire
	enc  Bodies // the bodies of wire; nil once a pod was dropped from it
}

// reply is one pod's answer to one request.
type reply struct {
	url  string
	code int
	body []byte
	err  error
}

func (r reply) failure(p PhasePod) error {
	if r.err != nil {
		return fmt.Errorf("pod %s: %w", p.Key, r.err)
	}
	return fmt.Errorf("pod %s (%s) answered %d %s", p.Key, r.url, r.code, snippet(r.body))
}

// judge is the verdict of a step: ctx over aborts the phase whatever the replies; else failures fail it.
func (r *phaseRun) judge(ctx context.Context, task string, failures []error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("configuration phase aborted during %s: %w", task, context.Cause(ctx))
	}
	if len(failures) > 0 {
		return fmt.Errorf("configuration phase: %s failed: %w", task, errors.Join(failures...))
	}
	return nil
}

// step sends task to every pod, in parallel or in key order, and returns the replies in the pods' order.
func (r *phaseRun) step(ctx context.Context, task string, pods []PhasePod) []reply {
	out := make([]reply, len(pods))
	if r.enc == nil { // the cluster is encoded once per phase, again only if check dropped pods
		r.enc = r.bodies()
	}
	enc := r.enc
	if r.plan.Sequential {
		for i, p := range pods {
			if err := ctx.Err(); err != nil {
				out[i] = reply{err: err} // the phase is over: do not send the rest
				continue
			}
			out[i] = r.send(ctx, task, p, enc)
		}
		return out
	}
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() { out[i] = r.send(ctx, task, p, enc) })
	}
	wg.Wait()
	return out
}

// send posts task to one pod with the wire whose key is that pod's, within 1.25 × grace.
func (r *phaseRun) send(ctx context.Context, task string, p PhasePod, enc Bodies) reply {
	secs := int64(math.Ceil(r.plan.Grace.Seconds()))
	url := strings.TrimRight(p.URL, "/") + "/control/" + task + "/" + strconv.FormatInt(secs, 10)
	if r.plan.Phase != "" {
		url += "?" + control.PhaseParam + "=" + neturl.QueryEscape(r.plan.Phase)
	}
	rep := reply{url: url}
	wait := time.Duration(secs) * time.Second * 5 / 4
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := r.plan.Clock.AfterFunc(wait, func() {
		cancel(fmt.Errorf("no reply within %v: %w", wait, context.DeadlineExceeded))
	})
	defer timer.Stop()
	var isDelta bool
	var encErr, err error
	rep.code, rep.body, isDelta, encErr, err = r.post(reqCtx, url, enc, p.Key)
	if encErr == nil && err == nil && isDelta && rep.code == http.StatusPreconditionFailed { // DESIGN §7: the whole cluster, in the same step
		enc.Refused(p.Key)
		rep.code, rep.body, _, encErr, err = r.post(reqCtx, url, enc, p.Key)
	}
	if encErr != nil {
		rep.err = fmt.Errorf("%s: encode the cluster: %w", task, encErr)
		return rep
	}
	if err == nil && task == taskOn && rep.code == http.StatusOK {
		enc.Accepted(p.Key)
	}
	if err != nil {
		if cause := context.Cause(reqCtx); cause != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w (%w)", cause, err) // our timeout, not the phase's end
		}
		rep.err = fmt.Errorf("%s %s: %w", task, url, err)
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

func guard(ctx context.Context, plan PhasePlan) error {
	if plan.Guard == nil {
		return nil
	}
	if err := plan.Guard(ctx); err != nil {
		return fmt.Errorf("configuration phase: %w", err)
	}
	return nil
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
