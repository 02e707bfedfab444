package pod

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/executor"
	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/actors/lifecycle"
	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/actors/watchers"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/protohost"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
)

// modelWorker is what the leader runs: the cluster model and its watchers (DESIGN §7). base is the pod's
// root, which answers the model's GetBase (and, through root, warmUp's).
func modelWorker(cfg Config, log *slog.Logger, root *actor.RootContext, base *actor.PID) leader.WorkerProps {
	mc := *cfg.Model
	if mc.Grace <= 0 {
		mc.Grace = 60 * time.Second
	}
	var probe func(context.Context, *sdk.Cluster) (string, error)
	probeEvery := time.Duration(0)
	if cfg.Lifecycle != nil {
		if p, ok := cfg.Lifecycle.Lifecycle.(sdk.Prober); ok {
			probe, probeEvery = p.Probe, mc.ProbeEvery
			if probeEvery <= 0 {
				probeEvery = 60 * time.Second
			}
		}
	}
	warmer, _ := mc.Caller.(control.Warmer)
	instances := new(atomic.Uint64) // the pod's models: a restarted leader's takes its lock node again
	return func(conn zk.Conn, lock string) host.Props {
		if warmer != nil { // DESIGN §12: the pods' addresses, then the caller's connections; see warmUp
			go warmUp(conn, cfg.Cluster, warmer, root, base)
		}
		return model.Props(model.Config{
			Conn: conn, LockPath: lock, Key: cfg.Key, Probe: probe, Base: protohost.RefOf(base), Supervisor: cfg.Restart,
			Instances: instances,
			Machine: model.MachineConfig{
				Cluster: cfg.Cluster, Namespace: namespaceOf(cfg.Cluster, cfg.Payload), DependsOn: mc.DependsOn,
				Damper: mc.Damper, RetryFloor: time.Second, Backoff: cfg.Backoff, ProbeEvery: probeEvery,
			},
			Grace: mc.Grace, Sequential: mc.Sequential, FullShutdown: mc.FullShutdown, Caller: mc.Caller,
			Clock: cfg.Clock,
			Watchers: func(conn zk.Conn) host.Props {
				return watchers.Props(watchers.Config{Conn: conn, Backoff: cfg.Backoff})
			},
		})
	}
}

// namespaceOf reads the namespace from the payload, else from the qualified name (its part before the last dot).
func namespaceOf(c zk.Cluster, p payload.Payload) string {
	if ns := p.String(payload.KeyNamespace); ns != "" {
		return ns
	}
	for i := len(c.Qualified) - 1; i >= 0; i-- {
		if c.Qualified[i] == '.' {
			return c.Qualified[:i]
		}
	}
	return c.Qualified
}

// lifecycleActor builds the lifecycle and its executor (DESIGN §6). The process gets the pod's environment,
// $ochopod (the pod's info as JSON, as the original did) and the cluster's OCHOPOD_* variables and files
// (DESIGN §11). announce is the cluster it announces its configurations of ("": none; lifecycle.Config).
func lifecycleActor(cfg Config, files sdk.ClusterFiles, announce string) (host.Props, error) {
	lc := cfg.Lifecycle
	if lc.Lifecycle == nil || lc.Spawner == nil {
		return host.Props{}, errors.New("pod: a lifecycle needs its callbacks and a spawner")
	}
	info := cfg.Payload.Clone()
	if info == nil {
		info = payload.Payload{}
	}
	info["metrics"] = map[string]any{}
	deps := []string{}
	if cfg.Model != nil {
		deps = append(deps, cfg.Model.DependsOn...)
	}
	info["dependencies"] = deps
	infoJSON, err := info.Marshal()
	if err != nil {
		return host.Props{}, err
	}
	env := append(append([]string{}, lc.Env...), "ochopod="+string(infoJSON))
	settings := lc.Settings
	if settings.RestartBackoff == (backoff.Policy{}) {
		settings.RestartBackoff = lifecycle.Settings{}.WithDefaults().RestartBackoff.WithJitter(restartJitter, seedOf(cfg.Key))
	}
	exec := executor.Props(executor.Config{
		Spawner: lc.Spawner, Output: lc.Output, Stdout: lc.Stdout, Stderr: lc.Stderr, Supervisor: cfg.Restart,
	})
	return lifecycle.Props(lifecycle.Config{
		Lifecycle: lc.Lifecycle, Settings: settings, Env: env, ClusterEnv: files.Environ, Executor: exec,
		Supervisor: cfg.Restart, Cluster: announce,
	}), nil
}
