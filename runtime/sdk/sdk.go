// Package sdk is what a Go program implements to be an Ochopod pod (DESIGN §6): a Lifecycle whose Configure
// turns the cluster into the command to run, plus optional callbacks, each an interface of its own so that a
// lifecycle implements only what it needs. The lifecycle actor calls them one at a time, never concurrently,
// off the actor's goroutine, with a context cancelled when the pod stops.
package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
)

// Command is what Configure returns: the process to run and what to add to its environment.
type Command struct {
	// Argv is the program and its arguments; with the pod's shell setting it is joined with spaces and run
	// by /bin/sh -c.
	Argv []string
	// Env is added to the pod's environment (which already holds $ochopod and the OCHOPOD_* variables).
	Env map[string]string
}

// Lifecycle is the one callback every pod has.
type Lifecycle interface {
	// Configure runs at each configuration that (re)starts the process. An error fails the configuration
	// (the leader gets 406) and the pod dies.
	Configure(ctx context.Context, c *Cluster) (Command, error)
}

// ClusterBlind is a Lifecycle whose Configure does not look at its cluster, as Exec's: the command is given,
// and the cluster reaches the process through the OCHOPOD_* variables. Configure then gets a nil cluster and
// the runtime does not parse the leader's payloads, which at hundreds of pods is most of what a start costs.
type ClusterBlind interface {
	Lifecycle
	IgnoresCluster()
}

// Initializer runs once, before the first Configure.
type Initializer interface {
	Initialize(ctx context.Context) error
}

// CanConfigurer is the pre-check of a configuration phase; an error answers 406 and the leader retries later.
type CanConfigurer interface {
	CanConfigure(ctx context.Context, c *Cluster) error
}

// Configurer runs once the whole cluster is configured.
type Configurer interface {
	Configured(ctx context.Context, c *Cluster) error
}

// SanityChecker runs every check period while the process runs; its metrics show in /info. An error costs one
// of the pod's checks.
type SanityChecker interface {
	SanityCheck(ctx context.Context, pid int) (map[string]any, error)
}

// TearDowner replaces the default tear-down (SIGTERM to the process group). The process is killed after the
// grace period anyway unless the pod is soft.
type TearDowner interface {
	TearDown(ctx context.Context, p Process) error
}

// Signaler handles /control/signal: it gets the request's JSON and returns a JSON-encodable answer.
type Signaler interface {
	Signaled(ctx context.Context, payload json.RawMessage, p Process) (any, error)
}

// Prober is run by the leader every probe period, and right after each configuration (DESIGN §7), with the
// cluster as the leader sees it (Key is the leader's). Its answer becomes the cluster's status in /info; an
// error reads "* <reason>".
type Prober interface {
	Probe(ctx context.Context, c *Cluster) (string, error)
}

// Finalizer runs once when the pod dies.
type Finalizer interface {
	Finalize(ctx context.Context)
}

// Process is the running sub-process, as callbacks see it. Pid is 0 when nothing runs.
type Process struct {
	Pid int
}

// Running reports whether a process runs.
func (p Process) Running() bool { return p.Pid > 0 }

// Signal sends sig to the process's group (the process and its children).
func (p Process) Signal(sig syscall.Signal) error {
	if p.Pid <= 0 {
		return fmt.Errorf("no process to signal")
	}
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.Pid, err)
	}
	return nil
}
