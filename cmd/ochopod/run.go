package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/binding"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/health"
	"github.com/ochopod/ochopod/runtime/metrics"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/podlog"
	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
)

func newRunCommand() *cobra.Command {
	s := &runSettings{}
	cmd := &cobra.Command{
		Use:   "run [flags] [-- command args...]",
		Short: "Run as the container's entrypoint: register, elect a leader, configure and supervise the command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env := binding.FromEnviron(os.Environ())
			if err := applyEnv(cmd, env); err != nil {
				return err
			}
			if err := s.loadSpec(cmd.Flags(), env, args); err != nil {
				return err
			}
			if s.dryRun {
				return s.printDryRun(cmd.OutOrStdout(), args)
			}
			if err := s.validate(env); err != nil {
				return err
			}
			return runPod(cmd.Context(), s, env, args)
		},
	}
	s.register(cmd.Flags())
	return cmd
}

// registrationPayload builds the payload of DESIGN §3: every ochopod_* variable without its prefix, then
// what the settings and the binding say.
func registrationPayload(s *runSettings, env binding.Env, loc binding.Location, ens zk.Ensemble) payload.Payload {
	p := payload.Payload{}
	for k, v := range env {
		if name, ok := strings.CutPrefix(k, "ochopod_"); ok && name != "" {
			p[name] = v
		}
	}
	ports := map[string]any{}
	for k, v := range loc.Ports {
		ports[k] = v
	}
	p[payload.KeyCluster] = s.cluster
	p[payload.KeyNamespace] = s.namespace
	p[payload.KeyBinding] = loc.Binding
	p[payload.KeyApplication] = loc.Application
	p[payload.KeyTask] = loc.Task
	p[payload.KeyNode] = loc.Node
	p[payload.KeyIP] = loc.IP
	p[payload.KeyPublic] = loc.Public
	p[payload.KeyPort] = strconv.Itoa(s.port)
	p[payload.KeyPorts] = ports
	p[payload.KeyZK] = ens.String()
	p[payload.KeyDebug] = strconv.FormatBool(s.logLevel == "debug")
	p[payload.KeyLocal] = strconv.FormatBool(loc.Binding == "local")
	p[payload.KeyStatus] = ""
	return p
}

