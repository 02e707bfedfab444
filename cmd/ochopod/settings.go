package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ochopod/ochopod/runtime/binding"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/spec"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// defaultMemoryLimit is --memory-limit's default. The limit counts ~7 MB of the runtime's own (stacks,
// metadata, spans' unused parts; mostly never touched) beside a pod's ~3.5 MB of live heap: 12 MiB leaves 1-1.5
// MB of garbage (BenchmarkIntegration_LightPod: 2.5 MB less RSS after 1 M requests than without a limit, ~2 %
// more CPU a request, when a sixteenth was the least room kept). GOMEMLIMIT=11MiB, with nothing left, made a
// request cost three times the CPU; memlimit.Decide raises a limit that leaves less than an eighth of it.
const defaultMemoryLimit = "12MiB"

// minMaxPacket is the smallest --zk-max-packet: a pod's own nodes and the cluster's children must fit.
const minMaxPacket = 64 << 10

// usageError marks errors the user made in flags or settings: the binary exits with status 2 for them.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// runSettings are the settings of `ochopod run` (DESIGN §11).
type runSettings struct {
	zk             string
	cluster        string
	namespace      string
	port           int
	binding        string
	sessionTimeout time.Duration
	idleTimeout    time.Duration // the control port's (DESIGN §12), and what kept connections must beat
	zkMaxPacket    int
	memoryLimit    string // --memory-limit as given; memoryBytes once validated
	memoryBytes    uint64
	logLevel       string
	logFormat      string

	// The cluster model, run by the leader (DESIGN §7).
	damper       time.Duration
	probeEvery   time.Duration
	dependsOn    []string
	grace        time.Duration
	sequential   bool
	fullShutdown bool

	// The lifecycle of the process (DESIGN §6).
	checks     int
	checkEvery time.Duration
	checkStart time.Duration // checkStartUnset: one checkEvery (neither the flag nor the spec gave it)
	soft       bool
	strict     bool
	shell      bool
	cwd        string
	pipe       bool
	start      bool
	linger     time.Duration

	// The pod spec (runtime/spec) and its dry run.
	spec    string     // --spec FILE
	dryRun  bool       // --dry-run
	pods    string     // --pods FILE, the cluster of the dry run
	podSpec *spec.Spec // the spec loaded from --spec, nil without one

	sec securitySettings // DESIGN §12 (security.go)
}

// envFallbacks maps each flag to the environment variable (DESIGN §9) it falls back to when not given.
func envFallbacks() map[string]string {
	return map[string]string{
		"zk":        "ochopod_zk",
		"cluster":   "ochopod_cluster",
		"namespace": "ochopod_namespace",
		"port":      "ochopod_port",
		"start":     "ochopod_start",
	}
}

