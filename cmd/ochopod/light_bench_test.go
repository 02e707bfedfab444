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

	"github.com/ochopod/ochopod/testkit/zkserver"
)

// BenchmarkIntegration_LightPod measures what one `ochopod run` process costs by itself (issue #18, part 3),
// on a real ZooKeeper, with `sleep 600` as its command:
//
//   - start-up CPU: the CPU time of the pod's threads (/proc/<pid>/task/*/schedstat) from exec to the first
//     /info reading the process running and the pod registered (it leads itself: its own phase included);
//   - idle RSS: VmRSS once running, after a quiet second;
//   - RSS after OCHOPOD_BENCH_REQUESTS control requests (default 1 000 000; /control/signal, which the
//     lifecycle answers at once), sent by 4 keep-alive clients;
//   - init: the sum of GODEBUG=inittrace=1's package init clock time and allocations.
//
// Start-up CPU and idle RSS are medians over OCHOPOD_BENCH_STARTS pods (default 5), started one at a time.
// Run: nice go test -run '^$' -bench Integration_LightPod -benchtime 1x ./cmd/ochopod/
func BenchmarkIntegration_LightPod(b *testing.B) {
	starts := benchInts(b, "OCHOPOD_BENCH_STARTS", "5")[0]
	requests := benchInts(b, "OCHOPOD_BENCH_REQUESTS", "1000000")[0]
	buildBinary(b)
	srv := zkserver.Start(b)
	var cpu []time.Duration
	var idle []float64
	var last *podProcess
	for i := range max(starts, 1) {
		p := lcStartPod(b, srv.Addr(), fmt.Sprintf("light-%d", i), []string{"--check-every", "1h", "--log-level", "warn"}, "sleep", "600")
		lcBenchWait(b, p, time.Millisecond, func(m map[string]any) bool { return mdRunning(m) })
		cpu = append(cpu, processCPU(b, p.cmd.Process.Pid))
		time.Sleep(time.Second) // idle: nothing to do until the next check, an hour away
		idle = append(idle, rssMB(b, p.cmd.Process.Pid))
		last = p
	}
	soaked := soak(b, last, requests)
	initMs, initBytes := initTrace(b, srv.Addr())
	slices.Sort(cpu)
	slices.Sort(idle)
	b.ReportMetric(ms(cpu[len(cpu)/2]), "ms-cpu/start")
	b.ReportMetric(idle[len(idle)/2], "MB-rss/idle")
	b.ReportMetric(soaked, "MB-rss/soaked")
	fmt.Fprintf(os.Stderr, "\nochopod run, %d CPUs, load %s\n", runtime.NumCPU(), loadAvg())
	fmt.Fprintf(os.Stderr, "%-34s %10s %10s\n", "", "measured", "target")
	fmt.Fprintf(os.Stderr, "%-34s %10.1f %10s\n", "start-up CPU, ms (median)", ms(cpu[len(cpu)/2]), "≤ 20")
	fmt.Fprintf(os.Stderr, "%-34s %10.1f %10s\n", "idle RSS, MB (median)", idle[len(idle)/2], "≤ 15")
	fmt.Fprintf(os.Stderr, "%-34s %10.1f %10s\n", fmt.Sprintf("RSS after %d requests, MB", requests), soaked, "≤ 20")
	fmt.Fprintf(os.Stderr, "%-34s %10.1f %10s\n", "package init, ms (inittrace)", initMs, "")
	fmt.Fprintf(os.Stderr, "%-34s %10.1f %10s\n", "package init, KB allocated", initBytes/1024, "")
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

// initTrace runs a pod with GODEBUG=inittrace=1 until it is running, and sums the init lines it printed:
// "init <pkg> @<t> ms, <clock> ms clock, <bytes> bytes, <n> allocs".
func initTrace(b *testing.B, zkAddr string) (clockMs, allocBytes float64) {
	port := freePort(b)
	cmd := exec.Command(buildBinary(b), "run", "--binding", "local", "--port", strconv.Itoa(port), "--cluster", "light-init",
		"--namespace", "it", "--zk", zkAddr, "--log-level", "warn", "--", "sleep", "600")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out := &syncBuffer{}
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out}
	lcBenchWait(b, p, time.Millisecond, func(m map[string]any) bool { return mdRunning(m) })
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	sc := bufio.NewScanner(strings.NewReader(out.String()))
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
