package main

import (
	"bufio"
	"cmp"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
//   - idle RSS: VmRSS once configured, after a quiet second; with OCHOPOD_BENCH_LONG_IDLE (a duration: 130s
//     passes the runtime's periodic collection, the first of an idle pod) the last pod's again after that long;
//   - RSS after OCHOPOD_BENCH_REQUESTS control requests (default 1 000 000; /control/signal, which the
//     lifecycle answers at once), sent by 4 keep-alive clients, and the pod's CPU per request meanwhile;
//   - init: the sum of GODEBUG=inittrace=1's package init clock time and allocations.
//
// Start-up CPU and idle RSS are medians over OCHOPOD_BENCH_STARTS pods (default 5), started one at a time.
// Each RSS is shown whole and split into the binary's own pages (RssFile: file pages, shared by every pod
// of an image on a node) and the process's memory (RssAnon).
// The pod is built as releases and the image build it (releaseBinary): static, without libc and the
// dynamic loader, whose pages a default build adds (~1 MB). With OCHOPOD_BENCH_BEFORE set to another
// build of ochopod (today's, built the same way), both run on the same ZooKeeper, one after the other, and
// the table puts them side by side. The pods run with their defaults (--memory-limit among them); GOGC or
// GOMEMLIMIT set in the bench's environment reach them.
// Run: nice go test -run '^$' -bench Integration_LightPod -benchtime 1x ./cmd/ochopod/
func BenchmarkIntegration_LightPod(b *testing.B) {
	starts := benchInts(b, "OCHOPOD_BENCH_STARTS", "5")[0]
	requests := benchInts(b, "OCHOPOD_BENCH_REQUESTS", "1000000")[0]
	var longIdle time.Duration
	if v := os.Getenv("OCHOPOD_BENCH_LONG_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("OCHOPOD_BENCH_LONG_IDLE: %v", err)
		}
		longIdle = d
	}
	type build struct{ name, path string }
	builds := []build{{"this build", releaseBinary(b)}}
	if before := os.Getenv("OCHOPOD_BENCH_BEFORE"); before != "" {
		builds = append([]build{{"before", before}}, builds...)
	}
	srv := zkserver.Start(b)
	obs := mdObserve(b, srv.Addr())
	warmUp(b, obs)
	var rows [][11]float64
	for bi, bin := range builds {
		var cpu []time.Duration
		var idle []rss
		var last *podProcess
		for i := range max(starts, 1) {
			name := fmt.Sprintf("light-%d-%d", bi, i)
			p := lightPod(b, bin.path, srv.Addr(), name, nil)
			farmWait(b, obs, zk.ClusterOf("it", name), 1, "", time.Minute)
			cpu = append(cpu, processCPU(b, p.cmd.Process.Pid))
			time.Sleep(time.Second) // idle: nothing to do until the next check, an hour away
			idle = append(idle, rssOf(b, p.cmd.Process.Pid))
			last = p
		}
		var long rss
		if longIdle > 0 {
			time.Sleep(longIdle)
			long = rssOf(b, last.cmd.Process.Pid)
		}
		before := processCPU(b, last.cmd.Process.Pid)
		soak(b, last, requests)
		perRequest := float64((processCPU(b, last.cmd.Process.Pid) - before).Nanoseconds()) / 1e3 / float64(max(requests, 1))
		soaked := rssOf(b, last.cmd.Process.Pid)
		initMs, initBytes := initTrace(b, bin.path, srv.Addr(), obs, fmt.Sprintf("light-init-%d", bi))
		slices.Sort(cpu)
		slices.SortFunc(idle, func(x, y rss) int { return cmp.Compare(x.total, y.total) })
		mid := idle[len(idle)/2]
		rows = append(rows, [11]float64{ms(cpu[len(cpu)/2]), mid.total, mid.file, mid.anon, soaked.total, soaked.file, soaked.anon, perRequest, initMs, initBytes / 1024, long.total})
		b.ReportMetric(ms(cpu[len(cpu)/2]), "ms-cpu/start")
		b.ReportMetric(mid.total, "MB-rss/idle")
		b.ReportMetric(soaked.total, "MB-rss/soaked")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nochopod run, %d CPUs, load %s\n%-34s", runtime.NumCPU(), loadAvg(), "")
	for _, bin := range builds {
		fmt.Fprintf(&sb, " %12s", bin.name)
	}
	fmt.Fprintf(&sb, " %8s\n", "target")
	for i, line := range []struct{ what, target string }{
		{"start-up CPU, ms (median)", "≤ 20"}, {"idle RSS, MB (median)", "≤ 15"},
		{"  the binary's pages (RssFile)", ""}, {"  the process's memory (RssAnon)", ""},
		{fmt.Sprintf("RSS after %d requests, MB", requests), "≤ 20"},
		{"  the binary's pages (RssFile)", ""}, {"  the process's memory (RssAnon)", ""},
		{"  the pod's CPU per request, µs", ""}, {"package init, ms (inittrace)", ""}, {"package init, KB allocated", ""},
		{fmt.Sprintf("idle RSS after %v more, MB (1 pod)", longIdle), "≤ 15"},
	} {
		if i == 10 && longIdle == 0 {
			continue
		}
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

// releaseBinary builds ochopod as the Makefile's release and the Dockerfile do, once.
func releaseBinary(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "ochopod")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

// rss is a process's resident set in MB: whole (VmRSS), file pages (RssFile) and anonymous memory (RssAnon).
type rss struct{ total, file, anon float64 }

func rssOf(b *testing.B, pid int) rss {
	return rss{statusMB(b, pid, "VmRSS"), statusMB(b, pid, "RssFile"), statusMB(b, pid, "RssAnon")}
}

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

// soak sends n control requests to the pod from 4 keep-alive clients.
func soak(b *testing.B, p *podProcess, n int) {
	if n <= 0 {
		return
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