func (s *runSettings) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.zk, "zk", "", "ZooKeeper ensemble, host:port[,host:port...][/chroot] (env ochopod_zk)")
	fs.StringVar(&s.cluster, "cluster", "default", "cluster name (env ochopod_cluster)")
	fs.StringVar(&s.namespace, "namespace", "default", "namespace, dot-separated (env ochopod_namespace)")
	fs.IntVar(&s.port, "port", 8080, "control port (env ochopod_port)")
	fs.StringVar(&s.binding, "binding", "auto", "where the pod runs: "+strings.Join(binding.Names(), " | ")+
		" (auto: local if ochopod_local=true, else kubernetes if KUBERNETES_SERVICE_HOST is set, else marathon if MARATHON_APP_ID or MESOS_TASK_ID is, else generic)")
	fs.DurationVar(&s.sessionTimeout, "session-timeout", 10*time.Second, "ZooKeeper session timeout")
	fs.DurationVar(&s.idleTimeout, "idle-timeout", control.DefaultIdleTimeout, "how long the control port keeps a connection with no request; a leader, and the pod next in line, keep theirs to the pods with a request within it (give every pod of a cluster the same)")
	fs.IntVar(&s.zkMaxPacket, "zk-max-packet", gozk.DefaultMaxPacket, "largest ZooKeeper packet sent or received, in bytes (ZooKeeper's default jute.maxbuffer; raise both together)")
	fs.StringVar(&s.memoryLimit, "memory-limit", defaultMemoryLimit, "soft limit of the pod's own memory while its heap is small (B, KiB, MiB, GiB, or off); GOMEMLIMIT wins")
	fs.StringVar(&s.logLevel, "log-level", "info", "debug | info | warn | error (ochopod_debug=true means debug)")
	fs.StringVar(&s.logFormat, "log-format", "text", "text | json")
	fs.DurationVar(&s.damper, "damper", 0, "how long a change must settle before the leader configures the cluster")
	fs.DurationVar(&s.probeEvery, "probe-every", 60*time.Second, "period of the leader's probe")
	fs.StringSliceVar(&s.dependsOn, "depends-on", nil, "clusters this one depends on: db (same namespace), /ns.db, db-* (comma-separated)")
	fs.DurationVar(&s.grace, "grace", 60*time.Second, "timeout of each control request, and how long a tear-down waits before SIGKILL")
	fs.BoolVar(&s.sequential, "sequential", false, "configure the pods one after the other instead of all at once")
	fs.BoolVar(&s.fullShutdown, "full-shutdown", false, "turn every pod off before turning them on again")
	fs.IntVar(&s.checks, "checks", defaultChecks, "sanity-check failures tolerated before the pod turns its process off (the original: 1)")
	fs.DurationVar(&s.checkEvery, "check-every", 60*time.Second, "period of the sanity check")
	fs.DurationVar(&s.checkStart, "check-start", checkStartUnset, "start period: how long after a configured start the first sanity check runs (default one --check-every; the original: 0)")
	fs.Lookup("check-start").DefValue = "0s" // the usage says the default; -1ns is only its marker
	fs.BoolVar(&s.soft, "soft", false, "never SIGKILL the process")
	fs.BoolVar(&s.strict, "strict", false, "restart the process at every configuration, not only when dependencies changed")
	fs.BoolVar(&s.shell, "shell", false, "run the command through /bin/sh -c")
	fs.StringVar(&s.cwd, "cwd", "", "working directory of the process")
	fs.BoolVar(&s.pipe, "pipe", false, "forward the process's output into the pod log (/log)")
	fs.BoolVar(&s.start, "start", true, "start the process at the first configuration (env ochopod_start); false: wait for a second on")
	fs.DurationVar(&s.linger, "linger", 5*time.Second, "how long a dead pod keeps answering /info and /log before it exits")
	fs.StringVar(&s.spec, "spec", "", "pod spec (YAML): settings, command, env, templates, hooks, probe, tools; flags and ochopod_* variables win over it")
	fs.BoolVar(&s.dryRun, "dry-run", false, "print the files and the command the spec gives for the cluster of --pods, and exit (no ZooKeeper)")
	s.sec.registerZK(fs)
	s.sec.registerControl(fs)
	fs.StringVar(&s.pods, "pods", "", "with --dry-run: the cluster, as the leader sends it: {\"pods\": {key: payload}, \"dependencies\": {...}, \"key\": key}")
}

// applyEnv fills every flag the command line did not set from its environment variable, so that flags win.
func applyEnv(cmd *cobra.Command, env map[string]string) error {
	for flag, key := range envFallbacks() {
		v, ok := env[key]
		if !ok || cmd.Flags().Changed(flag) {
			continue
		}
		if err := cmd.Flags().Set(flag, v); err != nil {
			return usagef("%s=%q: %v", key, v, err)
		}
	}
	return applySecurityEnv(cmd, env)
}

