package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// Lifecycle is the spec as an sdk.Lifecycle: Configure renders the env and the templates, writes the files and
// returns the command. It implements every optional callback of sdk: a hook that the spec gives runs its
// command, one it does not behaves as the lifecycle actor's default (nothing; SIGTERM to the process group
// for tear_down), so the pod works as without the callback. It implements sdk.Prober only when the spec has a
// probe, so that without one the leader probes nothing.
//
// The callbacks are called one at a time by the lifecycle actor; Probe is called by the leader concurrently
// with them, and the tools by /exec at any time: everything shared is locked.
func (s *Spec) Lifecycle(rt Runtime) sdk.Lifecycle {
	l := &lifecycle{s: s, rt: rt}
	if s.Probe != nil {
		return &probing{l}
	}
	return l
}

type lifecycle struct {
	s  *Spec
	rt Runtime

	mu      sync.Mutex
	lastEnv []string // OCHOPOD_* and the spec's env of the last Configure: what the process got
}

type probing struct{ *lifecycle }

var (
	_ sdk.Initializer   = (*lifecycle)(nil)
	_ sdk.CanConfigurer = (*lifecycle)(nil)
	_ sdk.Configurer    = (*lifecycle)(nil)
	_ sdk.SanityChecker = (*lifecycle)(nil)
	_ sdk.TearDowner    = (*lifecycle)(nil)
	_ sdk.Signaler      = (*lifecycle)(nil)
	_ sdk.Finalizer     = (*lifecycle)(nil)
	_ sdk.Prober        = (*probing)(nil)
)

// Initialize runs the initialize hook, once before the first Configure.
func (l *lifecycle) Initialize(ctx context.Context) error {
	_, err := l.hook(ctx, "initialize", l.s.Hooks.Initialize, l.last())
	return err
}

// CanConfigure renders everything for c without writing (so that a template that fails on this cluster fails
// the check, which the leader retries, rather than the start, which kills the pod), then runs the
// can_configure hook.
func (l *lifecycle) CanConfigure(ctx context.Context, c *sdk.Cluster) error {
	r, err := l.s.Render(c, l.rt)
	if err != nil {
		return err
	}
	env, err := clusterEnv(c, r)
	if err != nil {
		return err
	}
	_, err = l.hook(ctx, "can_configure", l.s.Hooks.CanConfigure, env)
	return err
}

// Configure renders the env, the command and the templates for c, writes the files, and returns the command.
func (l *lifecycle) Configure(_ context.Context, c *sdk.Cluster) (sdk.Command, error) {
	r, err := l.s.Render(c, l.rt)
	if err != nil {
		return sdk.Command{}, err
	}
	env, err := clusterEnv(c, r)
	if err != nil {
		return sdk.Command{}, err
	}
	if err := l.write(r.Files); err != nil {
		return sdk.Command{}, err
	}
	l.mu.Lock()
	l.lastEnv = env
	l.mu.Unlock()
	return r.Command, nil
}

// Configured runs after every configuration phase of the cluster, whether the process was restarted or not:
// it renders the templates again and rewrites the files whose content changed (so they follow the cluster
// even when the process keeps running, and the configured hook may reload it), then runs the configured hook.
func (l *lifecycle) Configured(ctx context.Context, c *sdk.Cluster) error {
	r, err := l.s.Render(c, l.rt)
	if err != nil {
		return err
	}
	env, err := clusterEnv(c, r)
	if err != nil {
		return err
	}
	if err := l.write(r.Files); err != nil {
		return err
	}
	_, err = l.hook(ctx, "configured", l.s.Hooks.Configured, env)
	return err
}

// SanityCheck runs the sanity_check hook with $OCHOPOD_PID. Its standard output, if a JSON object, is the
// metrics /info shows; other output is shown as {"stdout": [lines]}. A failure costs one of the pod's checks.
// Without the hook the check passes with no metrics, as the default does.
func (l *lifecycle) SanityCheck(ctx context.Context, pid int) (map[string]any, error) {
	if l.s.Hooks.SanityCheck == nil {
		return nil, nil
	}
	o, err := l.hook(ctx, "sanity_check", l.s.Hooks.SanityCheck, l.last(), "OCHOPOD_PID="+strconv.Itoa(pid))
	if err != nil {
		return nil, err
	}
	out := bytes.TrimSpace(o.stdout)
	if len(out) == 0 {
		return nil, nil
	}
	var metrics map[string]any
	if json.Unmarshal(out, &metrics) == nil && metrics != nil {
		return metrics, nil
	}
	return map[string]any{"stdout": lines(o.stdout)}, nil
}

// TearDown runs the tear_down hook with $OCHOPOD_PID instead of SIGTERM; without the hook it sends SIGTERM to
// the process group, as the default does. Either way the executor SIGKILLs after the grace period unless the
// pod is soft, and a failed hook falls back to SIGTERM.
func (l *lifecycle) TearDown(ctx context.Context, p sdk.Process) error {
	if l.s.Hooks.TearDown == nil {
		return p.Signal(syscall.SIGTERM)
	}
	_, err := l.hook(ctx, "tear_down", l.s.Hooks.TearDown, l.last(), "OCHOPOD_PID="+strconv.Itoa(p.Pid))
	return err
}

