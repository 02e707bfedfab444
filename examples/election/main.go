// Command election is the README's demo: it starts a throw-away ZooKeeper (Debian package `zookeeper`) on a
// free loopback port, runs three Ochopod pods of one cluster in this process, and narrates what happens as the
// pods register, elect a leader, hand leadership over, reset their sessions and crash their actors.
//
//	go run ./examples/election
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/pod"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// narrator prints one line per event, with the time since the demo started.
type narrator struct {
	mu    sync.Mutex
	start time.Time
}

func (n *narrator) say(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Printf("%8s  %s\n", time.Since(n.start).Round(time.Millisecond), fmt.Sprintf(format, args...))
}

// member is one pod of the demo and what it last said.
type member struct {
	name  string
	pod   *pod.Pod
	mu    sync.Mutex
	last  *v1.SessionStatus
	woken chan struct{}
}

func (m *member) status() *v1.SessionStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

func run() error {
	n := &narrator{start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	n.say("starting ZooKeeper from the Debian package on a free loopback port...")
	srv, err := zkserver.Launch(ctx, zkserver.Config{})
	if err != nil {
		return fmt.Errorf("ZooKeeper (apt-get install zookeeper): %w", err)
	}
	defer srv.Close()
	n.say("ZooKeeper is serving on %s", srv.Addr())
	ens, _ := zk.ParseEnsemble(srv.Addr())
	c := zk.ClusterOf("demo", "web")
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	startPod := func(name string) (*member, error) {
		m := &member{name: name, woken: make(chan struct{}, 1)}
		p, err := pod.Start(pod.Config{
			Key: uuid.NewString(), Cluster: c, Ensemble: ens, SessionTimeout: 5 * time.Second,
			Payload: payload.Payload{"cluster": "web", "namespace": "demo", "ip": "127.0.0.1", "port": "8080", "binding": "local"},
			Dialer:  gozk.New(quiet), Clock: clock.Real{}, Logger: quiet,
		})
		if err != nil {
			return nil, err
		}
		m.pod = p
		p.Subscribe(func(st *v1.SessionStatus) {
			m.mu.Lock()
			prev := m.last
			m.last = st
			m.mu.Unlock()
			narrate(n, m.name, prev, st)
			select {
			case m.woken <- struct{}{}:
			default:
			}
		})
		return m, nil
	}

	var pods []*member
	for _, name := range []string{"pod-a", "pod-b", "pod-c"} {
		m, err := startPod(name)
		if err != nil {
			return err
		}
		pods = append(pods, m)
	}
	defer func() {
		for _, m := range pods {
			stopCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			_ = m.pod.Stop(stopCtx)
			stop()
		}
	}()
	holder, err := waitLeader(pods, nil)
	if err != nil {
		return err
	}
	if err := printCluster(ens, c); err != nil {
		return err
	}

	n.say("stopping the leader %s gracefully (what SIGTERM does)...", holder.name)
	t0 := time.Now()
	stopCtx, stop := context.WithTimeout(ctx, 5*time.Second)
	err = holder.pod.Stop(stopCtx)
	stop()
	if err != nil {
		return err
	}
	next, err := waitLeader(pods, holder)
	if err != nil {
		return err
	}
	n.say("hand-over: %s leads %s after the stop began", next.name, time.Since(t0).Round(time.Millisecond))

	before := next.status()
	n.say("forcing a ZooKeeper reset of %s (POST /reset does this): new session, same key and seq...", next.name)
	next.pod.Reset("demo")
	if err := next.waitFor(func(st *v1.SessionStatus) bool { return st.GetRegistered() && st.GetEpoch() > before.GetEpoch() }); err != nil {
		return err
	}
	n.say("%s is registered again with seq %d (was %d); it queues for the lock behind the others", next.name, next.status().GetSeq(), before.GetSeq())
	leaderNow, err := waitLeader(pods, holder)
	if err != nil {
		return err
	}
	next = leaderNow

	n.say("crashing the leader actor of %s: its supervisor restarts it, the registration stays...", next.name)
	next.pod.Crash("leader", "demo")
	time.Sleep(200 * time.Millisecond) // let the restart happen before the final picture
	if err := printCluster(ens, c); err != nil {
		return err
	}
	n.say("done")
	return nil
}

func narrate(n *narrator, name string, prev, st *v1.SessionStatus) {
	switch {
	case st.GetRegistered() && (prev == nil || !prev.GetRegistered()):
		n.say("%s registered as %s… seq=%d", name, st.GetKey()[:8], st.GetSeq())
	case !st.GetRegistered() && prev != nil && prev.GetRegistered():
		n.say("%s is not registered (session %s)", name, map[bool]string{true: "up", false: "down"}[st.GetConnected()])
	}
	if st.GetRole() != prev.GetRole() && st.GetRole() == v1.Role_ROLE_LEADER {
		n.say("%s is the LEADER (lock %s)", name, st.GetLockPath()[strings.LastIndex(st.GetLockPath(), "/")+1:])
	}
}

// waitFor waits, on status changes, until this pod's status satisfies ok.
func (m *member) waitFor(ok func(*v1.SessionStatus) bool) error {
	deadline := time.After(30 * time.Second)
	for {
		if st := m.status(); st != nil && ok(st) {
			return nil
		}
		select {
		case <-m.woken:
		case <-deadline:
			return fmt.Errorf("%s: condition not met after 30s", m.name)
		}
	}
}

// waitLeader waits, on status changes, until one pod other than skip leads.
func waitLeader(pods []*member, skip *member) (*member, error) {
	deadline := time.After(30 * time.Second)
	for {
		for _, m := range pods {
			if m != skip {
				if st := m.status(); st != nil && st.GetRegistered() && st.GetRole() == v1.Role_ROLE_LEADER {
					return m, nil
				}
			}
		}
		select {
		case <-pods[0].woken:
		case <-pods[1].woken:
		case <-pods[2].woken:
		case <-deadline:
			return nil, fmt.Errorf("no leader after 30s")
		}
	}
}

// printCluster shows the cluster as ZooKeeper holds it.
func printCluster(ens zk.Ensemble, c zk.Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 5*time.Second, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	pods, skipped, err := cluster.ReadPods(conn, c)
	if err != nil {
		return err
	}
	holder, err := cluster.Leader(conn, c)
	if err != nil {
		return err
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "          %s\tSEQ\tROLE\n", c.Pods())
	for _, p := range pods {
		role := "follower"
		if strings.ReplaceAll(p.Key, "-", "") == holder {
			role = "leader"
		}
		fmt.Fprintf(tw, "          %s\t%d\t%s\n", p.Node, p.Seq, role)
	}
	for _, s := range skipped { // invalid payloads (DESIGN §12): the leader would leave these out too
		fmt.Fprintf(tw, "          %s\tskipped: %s\t\n", s.Path, s.Reason)
	}
	_ = tw.Flush()
	fmt.Println()
	return nil
}
