package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// serialConn hides the real client's GetAll: reads go one after the other, as without pipelining.
type serialConn struct{ zk.Conn }

// BenchmarkIntegration_Ls200 prints how long `ochopod ls` takes on a cluster of 200 registered pods: 197
// nodes written straight into ZooKeeper (the way an original pod registers: created empty, then filled;
// their control ports refuse connections) and 3 live `ochopod run` pods; the cluster is paused so that its
// leader does not retry phases on the 197 meanwhile. Each figure is the median of b.N runs of the binary
// (process start included), then the ZooKeeper read alone in this process, pipelined and one by one.
// Run: go test -run '^$' -bench Integration_Ls200 -benchtime 10x ./cmd/ochopod/
func BenchmarkIntegration_Ls200(b *testing.B) {
	const fake, live = 197, 3
	srv := zkserver.Start(b)
	zkAddr := srv.Addr()
	c := zk.ClusterOf("it", "big")
	writer := mdObserve(b, zkAddr)
	for _, p := range []string{c.Pods(), c.Coordinator(), c.Paused()} {
		if err := zk.EnsurePath(writer, p); err != nil {
			b.Fatal(err)
		}
	}
	closed := freePort(b)
	for range fake {
		node, err := writer.Create(c.PodPrefix(uuid.NewString()), []byte(""), zk.EphemeralSequential)
		if err != nil {
			b.Fatal(err)
		}
		_, seq, _ := zk.ParseSequential(node)
		body, _ := json.Marshal(map[string]any{"cluster": "big", "namespace": "it", "ip": "127.0.0.1", "public": "127.0.0.1",
			"port": "8080", "ports": map[string]int{"8080": closed}, "seq": seq, "status": ""})
		if _, err := writer.Set(node, body, zk.AnyVersion); err != nil {
			b.Fatal(err)
		}
	}
	for range live {
		mdStartPod(b, zkAddr, "big", 10*time.Second, []string{"--log-level", "warn"}, "sleep", "600")
	}
	opsWaitLs(b, zkAddr, "it.big", 30*time.Second, func(v []lsCluster) bool {
		running := 0
		for _, p := range v[0].Pods {
			if p.Process == "stopped" || p.Process == "running" {
				running++
			}
		}
		return len(v) == 1 && len(v[0].Pods) == fake+live && v[0].Leader != "" && running == live
	})
	bin := buildBinary(b)
	timeRun := func(args ...string) time.Duration {
		cmd := exec.Command(bin, args...)
		cmd.Env = opsEnviron()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ochopod %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	var withInfo, zkOnly, piped, serial []time.Duration
	b.ResetTimer()
	for range b.N {
		withInfo = append(withInfo, timeRun("ls", "it.big", "--zk", zkAddr))
		zkOnly = append(zkOnly, timeRun("ls", "it.big", "--zk-only", "--zk", zkAddr))
		for _, conn := range []zk.Conn{writer, serialConn{writer}} {
			start := time.Now()
			st, err := cluster.ReadStatus(conn, c.Qualified)
			if err != nil || len(st.Pods) != fake+live {
				b.Fatalf("read: %v, %d pods", err, len(st.Pods))
			}
			if _, ok := conn.(serialConn); ok {
				serial = append(serial, time.Since(start))
			} else {
				piped = append(piped, time.Since(start))
			}
		}
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	b.ReportMetric(float64(med(withInfo).Microseconds())/1000, "ms/ls")
	fmt.Fprintf(os.Stdout, "\n`ochopod ls` on %d registered pods (%d live), median of %d:\n", fake+live, live, b.N)
	fmt.Fprintf(os.Stdout, "  %-52s %8.1f ms\n", "ochopod ls it.big (ZooKeeper + /info of every pod)", float64(med(withInfo).Microseconds())/1000)
	fmt.Fprintf(os.Stdout, "  %-52s %8.1f ms\n", "ochopod ls it.big --zk-only", float64(med(zkOnly).Microseconds())/1000)
	fmt.Fprintf(os.Stdout, "  %-52s %8.1f ms\n", "cluster.ReadStatus, pipelined reads (in process)", float64(med(piped).Microseconds())/1000)
	fmt.Fprintf(os.Stdout, "  %-52s %8.1f ms\n", "cluster.ReadStatus, one read after the other", float64(med(serial).Microseconds())/1000)
}
