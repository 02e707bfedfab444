// Package pod wires one pod's actor tree (DESIGN §4) from real or test ports and gives callers (the HTTP
// server, the command line, tests) a small API over it: status, reset, subscribe, stop.
package pod

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/actors/lifecycle"
	"github.com/ochopod/ochopod/actors/session"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/podlog"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/supervise"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Config describes one pod.
type Config struct {
	Key            string // the pod's UUID
	Cluster        zk.Cluster
	Ensemble       zk.Ensemble
	SessionTimeout time.Duration
	Payload        payload.Payload // registration payload, without seq
	Dialer         zk.Dialer
	Clock          clock.Clock
	Logger         *slog.Logger
	Backoff        backoff.Policy   // ZooKeeper retries; zero: backoff.Default()
	Restart        supervise.Policy // actor restarts; zero: supervise.DefaultPolicy()
	// Model is the cluster model the leader runs (DESIGN §7); nil: the leader runs Worker instead.
	Model *ModelConfig
	// Worker is what the leader runs under the lock when there is no Model (tests); nil: nothing.
	Worker leader.WorkerProps
	// Lifecycle is the pod's process and its callbacks (DESIGN §6); nil: the pod only registers.
	Lifecycle *LifecycleConfig
	// Log holds the pod's recent log lines for /log; nil: /log is empty.
	Log *podlog.Ring
	// Actors are the program's own actors (DESIGN §4 "Custom actors"): pod scope beside the session, leader
	// scope under the leader while it holds the lock.
	Actors []custom.Actor
	// Observe, if set, gets every event the actors publish (statuses, takeovers), from before the first one,
	// on the publisher's goroutine: it must not block (runtime/metrics.Feed, DESIGN §13).
	Observe func(evt any)
}

// ModelConfig holds the settings of the cluster model (DESIGN §7).
type ModelConfig struct {
	DependsOn    []string
	Damper       time.Duration
	ProbeEvery   time.Duration // period of the lifecycle's sdk.Prober, if it has one; 0: 60 s
	Grace        time.Duration // timeout of each control request of a phase; 0: 60 s
	Sequential   bool
	FullShutdown bool
	Caller       control.Caller // nil: HTTP
}

// LifecycleConfig is the pod's process (DESIGN §6).
type LifecycleConfig struct {
	Lifecycle sdk.Lifecycle
	Settings  lifecycle.Settings
	Env       []string // the process's base environment; $ochopod is added
	Spawner   proc.Spawner
	// Output receives piped output lines; Stdout and Stderr the output of a process that is not piped.
	Output         func(line string)
	Stdout, Stderr io.Writer
	// WholeBodies registers the pod without "protocol": 2, so leaders send it the whole cluster with every
	// request, as to the original's pods (benchmarks compare both; DESIGN §7).
	WholeBodies bool
}

// Pod is a running actor tree.
type Pod struct {
	cfg     Config
	system  *actor.ActorSystem
	root    *actor.PID
	stop    sync.Once
	stopErr error

	files  sdk.ClusterFiles    // the process's cluster files, removed when the pod stops
	caller *control.HTTPCaller // the model's, when the pod made it: its connections are closed when it stops

	mu         sync.Mutex
	model      *v1.ModelStatus // the last status of this pod's model, while it leads
	exits      int32           // processes ended, as the lifecycle last said
	lastExitAt time.Time       // when the last of them was heard of (DESIGN §13: last_exit.at)
	sub        *eventstream.Subscription
}

