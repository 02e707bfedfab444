package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/binding"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

func newRunCommand() *cobra.Command {
	s := &runSettings{}
	cmd := &cobra.Command{
		Use:   "run [flags] [-- command args...]",
		Short: "Run as the container's entrypoint: register, elect a leader, supervise the command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env := binding.FromEnviron(os.Environ())
			if err := applyEnv(cmd, env); err != nil {
				return err
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

func runPod(ctx context.Context, s *runSettings, env binding.Env, args []string) error {
	log := newLogger(s)
	ens, err := zk.ParseEnsemble(s.zk)
	if err != nil {
		return usagef("--zk: %v", err)
	}
	b, err := binding.Lookup(s.binding)
	if err != nil {
		return usagef("--binding: %v", err)
	}
	loc, err := b.Resolve(env, s.port)
	if err != nil {
		return usagef("%v", err)
	}
	if loc.ZK != "" && s.zk == "" {
		s.zk = loc.ZK
	}
	key := uuid.NewString()
	cluster := zk.ClusterOf(s.namespace, s.cluster)
	pl := registrationPayload(s, env, loc, ens)

	// Listen before registering: peers may call as soon as they see the pod.
	listenHost := ""
	if loc.Binding == "local" {
		listenHost = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("control port: %w", err)
	}

	p, err := pod.Start(pod.Config{
		Key: key, Cluster: cluster, Ensemble: ens, SessionTimeout: s.sessionTimeout, Payload: pl,
		Dialer: gozk.New(log), Clock: clock.Real{}, Logger: log,
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	log.Info("pod starting", "key", key, "zk", ens.String(), "binding", loc.Binding, "port", s.port)

	var proc *command
	if len(args) > 0 {
		proc, err = startCommand(args, os.Environ(), pl, log)
		if err != nil {
			stopPod(p, s.stopTimeout, log)
			_ = ln.Close()
			return err
		}
	}

	srv := &http.Server{
		Handler:           control.Handler(&infoBackend{pod: p, loc: loc, port: s.port, proc: proc}, 5*time.Second, log),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var exit error
	select {
	case <-ctx.Done():
		log.Info("signal received: stopping")
		if proc != nil {
			proc.terminate(s.stopTimeout)
		}
	case <-proc.exited():
		code := proc.exitCode()
		log.Info("command exited", "code", code)
		if code != 0 {
			exit = exitError{code: code}
		}
	case err := <-served:
		exit = fmt.Errorf("control server: %w", err)
		if proc != nil {
			proc.terminate(s.stopTimeout)
		}
	}
	stopPod(p, s.stopTimeout, log)
	shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return exit
}

func stopPod(p *pod.Pod, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		log.Warn("graceful stop incomplete", "err", err)
	}
}

// infoBackend answers /info and /reset from the pod's actors.
type infoBackend struct {
	pod  *pod.Pod
	loc  binding.Location
	port int
	proc *command
}

func (b *infoBackend) Info(ctx context.Context) (map[string]any, error) {
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	st, err := b.pod.Status(timeout)
	if err != nil {
		return nil, err
	}
	state := "follower"
	if st.GetRole() == v1.Role_ROLE_LEADER {
		state = "leader"
	}
	process := "stopped"
	if b.proc != nil {
		process = b.proc.state()
	}
	return map[string]any{
		"application":  b.loc.Application,
		"dependencies": []string{},
		"ip":           b.loc.IP,
		"metrics":      map[string]any{},
		"node":         b.loc.Node,
		"port":         strconv.Itoa(b.port),
		"ports":        b.loc.Ports,
		"process":      process,
		"public":       b.loc.Public,
		"state":        state,
		"status":       "",
		"task":         b.loc.Task,
		"key":          st.GetKey(),
		"seq":          st.GetSeq(),
		"registered":   st.GetRegistered(),
	}, nil
}

func (b *infoBackend) Reset(cause string) { b.pod.Reset(cause) }
