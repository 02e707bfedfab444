// Command clustersize is a program that embeds Ochopod as `ochopod run` does (pod.Config, the control API on
// its port) and adds a custom actor to its pods (DESIGN §4 "Custom actors"): on the leader, the size actor
// (package size) keeps <cluster's node>/actors/size holding how many pods the cluster is configured with,
// fenced by the leader's lock. Start a few of them against one ZooKeeper and read the node:
//
//	go run ./examples/clustersize --zk 127.0.0.1:2181 &   # three times
//	zkCli.sh get /ochopod/clusters/default.sizes/actors/size
//	{"size":3,"hash":"a1:...","leader":"<key>","lock":"/ochopod/clusters/default.sizes/coordinator/..."}
//
// SIGTERM or SIGINT stops a pod: it deregisters at once, and if it led, the next leader's actor writes the
// new size. Its tests run it on a real ZooKeeper (main_test.go) and in the simulation (size/).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/examples/clustersize/size"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "clustersize:", err)
		os.Exit(1)
	}
}

// run is one pod until ctx is done.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("clustersize", flag.ContinueOnError)
	zkFlag := fs.String("zk", "127.0.0.1:2181", "ZooKeeper ensemble, host:port[,host:port...]")
	namespace := fs.String("namespace", "default", "the pod's namespace")
	clusterName := fs.String("cluster", "sizes", "the pod's cluster")
	key := fs.String("key", "", "the pod's key (default: a new UUID)")
	damper := fs.Duration("damper", 0, "how long the leader waits after a change before it configures")
	timeout := fs.Duration("session-timeout", 10*time.Second, "the ZooKeeper session timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" {
		*key = uuid.NewString()
	}
	ens, err := zk.ParseEnsemble(*zkFlag)
	if err != nil {
		return fmt.Errorf("--zk: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// The control port first: the leader calls the pod as soon as it sees it registered.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("control port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	p, err := pod.Start(pod.Config{
		Key: *key, Cluster: zk.ClusterOf(*namespace, *clusterName), Ensemble: ens, SessionTimeout: *timeout,
		Payload: payload.Payload{"cluster": *clusterName, "namespace": *namespace, "ip": "127.0.0.1", "public": "127.0.0.1",
			"port": "8080", "ports": map[string]any{"8080": int64(port)}, "binding": "local", "node": "local"},
		Dialer: gozk.New(log), Clock: clock.Real{}, Logger: log,
		Model:  &pod.ModelConfig{Damper: *damper},
		Actors: []custom.Actor{size.Actor()}, // the program's own actor, run by the leader
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{Handler: control.Handler(p, nil, control.Settings{}, log), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("pod %s of %s, control port %s\n", *key, zk.ClusterOf(*namespace, *clusterName).Qualified, strconv.Itoa(port))

	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("control server: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := p.Stop(stopCtx); serr != nil && err == nil {
		err = serr
	}
	if cerr := srv.Shutdown(stopCtx); cerr != nil && !errors.Is(cerr, http.ErrServerClosed) && err == nil {
		err = cerr
	}
	return err
}