// runPod is `ochopod run`: it returns when the pod is over, with the exit status the process must end with.
func runPod(ctx context.Context, s *runSettings, env binding.Env, args []string) error {
	limit, endQuietStart := tuneRuntime(os.Getenv, s.memoryBytes)
	settle := endQuietStart
	ring := podlog.NewRing(podlog.DefaultBytes)
	log := newLogger(s, io.MultiWriter(os.Stderr, ring))
	userZK := s.zk
	loc, err := s.locate(env) // first: it may fill --zk
	if err != nil {
		return err
	}
	if userZK == "" && s.zk == localZK {
		log.Warn("no --zk and no ochopod_zk: assuming ZooKeeper on "+localZK+"; give --zk host:port[,host:port...] if it runs elsewhere", "binding", loc.Binding)
	}
	ens, err := zk.ParseEnsemble(s.zk)
	if err != nil {
		return usagef("--zk: %v", err)
	}
	if s.podSpec == nil {
		// Before anything registers: a command that is not there is the user's to fix, not a crash loop.
		if err := checkCommand(args, s.cwd, s.shell, os.Getenv("PATH")); err != nil {
			return err
		}
	}
	key := uuid.NewString()
	cluster := zk.ClusterOf(s.namespace, s.cluster)
	pl := registrationPayload(s, env, loc, ens)
	sec, err := s.sec.open(log)
	if err != nil {
		return err
	}
	sec.warnOpen(log)
	if sec.serverTLS != nil {
		pl[payload.KeyScheme] = "https" // DESIGN §12: the leader talks HTTPS to this pod
	} else {
		// A plain pod's heap does not grow into its first collection in its first phases, and an idle one
		// that has not collected holds less (BenchmarkIntegration_LightPod: idle RSS 14.8 MB, 15.6 settled).
		settle = nil
	}

	// The reaper owns every exit status of this process (and of orphans, as PID 1 or as a subreaper). It must
	// outlive the signal that cancels ctx: the tear-down that follows SIGTERM waits for the process's exit.
	if os.Getpid() != 1 {
		// Not PID 1: become the reaper of our descendants anyway, so orphans of the process are reaped here.
		if err := proc.SetChildSubreaper(); err != nil {
			log.Warn("cannot become a child subreaper: orphans of the process go to PID 1", "err", err)
		}
	}
	reaper := proc.NewReaper(log)
	if err := reaper.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	defer reaper.Close()

	// Listen before registering: peers may call as soon as they see the pod.
	listenHost := ""
	if loc.Binding == "local" {
		listenHost = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("control port: %w", err)
	}
	// DESIGN §12: header, body and idle deadlines, and a cap on open connections (counted under TLS, so that a
	// handshake that never ends holds a slot only until the header deadline).
	limits := control.Limits{IdleTimeout: s.idleTimeout}
	ln = limits.Listener(ln)
	if sec.serverTLS != nil {
		ln = tls.NewListener(ln, sec.serverTLS)
		go func() { // crypto's one-time set-up now, not in the leader's first phase with this pod
			if err := security.Prime(sec.serverTLS, sec.clientTLS); err != nil {
				log.Debug("TLS prime: the pod's own client did not verify it", "err", err)
			}
		}()
	}

	mx := metrics.New(clock.Real{}) // DESIGN §13, fed from the actors' events
	dialer := sec.dialer(log, guardedNodes(cluster)...)
	dialer.MaxPacket = s.zkMaxPacket
	caller := sec.caller(func(k control.ConnKind) { mx.ClientConn(k.String()) })
	caller.KeepWithin(s.idleTimeout) // the pods' idle timeout, as ours (DESIGN §12 "kept connections")
	cfg := pod.Config{
		Key: key, Cluster: cluster, Ensemble: ens, SessionTimeout: s.sessionTimeout, Payload: pl,
		Dialer: dialer, Clock: clock.Real{}, Logger: log, Log: ring, Observe: settleWhenConfigured(settle, afterFunc, leaderUnlimited(limit, mx.Feed)),
		Model: &pod.ModelConfig{
			DependsOn: s.dependsOn, Damper: s.damper, ProbeEvery: s.probeEvery, Grace: s.grace,
			Sequential: s.sequential, FullShutdown: s.fullShutdown, Caller: caller,
		},
	}
	if len(args) > 0 || s.podSpec != nil {
		cfg.Lifecycle = &pod.LifecycleConfig{
			Lifecycle: s.lifecycleOf(args, reaper, log),
			Settings: lifecycle.Settings{
				Checks: s.checks, CheckEvery: s.checkEvery, CheckStart: s.checkStart, Grace: s.grace, Soft: s.soft, Strict: s.strict,
				DeferStart: !s.start, Shell: s.shell, Cwd: s.cwd, Pipe: s.pipe,
			},
			Env: os.Environ(), Spawner: reaper, Stdout: os.Stdout, Stderr: os.Stderr,
			Output: func(line string) { log.Info(line, "source", "process") },
		}
	}
	p, err := pod.Start(cfg)
	if err != nil {
		_ = ln.Close()
		return err
	}
	log.Info("pod starting", "key", key, "cluster", cluster.Qualified, "zk", ens.String(), "binding", loc.Binding, "port", s.port)
	defer forwardSignals(p, log)()

	dead := make(chan int32, 1)
	unsubscribe := p.SubscribeLifecycle(func(st *v1.LifecycleStatus) {
		if st.GetProcess() == v1.ProcessState_PROCESS_STATE_DEAD {
			select {
			case dead <- st.GetExitCode():
			default:
			}
		}
	})
	defer unsubscribe()

	srv := limits.Server(health.Handler(p, mx.Handler(),
		mx.Instrument(sec.handler(control.Handler(p, s.toolsOf(args, reaper, log), control.Settings{DefaultTimeout: s.grace, BeforeLargeBody: endQuietStart}, log), log))))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	select {
	case <-ctx.Done():
		log.Info("signal received: tearing down and leaving")
		stopPod(p, s.grace+5*time.Second, log)
		return nil
	case code := <-dead:
		return linger(ctx, p, s, code, log)
	case err := <-served:
		stopPod(p, s.grace+5*time.Second, log)
		return fmt.Errorf("control server: %w", err)
	}
}

// linger is the end of a dead pod (DESIGN §11): deregister at once, answer /info and /log (and 410 on
// /control) for a while so tools can read the last state, then exit with the process's status.
func linger(ctx context.Context, p *pod.Pod, s *runSettings, code int32, log *slog.Logger) error {
	log.Info("the pod is dead: deregistering", "exit_code", code, "linger", s.linger)
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := p.Deregister(dctx); err != nil {
		log.Warn("deregistration incomplete", "err", err)
	}
	cancel()
	t := time.NewTimer(s.linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	stopPod(p, 5*time.Second, log)
	if code != 0 {
		return exitError{code: int(code)}
	}
	return nil
}

func stopPod(p *pod.Pod, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		log.Warn("graceful stop incomplete", "err", err)
	}
}
