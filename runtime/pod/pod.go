// Package pod wires one pod's actor tree (DESIGN §4) from real or test ports and gives callers (the HTTP
// server, the command line, tests) a small API over it: status, reset, subscribe, stop.
package pod

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/actors/session"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/payload"
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
	Worker         leader.WorkerProps // what the leader runs under the lock; nil: nothing
	Backoff        backoff.Policy     // ZooKeeper retries; zero: backoff.Default()
	Restart        supervise.Policy   // actor restarts; zero: supervise.DefaultPolicy()
}

// Pod is a running actor tree.
type Pod struct {
	cfg     Config
	system  *actor.ActorSystem
	root    *actor.PID
	stop    sync.Once
	stopErr error
}

// Start builds the actor tree and starts it. The pod registers in the background; watch Subscribe or Status.
func Start(cfg Config) (*Pod, error) {
	if cfg.Key == "" || cfg.Cluster.Qualified == "" || cfg.Dialer == nil || cfg.Clock == nil || len(cfg.Ensemble.Servers) == 0 {
		return nil, errors.New("pod: key, cluster, ensemble, dialer and clock are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == (backoff.Policy{}) {
		cfg.Backoff = backoff.Default()
	}
	if cfg.Restart == (supervise.Policy{}) {
		cfg.Restart = supervise.DefaultPolicy()
	}
	log := cfg.Logger.With("key", cfg.Key)
	libLog := slog.New(minLevel{Handler: cfg.Logger.Handler(), min: slog.LevelWarn}).With("lib", "protoactor")
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }),
	))
	restarts := supervise.NewStrategy(cfg.Restart, cfg.Clock, log)
	leaderProps := func(conn zk.Conn, epoch uint64) *actor.Props {
		return leader.Props(leader.Config{
			Conn: conn, Cluster: cfg.Cluster, ContenderID: contenderID(cfg.Key), Backoff: cfg.Backoff,
			Clock: cfg.Clock, Logger: log.With("epoch", epoch), Worker: cfg.Worker, Supervisor: restarts,
		})
	}
	sessionProps := session.Props(session.Config{
		Cluster: cfg.Cluster, Ensemble: cfg.Ensemble, SessionTimeout: cfg.SessionTimeout, Backoff: cfg.Backoff,
		Payload: cfg.Payload, Dialer: cfg.Dialer, Clock: cfg.Clock, Logger: log, Leader: leaderProps,
		Supervisor: restarts,
	})
	rootProps := actor.PropsFromProducer(func() actor.Actor { return &root{key: cfg.Key, props: sessionProps} },
		actor.WithSupervisor(restarts))
	pid, err := system.Root.SpawnNamed(rootProps, "pod")
	if err != nil {
		system.Shutdown()
		return nil, fmt.Errorf("pod: spawn: %w", err)
	}
	return &Pod{cfg: cfg, system: system, root: pid}, nil
}

// contenderID is the pod's id in the leader lock: its key as hex, like the Kazoo recipe's uuid4().hex.
func contenderID(key string) string {
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		if key[i] != '-' {
			out = append(out, key[i])
		}
	}
	return string(out)
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

// Crash makes the named actor ("session", "leader", "worker") panic, for tests of supervision.
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

// Stop deregisters the pod (its node is deleted at once, so peers see it leave) and stops the tree. It waits
// for the deregistration until ctx is done, then stops anyway (closing the session still removes the nodes).
// Only the first call does the work; later calls return its result.
func (p *Pod) Stop(ctx context.Context) error {
	p.stop.Do(func() { p.stopErr = p.shutdown(ctx) })
	return p.stopErr
}

func (p *Pod) shutdown(ctx context.Context) error {
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	_, err := p.system.Root.RequestFuture(p.root, &v1.StopSession{}, timeout).Result()
	if stopErr := p.system.Root.StopFuture(p.root).Wait(); stopErr != nil && err == nil {
		err = stopErr
	}
	p.system.Shutdown()
	if err != nil {
		return fmt.Errorf("pod: stop: %w", err)
	}
	return nil
}

// System is the actor system, for wiring further actors (lifecycle) beside the session.
func (p *Pod) System() *actor.ActorSystem { return p.system }
