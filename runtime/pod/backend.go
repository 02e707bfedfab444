package pod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
)

var _ control.Backend = (*Pod)(nil)

// Control runs a lifecycle task (DESIGN §6) and returns its HTTP code and JSON body; control.ErrTimeout when
// it was not done within the request's timeout.
func (p *Pod) Control(ctx context.Context, r control.Request) (int, []byte, error) {
	timeout := r.Timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(d), time.Millisecond))
	}
	req := &v1.ControlRequest{Task: r.Task, Body: r.Body, Phase: r.Phase, Timeout: durationpb.New(timeout)}
	res, err := p.system.Root.RequestFuture(p.root, req, timeout).Result()
	if errors.Is(err, actor.ErrTimeout) {
		return 0, nil, control.ErrTimeout
	}
	if err != nil {
		return 0, nil, fmt.Errorf("pod: %s: %w", r.Task, err)
	}
	reply, ok := res.(*v1.ControlReply)
	if !ok {
		return 0, nil, fmt.Errorf("pod: %s: unexpected reply %T", r.Task, res)
	}
	return int(reply.GetCode()), reply.GetBody(), nil
}

// Signal sends sig to the process's group, if one runs (DESIGN §13); it does not wait.
func (p *Pod) Signal(sig syscall.Signal) {
	p.system.Root.Send(p.root, &v1.ForwardSignal{Signal: int32(sig)})
}

// LifecycleStatus asks the lifecycle for its status; nil without a lifecycle.
func (p *Pod) LifecycleStatus(timeout time.Duration) (*v1.LifecycleStatus, error) {
	if p.cfg.Lifecycle == nil {
		return nil, nil
	}
	res, err := p.system.Root.RequestFuture(p.root, &v1.GetLifecycleStatus{}, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("pod: lifecycle status: %w", err)
	}
	st, ok := res.(*v1.LifecycleStatus)
	if !ok {
		return nil, fmt.Errorf("pod: lifecycle status: unexpected reply %T", res)
	}
	return st, nil
}

// SubscribeLifecycle calls fn with every LifecycleStatus the lifecycle publishes (fn must not block).
func (p *Pod) SubscribeLifecycle(fn func(*v1.LifecycleStatus)) func() {
	sub := p.system.EventStream.Subscribe(func(evt any) {
		if st, ok := evt.(*v1.LifecycleStatus); ok {
			fn(st)
		}
	})
	return func() { p.system.EventStream.Unsubscribe(sub) }
}

// Log returns the pod's recent log lines.
func (p *Pod) Log() []string {
	if p.cfg.Log == nil {
		return []string{}
	}
	return p.cfg.Log.Lines()
}

// Info is the /info object (DESIGN §8), with the original's keys, plus key, seq, cluster, registered and pid.
func (p *Pod) Info(ctx context.Context) (map[string]any, error) {
	st, err := p.Status(timeoutOf(ctx))
	if err != nil {
		return nil, err
	}
	process, metrics, pid := "stopped", any(map[string]any{}), int64(0)
	restarts, lastExit := int32(0), any(map[string]any{})
	if lc, err := p.LifecycleStatus(timeoutOf(ctx)); err != nil {
		return nil, err
	} else if lc != nil {
		process = processName(lc.GetProcess())
		pid = lc.GetPid()
		restarts, lastExit = lc.GetRestarts(), p.lastExit(lc)
		if len(lc.GetMetrics()) > 0 {
			var m any
			if json.Unmarshal(lc.GetMetrics(), &m) == nil && m != nil {
				metrics = m
			}
		}
	}
	state, status := "follower", ""
	if st.GetRole() == v1.Role_ROLE_LEADER {
		state = "leader"
		p.mu.Lock()
		model := p.model
		p.mu.Unlock()
		switch model.GetState() {
		case v1.ModelState_MODEL_STATE_PENDING:
			state = "leader (configuration pending)"
		case v1.ModelState_MODEL_STATE_CONFIGURING:
			state = "leader (configuring)"
		case v1.ModelState_MODEL_STATE_PAUSED:
			state = "leader (paused)" // DESIGN §13
		}
		status = model.GetStatus()
	}
	deps := []string{}
	if p.cfg.Model != nil {
		deps = append(deps, p.cfg.Model.DependsOn...)
	}
	pl := p.cfg.Payload
	return map[string]any{
		"application":  pl.String(payload.KeyApplication),
		"dependencies": deps,
		"ip":           pl.String(payload.KeyIP),
		"metrics":      metrics,
		"node":         pl.String(payload.KeyNode),
		"port":         pl.String(payload.KeyPort),
		"ports":        pl.Ports(),
		"process":      process,
		"public":       pl.String(payload.KeyPublic),
		"state":        state,
		"status":       status,
		"task":         pl.String(payload.KeyTask),
		"key":          st.GetKey(),
		"seq":          st.GetSeq(),
		"cluster":      p.cfg.Cluster.Qualified,
		"registered":   st.GetRegistered(),
		"pid":          pid,
		"restarts":     restarts,
		"last_exit":    lastExit,
	}, nil
}

// processName is the process state as /info spells it: stopped, running, terminating, dead, backoff.
func processName(s v1.ProcessState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PROCESS_STATE_"))
}

// lastExit is /info's last_exit (DESIGN §13): {code, signal, at}, {} while no process ended (no null: tools
// print /info as it is). at is when the pod heard of it (RFC 3339, UTC).
func (p *Pod) lastExit(lc *v1.LifecycleStatus) any {
	if lc.GetLastExit() == nil {
		return map[string]any{}
	}
	p.mu.Lock()
	at := p.lastExitAt
	p.mu.Unlock()
	out := map[string]any{"code": lc.GetLastExit().GetCode(), "signal": lc.GetLastExit().GetSignal(), "at": ""}
	if !at.IsZero() {
		out["at"] = at.UTC().Format(time.RFC3339Nano)
	}
	return out
}