func (s *runSettings) validate(env map[string]string) error {
	// ZooKeeper is not checked here: the binding may find it (locate), and it needs the port checked below.
	if _, err := binding.Lookup(s.binding); err != nil {
		return usagef("--binding: %w", err)
	}
	if s.port <= 0 || s.port > 65535 {
		return usagef("--port %d is not a port", s.port)
	}
	if err := validName("cluster", s.cluster, false); err != nil {
		return err
	}
	if err := validName("namespace", s.namespace, true); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"--damper": s.damper, "--linger": s.linger} {
		if d < 0 {
			return usagef("%s %s must not be negative", name, d)
		}
	}
	for name, d := range map[string]time.Duration{"--grace": s.grace, "--check-every": s.checkEvery, "--probe-every": s.probeEvery} {
		if d <= 0 {
			return usagef("%s %s must be positive", name, d)
		}
	}
	switch {
	case s.checkStart == checkStartUnset:
		s.checkStart = s.checkEvery
	case s.checkStart < 0:
		return usagef("--check-start %s must not be negative", s.checkStart)
	}
	if s.checks < 1 {
		return usagef("--checks %d must be at least 1", s.checks)
	}
	if s.sessionTimeout < time.Second || s.sessionTimeout > 10*time.Minute {
		return usagef("--session-timeout %s must be between 1s and 10m", s.sessionTimeout)
	}
	if s.idleTimeout < time.Second || s.idleTimeout > time.Hour {
		return usagef("--idle-timeout %s must be between 1s and 1h", s.idleTimeout)
	}
	if s.zkMaxPacket < minMaxPacket {
		return usagef("--zk-max-packet %d must be at least %d", s.zkMaxPacket, minMaxPacket)
	}
	mem, err := parseSize(s.memoryLimit)
	if err != nil {
		return usagef("--memory-limit %w", err)
	}
	s.memoryBytes = mem
	if env["ochopod_debug"] == "true" && s.logLevel == "info" {
		s.logLevel = "debug"
	}
	if _, err := parseLevel(s.logLevel); err != nil {
		return err
	}
	if s.logFormat != "text" && s.logFormat != "json" {
		return usagef("--log-format %q: want text or json", s.logFormat)
	}
	return nil
}

// locate runs the binding (after validate, which checks the port it needs) and fills --zk from what it found
// when the user gave neither --zk nor ochopod_zk: what the user says wins over what the binding discovers
// (DESIGN §11), so a Marathon task with ochopod_zk set uses it, where the original preferred the Mesos agent's.
// A binding that found everything but ZooKeeper is no error when the user gave it.
func (s *runSettings) locate(env binding.Env) (binding.Location, error) {
	b, err := binding.Lookup(s.binding)
	if err != nil {
		return binding.Location{}, usagef("--binding: %w", err)
	}
	loc, err := b.Resolve(env, s.port)
	noZK := errors.Is(err, binding.ErrNoZooKeeper)
	if err != nil && !noZK {
		return binding.Location{}, usagef("%w", err)
	}
	if s.zk == "" {
		s.zk = loc.ZK
	}
	if s.zk == "" && noZK {
		return binding.Location{}, usagef("no ZooKeeper: give --zk or set ochopod_zk: %w", err)
	}
	if s.zk == "" {
		return binding.Location{}, usagef("no ZooKeeper: give --zk or set ochopod_zk (the %s binding cannot find it)", loc.Binding)
	}
	return loc, nil
}

