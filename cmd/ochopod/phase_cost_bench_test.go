package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_PhaseRequestCPU measures what one pod spends on the requests of a configuration phase
// when its cluster has n pods (OCHOPOD_BENCH_PODS, default "10,200"): CPU time of the `ochopod run` process
// (every thread's, from /proc/<pid>/task/*/schedstat), page faults and latency, per request, for check, on
// and ok. Each of the b.N phases sends a cluster the pod has not seen yet (one seq differs) with check, then
// the same with on and ok, as a leader does. With "keep" the process keeps running through on (nothing to
// restart); with "strict" every on restarts it (SIGTERM to `sleep`, wait for its exit, start it again with
// the new cluster); "secured" is "keep" on a pod with a token file and TLS on its control port (DESIGN §12),
// posted to over HTTPS with the control token, on one kept-alive connection as a leader does; "tokens" and
// "tls" are one of the two alone, to tell their costs apart.
// With GODEBUG=gctrace=1 in the environment, gcs/phase counts the pod's collections (the pod's start
// included: compare runs of the same b.N).
// On one machine every pod of a phase shares the CPUs, so n × (check + on + ok) CPU bounds the phase from
// below there; spread over machines, each pod's share is what it costs.
// Run: go test -run '^$' -bench Integration_PhaseRequestCPU -benchtime 200x ./cmd/ochopod/
func BenchmarkIntegration_PhaseRequestCPU(b *testing.B) {
	buildBinary(b)
	b.Logf("this machine: %s", machineCosts(b))
	for _, n := range benchInts(b, "OCHOPOD_BENCH_PODS", "10,200") {
		for _, mode := range []string{"keep", "strict", "tokens", "tls", "secured"} {
			b.Run(fmt.Sprintf("pods=%d/%s", n, mode), func(b *testing.B) {
				b.StopTimer()
				extra := []string{"--log-level", "info"}
				poster := costPoster{client: lcClient, scheme: "http"}
				switch mode {
				case "strict":
					extra = append(extra, "--strict")
				case "tokens":
					f := newSecFiles(b)
					extra = append(extra, "--token-file", f.tokens)
					poster.secret = secControl
				case "tls":
					f := newSecFiles(b)
					extra = append(extra, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca)
					poster = costPoster{client: f.client(b), scheme: "https"}
				case "secured":
					f := newSecFiles(b)
					extra = append(extra, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca, "--token-file", f.tokens)
					poster = costPoster{client: f.client(b), scheme: "https", secret: secControl}
				}
				srv := zkserver.Start(b)
				obs := mdObserve(b, srv.Addr())
				c := zk.ClusterOf("it", "cost")
				p := mdStartPod(b, srv.Addr(), "cost", scaleSessionTimeout, extra, "sleep", "3600")
				waitHash(b, obs, c, 1, "", time.Minute)
				bodies := costClusters(b, obs, c, n, b.N)
				b.ReportMetric(float64(len(bodies[0]))/1024, "KB/body")
				tasks := []string{"check", "on", "ok"}
				cpu, wall := make([]time.Duration, len(tasks)), make([]time.Duration, len(tasks))
				faults := make([]int64, len(tasks))
				pid := p.cmd.Process.Pid
				for _, body := range bodies {
					for i, task := range tasks {
						cpu0, f0, t0 := processCPU(b, pid), minorFaults(b, pid), time.Now()
						poster.post(b, p, "/control/"+task+"/60", body)
						wall[i] += time.Since(t0)
						cpu[i] += processCPU(b, pid) - cpu0
						faults[i] += minorFaults(b, pid) - f0
					}
				}
				if strings.Contains(os.Getenv("GODEBUG"), "gctrace=1") { // the runtime's line per collection, on stderr
					b.ReportMetric(float64(gcLines(p.out.String()))/float64(b.N), "gcs/phase")
				}
				for i, task := range tasks {
					b.ReportMetric(float64(cpu[i].Microseconds())/float64(b.N)/1000, "ms-cpu/"+task)
					b.ReportMetric(float64(wall[i].Microseconds())/float64(b.N)/1000, "ms/"+task)
					b.ReportMetric(float64(faults[i])/float64(b.N), "faults/"+task)
				}
			})
		}
	}
}

// gcLines counts the collections GODEBUG=gctrace=1 reported in a pod's output.
func gcLines(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "gc ") && strings.Contains(l, " MB goal") {
			n++
		}
	}
	return n
}

// costPoster posts a phase's requests to the pod as a leader does: over scheme, with the token secret if set.
type costPoster struct {
	client *http.Client
	scheme string
	secret string
}

func (c costPoster) post(b *testing.B, p *podProcess, path string, body []byte) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s://127.0.0.1:%d%s", c.scheme, p.port, path), bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.secret != "" {
		req.Header.Set("Authorization", "Bearer "+c.secret)
	}
	res, err := c.client.Do(req)
	if err != nil {
		b.Fatalf("POST %s: %v", path, err)
	}
	reply, err := io.ReadAll(res.Body) // to its end: the connection is kept alive
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		b.Fatalf("POST %s: %d %s (%v)", path, res.StatusCode, reply, err)
	}
}

// costClusters are count bodies a leader could send the pod, each different: its own registration and n-1
// others like it.
func costClusters(b *testing.B, obs zk.Conn, c zk.Cluster, n, count int) [][]byte {
	pods, _, err := cluster.ReadPods(obs, c)
	if err != nil || len(pods) != 1 {
		b.Fatalf("the pod's registration: %v (%d pods)", err, len(pods))
	}
	self := pods[0]
	w := sdk.Wire{Key: self.Key, Pods: map[string]payload.Payload{self.Key: self.Payload.With("seq", self.Seq)},
		Dependencies: map[string]map[string]payload.Payload{}}
	for i := 1; i < n; i++ {
		key := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		w.Pods[key] = self.Payload.With("seq", self.Seq+int64(i)).With("ports", map[string]any{"8080": 20000 + i})
	}
	var out [][]byte
	for i := range count {
		w.Pods[self.Key] = self.Payload.With("seq", self.Seq).With("status", strconv.Itoa(i))
		body, err := json.Marshal(w)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, body)
	}
	return out
}

// minorFaults counts the page faults the process took so far (/proc/<pid>/stat's minflt): touching memory the
// process never touched, or gave back to the kernel, costs a fault, and a fault is expensive in a VM.
func minorFaults(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("stat of %d: %v", pid, err)
	}
	// The fields after the command name, which may hold spaces, start after its closing parenthesis.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	fields := strings.Fields(rest)
	n, err := strconv.ParseInt(fields[7], 10, 64) // field 10 of proc(5): minflt
	if err != nil {
		b.Fatalf("stat of %d: %q", pid, data)
	}
	return n
}

// processCPU is the CPU time the process's threads used so far (nanoseconds, from the scheduler's stats).
func processCPU(b *testing.B, pid int) time.Duration {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		b.Fatalf("threads of %d: %v", pid, err)
	}
	var total int64
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that just exited
		}
		ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		if err != nil {
			b.Fatalf("%s: %q", f, data)
		}
		total += ns
	}
	return time.Duration(total)
}
