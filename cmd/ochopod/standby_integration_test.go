package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/leader"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// keptFlags are the control port's §12 settings of the kept-connection tests: tokens and TLS.
func keptFlags(f secFiles, extra ...string) []string {
	return append([]string{"--token-file", f.tokens, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca}, extra...)
}

// keptCluster starts n pods of cluster with flags and waits until they are configured and running; it
// returns them, a client of theirs, an observer of ZooKeeper, the cluster, and their /info.
func keptCluster(t testing.TB, f secFiles, zkAddr, cluster string, n int, flags []string) ([]*podProcess, *http.Client, zk.Conn, zk.Cluster, []map[string]any) {
	t.Helper()
	var pods []*podProcess
	for range n {
		pods = append(pods, mdStartPod(t, zkAddr, cluster, 10*time.Second, flags, "sleep", "600"))
	}
	c := f.client(t)
	obs := mdObserve(t, zkAddr)
	cl := zk.ClusterOf("it", cluster)
	mdWaitConfigured(t, obs, cl, nil, n, 60*time.Second)
	return pods, c, obs, cl, waitInfoOver(t, c, "https", pods, 60*time.Second, mdRunning)
}

// lineOf is the index in pods of each contender of c's lock, in the lock's order (the leader first).
func lineOf(t testing.TB, obs zk.Conn, c zk.Cluster, pods []*podProcess, infos []map[string]any) []int {
	t.Helper()
	names, _, err := obs.Children(c.Coordinator())
	if err != nil {
		t.Fatal(err)
	}
	contenders, _ := zk.SortContenders(names)
	var line []int
	for _, ct := range contenders {
		for i := range pods {
			if key, _ := infos[i]["key"].(string); leader.ContenderID(key) == ct.ID {
				line = append(line, i)
			}
		}
	}
	if len(line) != len(pods) {
		t.Fatalf("lock line %v does not name the %d pods", names, len(pods))
	}
	return line
}

// total is every connection counted.
func (c connCounts) total() int { return c.none + c.full + c.resumed }

// waitConns polls p's client connections until want holds; it returns the last count.
func waitConns(t testing.TB, c *http.Client, p *podProcess, within time.Duration, want func(connCounts) bool) connCounts {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := clientConns(t, c, "https", p)
		if want(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d opened %+v connections after %s", p.port, n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DESIGN §12 "kept connections": in a cluster with tokens and TLS, the pod next in line for the lock has its
// connections to the pods open before the leader leaves, a pod behind it keeps none, after a graceful
// hand-over the new leader's first phase opens no connection, and the pod behind it, next now, keeps its own.
func TestIntegration_TheNextInLineKeepsItsConnections(t *testing.T) {
	t.Parallel()
	f := newSecFiles(t)
	srv := zkserver.Start(t)
	pods, c, obs, cl, infos := keptCluster(t, f, srv.Addr(), "standby", 3, keptFlags(f))
	line := lineOf(t, obs, cl, pods, infos)
	lead, next, third := line[0], line[1], line[2]
	if !isLeader(infos[lead]) {
		t.Fatalf("the first contender does not lead: %v", infos[lead])
	}
	// One connection to each pod of its base, itself included (a phase calls it too).
	before := waitConns(t, c, pods[next], 30*time.Second, func(n connCounts) bool { return n.total() >= 3 })
	if before.total() != 3 || before.none != 0 {
		t.Fatalf("the pod next in line opened %+v connections, want 3 over TLS", before)
	}
	if n := clientConns(t, c, "https", pods[third]); n.total() != 0 {
		t.Fatalf("the third pod in line opened %+v connections, want none", n)
	}

	if err := pods[lead].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	mdWaitExit(t, pods[lead], 60*time.Second)
	mdWaitConfigured(t, obs, cl, nil, 2, 60*time.Second)
	if m, ok := infoOver(c, "https", pods[next]); !ok || !isLeader(m) {
		t.Fatalf("the pod next in line does not lead after the hand-over: %v", m)
	}
	if got := clientConns(t, c, "https", pods[next]).minus(before); got.total() != 0 {
		t.Fatalf("the new leader's first phase opened %+v connections, want none", got)
	}
	// The third pod is next now (the new leader touched its lock node): from that phase's ok, it keeps its
	// connections to the two pods left.
	if n := waitConns(t, c, pods[third], 30*time.Second, func(n connCounts) bool { return n.total() >= 2 }); n.total() != 2 {
		t.Fatalf("the pod next in line after the hand-over opened %+v connections, want 2", n)
	}
}

// idleClosed opens a connection to p, sends it one request and waits until p closes it: p's idle timeout
// passed since. Connections of others to p that nothing used since are closed by then too.
func idleClosed(t testing.TB, f secFiles, p *podProcess, within time.Duration) {
	t.Helper()
	tc, err := security.NewClientTLS(security.TLSFiles{CA: f.ca}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	conn, err := tc.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("port %d kept an idle connection for %s", p.port, within)
		}
		t.Fatalf("port %d: %v, want the idle connection closed", p.port, err)
	}
}
