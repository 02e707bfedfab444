package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// Benchmarks of the lifecycle with a real `ochopod run` process on a real ZooKeeper, one pod that leads
// itself, driven over its control API. Each run of a benchmark function starts its own ZooKeeper and pod
// (about a second), so give a fixed count:
//
//	go test -run '^$' -bench 'Integration_(CrashToRunning|OnToRunning|InfoLatency)' -benchtime 50x ./cmd/ochopod/
//
// Targets: a restart within 50 ms, /info p50 within 1 ms.

// lcBenchPod starts one pod running `sleep 600`, checked hourly, and waits until it runs.
func lcBenchPod(b *testing.B, clusterName string) (*podProcess, string) {
	b.Helper()
	srv := zkserver.Start(b)
	p := lcStartPod(b, srv.Addr(), clusterName, []string{"--check-every", "1h", "--log-level", "info"}, "sleep", "600")
	lcBenchWait(b, p, time.Millisecond, func(m map[string]any) bool { return m["process"] == "running" && lcPid(m) > 0 })
	return p, srv.Addr()
}

// lcObserve connects to ZooKeeper for the benchmark (observe takes a *testing.T).
func lcObserve(b *testing.B, addr string) zk.Conn {
	b.Helper()
	ens, err := zk.ParseEnsemble(addr)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	return conn
}

// lcBenchInfo is POST /info on the shared keep-alive client; nil when the pod did not answer 200.
func lcBenchInfo(p *podProcess) map[string]any {
	resp, err := lcClient.Post(fmt.Sprintf("http://127.0.0.1:%d/info", p.port), "application/json", nil)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m map[string]any
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil {
		return nil
	}
	return m
}

// lcBenchWait polls /info every `every` until ok holds, for 30 s at most.
func lcBenchWait(b *testing.B, p *podProcess, every time.Duration, ok func(map[string]any) bool) map[string]any {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := lcBenchInfo(p); m != nil && ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			b.Fatalf("condition not met within 30s:\n%s", p.out.String())
		}
		time.Sleep(every)
	}
}

// lcBenchPost POSTs to the pod and fails unless it answers 200.
func lcBenchPost(b *testing.B, p *podProcess, path string, body []byte) {
	b.Helper()
	if r := lcPost(b, p, path, body); r.code != http.StatusOK {
		b.Fatalf("%s: %s", path, r)
	}
}

// lcReportPercentiles reports the mean, p50, p99 and max of d in unit (a time.Duration) as <name>-<stat>.
func lcReportPercentiles(b *testing.B, d []time.Duration, unit time.Duration, name string) {
	b.Helper()
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	u := float64(unit)
	at := func(q float64) float64 { return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / u }
	suffix := map[time.Duration]string{time.Millisecond: "ms", time.Microsecond: "µs"}[unit]
	b.ReportMetric(float64(sum)/float64(len(d))/u, name+"-mean-"+suffix)
	b.ReportMetric(at(0.50), name+"-p50-"+suffix)
	b.ReportMetric(at(0.99), name+"-p99-"+suffix)
	b.ReportMetric(float64(d[len(d)-1])/u, name+"-max-"+suffix)
}

// BenchmarkIntegration_CrashToRunning measures the time from SIGKILL of the command to /info running with a
// new pid. /info is polled every millisecond (time.Sleep(1ms) between requests of ~0.1-0.3 ms), so each
// figure carries up to about 1.3 ms of polling error. Between rounds (not timed) the pod is turned off and on,
// which forgets the crash: every round measures the immediate first restart, not the backoff of consecutive
// crashes (1 s, doubling).
func BenchmarkIntegration_CrashToRunning(b *testing.B) {
	p, _ := lcBenchPod(b, "bench-crash")
	pid := lcPid(lcBenchInfo(p))
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		old := pid
		m := lcBenchWait(b, p, time.Millisecond, func(m map[string]any) bool {
			return m["process"] == "running" && lcPid(m) > 0 && lcPid(m) != old
		})
		took = append(took, time.Since(start))
		pid = lcPid(m)

		b.StopTimer()
		lcBenchPost(b, p, "/control/off/30", nil)
		lcBenchPost(b, p, "/control/on/30", nil)
		pid = lcPid(lcBenchWait(b, p, time.Millisecond, func(m map[string]any) bool { return m["process"] == "running" }))
		b.StartTimer()
	}
	b.StopTimer()
	lcReportPercentiles(b, took, time.Millisecond, "restart")
}

// BenchmarkIntegration_OnToRunning measures POST /control/on with the leader's form of body (the cluster as
// ZooKeeper holds it) on a stopped pod: configure and start, until it answers 200 and /info reads running.
// The off before each round is not timed.
func BenchmarkIntegration_OnToRunning(b *testing.B) {
	p, addr := lcBenchPod(b, "bench-on")
	m := lcBenchInfo(p)
	key, _ := m["key"].(string)
	conn := lcObserve(b, addr)
	body := lcClusterBody(b, conn, zk.ClusterOf("it", "bench-on"), key, nil)
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		lcBenchPost(b, p, "/control/off/30", nil)
		b.StartTimer()
		start := time.Now()
		lcBenchPost(b, p, "/control/on/30", body)
		lcBenchWait(b, p, 0, func(m map[string]any) bool { return m["process"] == "running" && lcPid(m) > 0 })
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	lcReportPercentiles(b, took, time.Millisecond, "on")
}

// BenchmarkIntegration_InfoLatency measures POST /info, one request at a time on a keep-alive connection, on a
// pod whose process runs.
func BenchmarkIntegration_InfoLatency(b *testing.B) {
	p, _ := lcBenchPod(b, "bench-info")
	for range 100 { // warm the connection and the pod up
		if lcBenchInfo(p) == nil {
			b.Fatal("/info failed")
		}
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if lcBenchInfo(p) == nil {
			b.Fatal("/info failed")
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	lcReportPercentiles(b, took, time.Microsecond, "info")
}