// validName accepts what fits in one ZooKeeper path segment; only namespaces may hold dots.
func validName(what, v string, dots bool) error {
	if v == "" {
		return usagef("--%s must not be empty", what)
	}
	for _, r := range v {
		ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || (dots && r == '.')
		if !ok {
			return usagef("--%s %q: only letters, digits, '-' and '_'%s are allowed", what, v, map[bool]string{true: ", '.'", false: ""}[dots])
		}
	}
	if dots && (strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") || strings.Contains(v, "..")) {
		return usagef("--%s %q: empty dot-separated part", what, v)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usagef("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger logs to w (stderr and the pod's /log ring).
func newLogger(s *runSettings, w io.Writer) *slog.Logger {
	level, _ := parseLevel(s.logLevel)
	opts := &slog.HandlerOptions{Level: level}
	if s.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadSpec reads --spec, if given, and takes from it every setting the command line and the environment
// left open. Precedence, highest first: a flag on the command line; its ochopod_* variable (applyEnv ran
// before, and marked the flags it set as changed); the spec; the built-in default. ochopod_debug=true and
// ochopod_local=true, which act through validate and the binding's detection, likewise win over the spec's
// log_level and binding. A spec that is not valid is a usage error (exit 2), before anything registers.
func (s *runSettings) loadSpec(fs *pflag.FlagSet, env map[string]string, args []string) error {
	if s.pods != "" && !s.dryRun {
		return usagef("--pods goes with --dry-run")
	}
	if s.spec == "" {
		if s.dryRun {
			return usagef("--dry-run needs --spec")
		}
		return nil
	}
	sp, err := spec.Load(s.spec)
	if err != nil {
		return usageError{err}
	}
	if sp.Command == nil && len(args) == 0 {
		return usagef("%s: no command: give one in the spec (command) or after --", s.spec)
	}
	s.podSpec = sp
	open := func(flag string) bool { return !fs.Changed(flag) }
	setString := func(flag string, v *string, dst *string) {
		if v != nil && open(flag) {
			*dst = *v
		}
	}
	setBool := func(flag string, v *bool, dst *bool) {
		if v != nil && open(flag) {
			*dst = *v
		}
	}
	setInt := func(flag string, v *int, dst *int) {
		if v != nil && open(flag) {
			*dst = *v
		}
	}
	setDuration := func(flag string, v *spec.Duration, dst *time.Duration) {
		if v != nil && open(flag) {
			*dst = v.Std()
		}
	}
	setString("zk", sp.ZK, &s.zk)
	setString("cluster", sp.Cluster, &s.cluster)
	setString("namespace", sp.Namespace, &s.namespace)
	setInt("port", sp.Port, &s.port)
	if env["ochopod_local"] != "true" {
		setString("binding", sp.Binding, &s.binding)
	}
	setDuration("session-timeout", sp.SessionTimeout, &s.sessionTimeout)
	setDuration("linger", sp.Linger, &s.linger)
	if env["ochopod_debug"] != "true" {
		setString("log-level", sp.LogLevel, &s.logLevel)
	}
	setString("log-format", sp.LogFormat, &s.logFormat)
	setDuration("damper", sp.Damper, &s.damper)
	setDuration("probe-every", sp.ProbeEvery, &s.probeEvery)
	if sp.DependsOn != nil && open("depends-on") {
		s.dependsOn = append([]string(nil), sp.DependsOn...)
	}
	setDuration("grace", sp.Grace, &s.grace)
	setBool("sequential", sp.Sequential, &s.sequential)
	setBool("full-shutdown", sp.FullShutdown, &s.fullShutdown)
	setInt("checks", sp.Checks, &s.checks)
	setDuration("check-every", sp.CheckEvery, &s.checkEvery)
	setDuration("check-start", sp.CheckStart, &s.checkStart)
	setBool("soft", sp.Soft, &s.soft)
	setBool("strict", sp.Strict, &s.strict)
	setBool("shell", sp.Shell, &s.shell)
	if sp.Shell == nil && open("shell") && len(args) == 0 && sp.Command.Shell {
		s.shell = true // the spec's command is one string: /bin/sh -c runs it
	}
	if s.shell && len(args) == 0 {
		if err := sp.CheckShell(); err != nil { // --shell turns the spec's list into a shell command (DESIGN §12)
			return usageError{err}
		}
	}
	setString("cwd", sp.Cwd, &s.cwd)
	setBool("pipe", sp.Pipe, &s.pipe)
	setBool("start", sp.Start, &s.start)
	return nil
}

// specRuntime is what the spec's hooks, probe, tools and templates run with; args after -- replace its command.
func (s *runSettings) specRuntime(args []string, spawner proc.Spawner, log *slog.Logger) spec.Runtime {
	return spec.Runtime{Spawner: spawner, Env: os.Environ(), Dir: s.cwd, Argv: args, Logger: log}
}

// lifecycleOf is the pod's lifecycle: the spec's, or the default one that runs the command after --.
func (s *runSettings) lifecycleOf(args []string, spawner proc.Spawner, log *slog.Logger) sdk.Lifecycle {
	if s.podSpec != nil {
		return s.podSpec.Lifecycle(s.specRuntime(args, spawner, log))
	}
	return sdk.Exec{Argv: args}
}

// toolsOf are the tools of /exec: the spec's, if any.
func (s *runSettings) toolsOf(args []string, spawner proc.Spawner, log *slog.Logger) map[string]control.Tool {
	if s.podSpec == nil {
		return nil
	}
	return s.podSpec.ControlTools(s.specRuntime(args, spawner, log))
}

// printDryRun is `ochopod run --dry-run --spec FILE --pods FILE`: what a configuration would write and run for
// that cluster, without ZooKeeper. Every failure is the user's input (exit 2).
func (s *runSettings) printDryRun(w io.Writer, args []string) error {
	if s.pods == "" {
		return usagef("--dry-run needs --pods: the cluster to render for")
	}
	cluster, err := os.ReadFile(s.pods)
	if err != nil {
		return usagef("--pods: %w", err)
	}
	out, err := s.podSpec.DryRun(cluster, s.specRuntime(args, nil, nil))
	if err != nil {
		return usagef("dry run: %s: %w", s.pods, err)
	}
	_, err = io.WriteString(w, out)
	return err
}
