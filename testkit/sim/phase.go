package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
)

// phaseRun is the model adapter's Configure effect (planPhase, then model.RunPhase, DESIGN §7 steps 1-3) as
// sim events: each request reaches its pod one latency after it is sent and the reply comes back one
// latency later; the steps are judged as RunPhase judges them. RunPhase itself starts a goroutine per
// request, which no seed can order; phase_test.go in actors/model covers it.
type phaseRun struct {
	s            *Sim
	owner        *actor
	inc          int
	gen          uint64
	pods         []model.PhasePod
	w            *wire
	sequential   bool
	fullShutdown bool
	ch           *channel
	conn         zk.Conn // the leader's client and lock, for the guard
	lock         string
	hashVersion  int32 // for arm's compare-and-set
	armed        bool  // arm cleared the hash
	deps         map[string]map[string]payload.Payload
	ctx          context.Context // ends with the phase: its requests in flight fail
	stop         context.CancelFunc

	task     string
	targets  []model.PhasePod
	replies  []phaseReply
	pending  int
	dropped  []string
	left     []model.PhasePod
	finished bool
	started  time.Time // on the virtual clock, for the history entry's duration
}

type phaseReply struct {
	code int
	err  error
}

func (s *Sim) startPhase(owner *actor, c *cluster, e model.Configure, conn zk.Conn, lock string) *phaseRun {
	ctx, stop := context.WithCancel(context.Background())
	ph := &phaseRun{ctx: ctx, stop: stop, s: s, owner: owner, inc: owner.inc, gen: e.Generation, sequential: c.sequential,
		fullShutdown: c.fullShutdown, ch: &channel{}, conn: conn, lock: lock, hashVersion: e.HashVersion, started: s.clk.Now()}
	s.trace(owner.who, "phase", nil, fmt.Sprintf("gen %d pods %v", e.Generation, sortedKeys(e.Pods)))
	w := &wire{pods: map[string]payload.Payload{}, keys: sortedKeys(e.Pods), deps: sortedKeys(e.Dependencies)}
	for _, k := range w.keys {
		p, err := payload.Parse(e.Pods[k])
		if err != nil {
			ph.finish(fmt.Errorf("pod %s: %w", k, err))
			return ph
		}
		w.pods[k] = p
	}
	ph.deps = map[string]map[string]payload.Payload{}
	for _, name := range w.deps {
		var snap map[string]payload.Payload
		if err := json.Unmarshal(e.Dependencies[name], &snap); err != nil {
			ph.finish(fmt.Errorf("snapshot of %s: %w", name, err))
			return ph
		}
		if snap == nil {
			snap = map[string]payload.Payload{}
		}
		ph.deps[name] = snap
	}
	ph.w = w
	ph.pods = model.PhasePods(w.pods)
	for _, p := range ph.pods { // step 1
		if p.URL == "" {
			ph.finish(fmt.Errorf("configuration phase: pod %s does not expose its control port", p.Key))
			return ph
		}
	}
	if len(ph.pods) == 0 {
		ph.finish(nil)
		return ph
	}
	ph.guard(func() { ph.run("check", ph.pods) })
	return ph
}

// guard is PhasePlan.Guard as the model adapter sets it (holdsLock): one ZooKeeper call on the leader's client
// before the checks and again before the pods are turned off or on; an error aborts the phase.
func (ph *phaseRun) guard(then func()) {
	conn, lock, s := ph.conn, ph.lock, ph.s
	s.goIO(ph.owner, "guard", func(t *task) {
		err := model.HoldsLock(conn, lock)
		s.at(0, func() { // the phase goes on where RunPhase does, after the call
			switch {
			case ph.finished:
			case err != nil:
				ph.finish(fmt.Errorf("configuration phase: %w", err))
			default:
				then()
			}
		})
	})
}

// arm is PhasePlan.Arm as the model adapter sets it (clearHash): a fenced write of the empty hash before the
// pods are turned off or on; an error aborts the phase.
func (ph *phaseRun) arm(then func()) {
	conn, lock, s := ph.conn, ph.lock, ph.s
	hash := ph.owner.pod.cl.zc.Hash()
	s.goIO(ph.owner, "arm", func(t *task) {
		err := model.ClearHash(conn, ph.owner.pod.cl.zc, lock, ph.hashVersion)
		s.at(0, func() {
			ph.armed = ph.armed || err == nil
			switch {
			case ph.finished:
			case err != nil:
				ph.finish(fmt.Errorf("configuration phase: clear %s: %w", hash, err))
			default:
				then()
			}
		})
	})
}