// Start builds the actor tree and starts it. The pod registers in the background; watch Subscribe or Status.
func Start(cfg Config) (*Pod, error) {
	if cfg.Key == "" || cfg.Cluster.Qualified == "" || cfg.Dialer == nil || cfg.Clock == nil || len(cfg.Ensemble.Servers) == 0 {
		return nil, errors.New("pod: key, cluster, ensemble, dialer and clock are required")
	}
	if err := validOwnPayload(cfg.Payload); err != nil {
		return nil, err
	}
	if err := custom.Validate(cfg.Actors); err != nil {
		return nil, fmt.Errorf("pod: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == (backoff.Policy{}) {
		// Jittered by the pod's key: pods of a cluster do not retry in lockstep after an outage.
		cfg.Backoff = backoff.Default().WithJitter(backoffJitter, seedOf(cfg.Key))
	}
	if cfg.Restart == (supervise.Policy{}) {
		cfg.Restart = supervise.DefaultPolicy()
	}
	if cfg.Lifecycle != nil && !cfg.Lifecycle.WholeBodies {
		cfg.Payload = cfg.Payload.With(delta.KeyProtocol, delta.Protocol) // its lifecycle reads delta bodies (DESIGN §7)
	}
	log := cfg.Logger.With("key", cfg.Key)
	libLog := slog.New(minLevel{Handler: cfg.Logger.Handler(), min: slog.LevelWarn}).With("lib", "protoactor")
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }),
	))
	worker := cfg.Worker
	var caller *control.HTTPCaller // the pod's own, closed when it stops
	if cfg.Model != nil {
		if cfg.Model.Caller == nil {
			mc, c := *cfg.Model, control.NewHTTPCaller()
			mc.Caller, caller, cfg.Model = c, &c, &mc
		}
		worker = modelWorker(cfg, log, system.Root, actor.NewPID(system.Address(), rootName))
	}
	// The root is spawned under rootName: its ref is known before it runs, for the custom actors' Env.Pod.
	rootRef := protohost.RefOf(actor.NewPID(system.Address(), rootName))
	wiring := custom.Wiring{Actors: cfg.Actors, Cluster: cfg.Cluster, Key: cfg.Key, Pod: rootRef}
	leaderProps := func(conn zk.Conn, _ uint64) host.Props {
		return leader.Props(leader.Config{
			Conn: conn, Cluster: cfg.Cluster, Key: cfg.Key, Backoff: cfg.Backoff, Worker: worker, Supervisor: cfg.Restart,
			Custom: wiring.Leader(), Pod: rootRef,
		})
	}
	rootCfg := RootConfig{Key: cfg.Key, Supervisor: cfg.Restart, Session: session.Props(session.Config{
		Cluster: cfg.Cluster, Ensemble: cfg.Ensemble, SessionTimeout: cfg.SessionTimeout, Backoff: cfg.Backoff,
		Payload: cfg.Payload, Dialer: cfg.Dialer, Leader: leaderProps, Supervisor: cfg.Restart,
	})}
	if cfg.Model != nil {
		rootCfg.Keeper, _ = cfg.Model.Caller.(control.Keeper) // DESIGN §12 "kept connections"
	}
	if p, ok := wiring.PodProps(); ok {
		// They hear every configuration of the pod (DESIGN §4): the lifecycle, or the root, announces it.
		rootCfg.Custom, rootCfg.Cluster = p, cfg.Cluster.Qualified
	}
	var files sdk.ClusterFiles
	if cfg.Lifecycle != nil {
		var err error
		if files, err = sdk.NewClusterFiles(); err != nil { // DESIGN §11: OCHOPOD_PODS_FILE and the like
			system.Shutdown()
			return nil, fmt.Errorf("pod: %w", err)
		}
		if rootCfg.Lifecycle, err = lifecycleActor(cfg, files, rootCfg.Cluster); err != nil {
			_ = files.Remove()
			system.Shutdown()
			return nil, err
		}
	}
	p := &Pod{cfg: cfg, system: system, files: files, caller: caller}
	// Listen before anything runs, so no model status is missed.
	p.sub = system.EventStream.Subscribe(func(evt any) {
		switch st := evt.(type) {
		case *v1.ModelStatus:
			p.mu.Lock()
			p.model = st
			p.mu.Unlock()
		case *v1.LifecycleStatus:
			p.mu.Lock()
			if st.GetExits() != p.exits {
				p.exits, p.lastExitAt = st.GetExits(), cfg.Clock.Now()
			}
			p.mu.Unlock()
		}
		if cfg.Observe != nil {
			cfg.Observe(evt)
		}
	})
	pid, err := protohost.Spawn(system.Root, rootName, RootProps(rootCfg), protohost.Env{Clock: cfg.Clock, Logger: log})
	if err != nil {
		_ = files.Remove()
		system.Shutdown()
		return nil, fmt.Errorf("pod: spawn: %w", err)
	}
	p.root = pid
	return p, nil
}

// How much of each delay the jitter may take off (runtime/backoff): half of a retry of ZooKeeper, where many
// pods retry at once after an outage; a fifth of a process's restart, which is the pod's alone.
const (
	backoffJitter = 0.5
	restartJitter = 0.2
)