// Signaled runs the signaled hook for /control/signal. The request's JSON is in $OCHOPOD_SIGNAL ({} without a
// body; the hooks have no standard input, and Linux caps one variable at 128 KiB) and the process's pid in
// $OCHOPOD_PID (0 when none runs). Its standard output, if JSON, is the reply;
// other output is replied as {"stdout": [lines]}; no output is {}. A failure answers 500.
func (l *lifecycle) Signaled(ctx context.Context, payload json.RawMessage, p sdk.Process) (any, error) {
	if l.s.Hooks.Signaled == nil {
		return nil, nil
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = json.RawMessage(`{}`)
	}
	o, err := l.hook(ctx, "signaled", l.s.Hooks.Signaled, l.last(),
		"OCHOPOD_SIGNAL="+string(payload), "OCHOPOD_PID="+strconv.Itoa(p.Pid))
	if err != nil {
		return nil, err
	}
	out := bytes.TrimSpace(o.stdout)
	switch {
	case len(out) == 0:
		return nil, nil
	case json.Valid(out):
		return json.RawMessage(out), nil
	}
	return map[string]any{"stdout": lines(o.stdout)}, nil
}

// Finalize runs the finalize hook once when the pod dies; a failure is logged.
func (l *lifecycle) Finalize(ctx context.Context) {
	if _, err := l.hook(ctx, "finalize", l.s.Hooks.Finalize, l.last()); err != nil {
		l.rt.logger().Warn("finalize failed", "err", err)
	}
}

// Probe runs the probe on the leader with the cluster as the leader sees it: its standard output, trimmed, is
// the cluster's status; a failure reads "* <reason>".
func (p *probing) Probe(ctx context.Context, c *sdk.Cluster) (string, error) {
	r, err := p.s.Render(c, p.rt)
	if err != nil {
		return "", err
	}
	env, err := clusterEnv(c, r)
	if err != nil {
		return "", err
	}
	o, err := p.hook(ctx, "probe", p.s.Probe, env)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(o.stdout)), nil
}

// last is the environment of the last configuration, for the hooks that get no cluster.
func (l *lifecycle) last() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastEnv
}

func (l *lifecycle) write(files []File) error {
	for _, f := range files {
		wrote, err := writeChanged(f)
		if err != nil {
			return err
		}
		if wrote {
			l.rt.logger().Info("file written", "path", f.Path, "mode", f.Mode.String(), "bytes", len(f.Content))
		}
	}
	return nil
}

// hook runs h, if given, with the pod's environment, then env, then $OCHOPOD_HOOK and extra. A hook fails when
// it exits with a status other than 0 or runs past its timeout (it is then SIGKILLed with its group).
func (l *lifecycle) hook(ctx context.Context, name string, h *Hook, env []string, extra ...string) (outcome, error) {
	if h == nil {
		return outcome{}, nil
	}
	spec := proc.Spec{Argv: h.Argv, Dir: l.rt.Dir, Env: environ(l.rt.Env, env, append([]string{"OCHOPOD_HOOK=" + name}, extra...))}
	if h.Shell != "" {
		spec.Argv, spec.Shell = []string{h.Shell}, true
	}
	timeout := timeoutOr(h.Timeout)
	log := l.rt.logger().With("hook", name)
	o, err := run(ctx, l.rt, spec, timeout)
	if err != nil {
		return o, fmt.Errorf("%s hook: %w", name, err)
	}
	for _, line := range lines(o.stderr) {
		log.Debug(line, "source", "hook")
	}
	if o.timedOut || o.exit.Code() != 0 {
		return o, fmt.Errorf("%s hook: %s", name, o.failure(timeout))
	}
	return o, nil
}

// ControlTools are the spec's tools for /exec (control.Handler): each runs its argv with the caller's
// arguments appended, never through a shell (a ";" stays an argument), with the pod's environment plus
// $OCHOPOD_TOOL. Its reply's lines are its standard output, then its standard error. A tool past its timeout (or the
// request's) is SIGKILLed and answers an error. Nil when the spec has no tools.
func (s *Spec) ControlTools(rt Runtime) map[string]control.Tool {
	if len(s.Tools) == 0 {
		return nil
	}
	out := make(map[string]control.Tool, len(s.Tools))
	for name, t := range s.Tools {
		argv, timeout := slices.Clone(t.Argv), timeoutOr(t.Timeout)
		patterns, _ := t.patterns() // Parse checked them
		out[name] = func(ctx context.Context, args []string) (int, []string, error) {
			if err := allowed(patterns, args); err != nil {
				return 2, nil, fmt.Errorf("tool %s: %w", name, err)
			}
			spec := proc.Spec{
				Argv: append(slices.Clone(argv), args...), Dir: rt.Dir,
				Env: environ(rt.Env, nil, []string{"OCHOPOD_TOOL=" + name}),
			}
			o, err := run(ctx, rt, spec, timeout)
			if err != nil {
				return 1, nil, fmt.Errorf("tool %s: %w", name, err)
			}
			out := append(lines(o.stdout), lines(o.stderr)...)
			if o.timedOut {
				return o.exit.Code(), out, fmt.Errorf("tool %s: killed after its timeout (%s)", name, timeout)
			}
			return o.exit.Code(), out, nil
		}
	}
	return out
}

func timeoutOr(d Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d.Std()
}

// clusterEnv is what a hook of a configuration gets besides the pod's environment: DESIGN §11's OCHOPOD_*
// variables for c, then the spec's env as rendered for c.
func clusterEnv(c *sdk.Cluster, r *Rendered) ([]string, error) {
	vars, _, err := sdk.FittedClusterEnv(c) // DESIGN §11: set only while they fit one environment string
	if err != nil {
		return nil, err
	}
	maps.Copy(vars, r.Command.Env)
	out := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// environ is base, then each of more, KEY=VALUE, a later value replacing an earlier one in place.
func environ(base []string, more ...[]string) []string {
	out := make([]string, 0, len(base))
	at := map[string]int{}
	for _, list := range append([][]string{base}, more...) {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := at[k]; ok {
				out[i] = kv
				continue
			}
			at[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}