// run sends task to the targets, all at once or one after the other.
func (ph *phaseRun) run(task string, targets []model.PhasePod) {
	ph.task, ph.targets = task, targets
	ph.replies = make([]phaseReply, len(targets))
	ph.pending = len(targets)
	if ph.sequential {
		ph.send(0)
		return
	}
	for i := range targets {
		ph.send(i)
	}
}

// send posts the request to target i through the sim's control.Caller (http.go), from a task of the model.
func (ph *phaseRun) send(i int) {
	s, target := ph.s, ph.targets[i]
	url := target.URL + "/control/" + ph.task + "/60?" + control.PhaseParam + "=" + neturl.QueryEscape(model.PhaseID(ph.lock, ph.gen))
	w := sdk.Wire{Pods: map[string]payload.Payload{}, Dependencies: ph.deps, Key: target.Key}
	for _, k := range ph.w.keys {
		w.Pods[k] = ph.w.pods[k]
	}
	body, err := json.Marshal(w)
	ctx := ph.ctx
	s.goIO(ph.owner, "post", func(t *task) {
		code := 0
		if err == nil {
			code, _, err = s.caller().Post(ctx, url, body)
		}
		s.at(0, func() { ph.reply(i, code, err) })
	})
}

func (ph *phaseRun) reply(i, code int, err error) {
	if ph.finished {
		return
	}
	ph.replies[i] = phaseReply{code: code, err: err}
	ph.pending--
	if ph.sequential && i+1 < len(ph.targets) {
		ph.send(i + 1)
		return
	}
	if ph.pending == 0 {
		ph.judge()
	}
}

// judge is RunPhase's verdict on a step, and the next step.
func (ph *phaseRun) judge() {
	var failures []error
	switch ph.task {
	case "check":
		for i, r := range ph.replies {
			switch {
			case r.err == nil && r.code == http.StatusOK:
				ph.left = append(ph.left, ph.targets[i])
			case r.err == nil && r.code == http.StatusGone:
				ph.dropped = append(ph.dropped, ph.targets[i].Key)
				ph.w = ph.w.without(ph.targets[i].Key)
			default:
				failures = append(failures, r.failure(ph.targets[i].Key))
			}
		}
		if len(failures) > 0 {
			ph.finish(fmt.Errorf("configuration phase: check failed: %w", errors.Join(failures...)))
			return
		}
		switch {
		case len(ph.left) == 0:
			ph.finish(nil)
		case ph.fullShutdown:
			ph.guard(func() { ph.arm(func() { ph.run("off", ph.left) }) })
		default:
			ph.guard(func() { ph.arm(func() { ph.run("on", ph.left) }) })
		}
	case "off":
		ph.run("on", ph.left)
	case "on":
		for i, r := range ph.replies {
			if r.err != nil || r.code != http.StatusOK {
				failures = append(failures, r.failure(ph.targets[i].Key))
			}
		}
		if len(failures) > 0 {
			ph.finish(fmt.Errorf("configuration phase: on failed: %w", errors.Join(failures...)))
			return
		}
		ph.run("ok", ph.left)
	case "ok":
		ph.finish(nil)
	}
}

func (r phaseReply) failure(key string) error {
	if r.err != nil {
		return fmt.Errorf("pod %s: %w", key, r.err)
	}
	return fmt.Errorf("pod %s answered %d", key, r.code)
}

// cancel is the model stopping: the phase's context ends, requests in flight fail, and the phase reports
// that it was aborted. Requests already on their way still reach their pods.
func (ph *phaseRun) cancel() {
	if !ph.finished {
		ph.finish(fmt.Errorf("configuration phase aborted during %s: context canceled", ph.task))
	}
}

func (ph *phaseRun) finish(err error) {
	ph.finished = true
	if ph.stop != nil {
		ph.stop()
	}
	done := &v1.PhaseDone{Generation: ph.gen, Dropped: ph.dropped, Failure: protocol.Failure(err), Armed: ph.armed,
		EndedUnixMs: ph.s.clk.Now().UnixMilli(), DurationMs: ph.s.clk.Now().Sub(ph.started).Milliseconds()}
	ph.s.send(ph.ch, ph.owner.pid, ph.owner.pid, ph.inc, done)
}