// seedOf draws the pod's jitter seed from its key (random at start): FNV-1a.
func seedOf(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// Status asks the session for its status.
func (p *Pod) Status(timeout time.Duration) (*v1.SessionStatus, error) {
	res, err := p.system.Root.RequestFuture(p.root, &v1.GetSessionStatus{}, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("pod: status: %w", err)
	}
	st, ok := res.(*v1.SessionStatus)
	if !ok {
		return nil, fmt.Errorf("pod: status: unexpected reply %T", res)
	}
	return st, nil
}

// Reset forces a ZooKeeper reset (DESIGN §5): new session, same key and seq.
func (p *Pod) Reset(cause string) { p.system.Root.Send(p.root, &v1.ResetSession{Cause: cause}) }

// Crash makes the named actor ("root", "lifecycle", "executor", "session", "leader", "worker") panic, for
// tests of supervision.
func (p *Pod) Crash(target, reason string) {
	p.system.Root.Send(p.root, &v1.InjectCrash{Reason: reason, Target: target})
}

// Subscribe calls fn with every SessionStatus the session publishes, on the publisher's goroutine (fn must not
// block). The returned function unsubscribes.
func (p *Pod) Subscribe(fn func(*v1.SessionStatus)) func() {
	sub := p.system.EventStream.Subscribe(func(evt any) {
		if st, ok := evt.(*v1.SessionStatus); ok {
			fn(st)
		}
	})
	return func() { p.system.EventStream.Unsubscribe(sub) }
}

// Stop ends the pod (DESIGN §11 on SIGTERM): the process is torn down (kill: grace, then SIGKILL unless soft,
// then finalize) while the pod deregisters (its node is deleted at once, so peers see it leave); then the
// tree stops. It waits for both until ctx is done, then stops anyway (closing the session still removes the
// nodes). Only the first call does the work; later calls return its result.
func (p *Pod) Stop(ctx context.Context) error {
	p.stop.Do(func() { p.stopErr = p.shutdown(ctx) })
	return p.stopErr
}

func (p *Pod) shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var killErr error
	if p.cfg.Lifecycle != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, killErr = p.Control(ctx, control.Request{Task: v1.Task_TASK_KILL, Timeout: timeoutOf(ctx)})
		}()
	}
	err := p.Deregister(ctx)
	wg.Wait()
	if killErr != nil && err == nil {
		err = killErr
	}
	if stopErr := p.system.Root.StopFuture(p.root).Wait(); stopErr != nil && err == nil {
		err = stopErr
	}
	p.system.EventStream.Unsubscribe(p.sub)
	p.system.Shutdown()
	if p.caller != nil {
		p.caller.CloseIdleConnections()
	}
	if rmErr := p.files.Remove(); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("pod: stop: %w", err)
	}
	return nil
}

// Deregister deletes the pod's nodes and closes its session, leaving the process and the control API alone
// (a dead pod lingers this way, DESIGN §11).
func (p *Pod) Deregister(ctx context.Context) error {
	if _, err := p.system.Root.RequestFuture(p.root, &v1.StopSession{}, timeoutOf(ctx)).Result(); err != nil {
		return fmt.Errorf("pod: deregister: %w", err)
	}
	return nil
}

func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 10 * time.Second
}

// SubscribeEvents calls fn with every message the pod's actors publish (statuses of the session, model and
// lifecycle, ClusterConfigured, ...), on the publisher's goroutine (fn must not block). The returned function
// unsubscribes. Programs add actors with Config.Actors, not through the actor runtime, which stays hidden.
func (p *Pod) SubscribeEvents(fn func(proto.Message)) func() {
	sub := p.system.EventStream.Subscribe(func(evt any) {
		if m, ok := evt.(proto.Message); ok {
			fn(m)
		}
	})
	return func() { p.system.EventStream.Unsubscribe(sub) }
}

// validOwnPayload refuses a payload that every leader would skip (DESIGN §12: ip and port required, ports and
// addresses well formed), so a program finds out at start instead of never being configured. The seq is the
// session's to write, so any seq given here is left out of the check.
func validOwnPayload(p payload.Payload) error {
	own := make(payload.Payload, len(p))
	for k, v := range p {
		if k != payload.KeySeq {
			own[k] = v
		}
	}
	if err := payload.Validate(own, 0); err != nil {
		return fmt.Errorf("pod: every leader would skip this pod: %w", err)
	}
	return nil
}
