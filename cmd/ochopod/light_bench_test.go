package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_LightPod measures what one `ochopod run` process costs by itself (issue #18, part 3),
// on a real ZooKeeper, with `sleep 600` as its command:
//
//   - start-up CPU: the CPU time of the pod's threads (/proc/<pid>/task/*/schedstat) from exec until it wrote
//     its cluster's hash (it leads itself: its own phase included, so its command runs). The wait is a watch
//     on ZooKeeper: polling the pod's /info would cost it CPU;
//   - idle RSS: VmRSS once configured, after a quiet second;
//   - RSS after OCHOPOD_BENCH_REQUESTS control requests (default 1 000 000; /control/signal, which the
//     lifecycle answers at once), sent by 4 keep-alive clients;
//   - init: the sum of GODEBUG=inittrace=1's package init clock time and allocations.
//
// Start-up CPU and idle RSS are medians over OCHOPOD_BENCH_STARTS pods (default 5), started one at a time.
// With OCHOPOD_BENCH_BEFORE set to another build of ochopod (today's, say), both run on the same ZooKeeper,
// one after the other, and the table puts them side by side.
// Run: nice go test -run '^$' -bench Integration_LightPod -benchtime 1x ./cmd/ochopod/
func BenchmarkIntegration_LightPod(b *testing.B) {
	starts := benchInts(b, "OCHOPOD_BENCH_STARTS", "5")[0]
	requests := benchInts(b, "OCHOPOD_BENCH_REQUESTS", "1000000")[0]
	type build struct{ name, path string }
	builds := []build{{"this build", buildBinary(b)}}
	if before := os.Getenv("OCHOPOD_BENCH_BEFORE"); before != "" {
		builds = append([]build{{"before", before}}, builds...)
	}
	srv := zkserver.Start(b)
	obs := mdObserve(b, srv.Addr())
	warmUp(b, obs)
	var rows [][5]float64
	for bi, bin := range builds {
		var cpu []time.Duration
		var idle []float64
		var last *podProcess
		for i := range max(starts, 1) {
			name := fmt.Sprintf("light-%d-%d", bi, i)
			p := lightPod(b, bin.path, srv.Addr(), name, nil)
			farmWait(b, obs, zk.ClusterOf("it", name), 1, "", time.Minute)
			cpu = append(cpu, processCPU(b, p.cmd.Process.Pid))
			time.Sleep(time.Second) // idle: nothing to do until the next check, an hour away
			idle = append(idle, rssMB(b, p.cmd.Process.Pid))
			last = p
		}
		soaked := soak(b, last, requests)
		initMs, initBytes := initTrace(b, bin.path, srv.Addr(), obs, fmt.Sprintf("light-init-%d", bi))
		slices.Sort(cpu)
		slices.Sort(idle)
		rows = append(rows, [5]float64{ms(cpu[len(cpu)/2]), idle[len(idle)/2], soaked, initMs, initBytes / 1024})
		b.ReportMetric(ms(cpu[len(cpu)/2]), "ms-cpu/start")
		b.ReportMetric(idle[len(idle)/2], "MB-rss/idle")
		b.ReportMetric(soaked, "MB-rss/soaked")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nochopod run, %d CPUs, load %s\n%-34s", runtime.NumCPU(), loadAvg(), "")
	for _, bin := range builds {
		fmt.Fprintf(&sb, " %12s", bin.name)
	}
	fmt.Fprintf(&sb, " %8s\n", "target")
	for i, line := range []struct{ what, target string }{
		{"start-up CPU, ms (median)", "≤ 20"}, {"idle RSS, MB (median)", "≤ 15"},
		{fmt.Sprintf("RSS after %d requests, MB", requests), "≤ 20"}, {"package init, ms (inittrace)", ""},
		{"package init, KB allocated", ""},
	} {
		fmt.Fprintf(&sb, "%-34s", line.what)
		for _, r := range rows {
			fmt.Fprintf(&sb, " %12.1f", r[i])
		}
		fmt.Fprintf(&sb, " %8s\n", line.target)
	}
	fmt.Fprint(os.Stderr, sb.String())
}

// lightPod starts `bin run` for a cluster of its own, quiet and checked hourly, with env added.
func lightPod(b *testing.B, bin, zkAddr, cluster string, env []string) *podProcess {
	port := mdPort(b)
	cmd := exec.Command(bin, "run", "--binding", "local", "--port", strconv.Itoa(port), "--cluster", cluster,
		"--namespace", "it", "--zk", zkAddr, "--log-level", "warn", "--check-every", "1h", "--", "sleep", "600")
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	b.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

// rssMB is the process's resident set (VmRSS) in MB.
func rssMB(b *testing.B, pid int) float64 { return statusMB(b, pid, "VmRSS") }

// statusMB reads a size field of /proc/<pid>/status (VmRSS, VmHWM) in MB.
func statusMB(b *testing.B, pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s for %d", field, pid)
	return 0
}

// soak sends n control requests to the pod from 4 keep-alive clients and returns its RSS afterwards.
func soak(b *testing.B, p *podProcess, n int) float64 {
	if n <= 0 {
		return rssMB(b, p.cmd.Process.Pid)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/control/signal", p.port)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for sent.Add(1) <= int64(n) {
				resp, err := client.Post(url, "application/json", nil)
				if err != nil {
					failed.Add(1)
					continue
				}
				var buf [512]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d control requests failed", f, n)
	}
	return rssMB(b, p.cmd.Process.Pid)
}

// initTrace runs a pod with GODEBUG=inittrace=1 until it is configured, and sums the init lines it printed:
// "init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <n> allocs".
func initTrace(b *testing.B, bin, zkAddr string, obs zk.Conn, cluster string) (clockMs, allocBytes float64) {
	p := lightPod(b, bin, zkAddr, cluster, []string{"GODEBUG=inittrace=1"})
	farmWait(b, obs, zk.ClusterOf("it", cluster), 1, "", time.Minute)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" {
			continue
		}
		c, _ := strconv.ParseFloat(f[4], 64)
		n, _ := strconv.ParseFloat(f[7], 64)
		clockMs += c
		allocBytes += n
	}
	return clockMs, allocBytes
}

// loadAvg is the machine's 1-minute load average.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
