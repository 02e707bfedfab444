package main

// Real-process tests of DESIGN §13: the probes, /metrics and /info's additions of `ochopod run` binaries on a
// real ZooKeeper, through start, crash loop, off and death.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/metrics"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// obsGet GETs path and decodes its JSON object (nil when it is not one).
func obsGet(t *testing.T, p *podProcess, path string) (int, map[string]any) {
	t.Helper()
	r := lcDo(t, p, http.MethodGet, path, nil, nil)
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return r.code, m
}

// obsProbe checks one answer of /healthz and /readyz: healthz 200 while the pod lives; readyz 200, or 503
// with a reason. It returns whether the pod reads ready.
func obsProbe(t *testing.T, p *podProcess) (bool, string) {
	t.Helper()
	if code, m := obsGet(t, p, "/healthz"); code != http.StatusOK || m["ok"] != true {
		t.Fatalf("/healthz: %d %v", code, m)
	}
	code, m := obsGet(t, p, "/readyz")
	switch {
	case code == http.StatusOK && m["ready"] == true:
		return true, ""
	case code == http.StatusServiceUnavailable && m["ready"] == false && m["reason"] != "":
		reason, _ := m["reason"].(string)
		return false, reason
	}
	t.Fatalf("/readyz: %d %v", code, m)
	return false, ""
}

// obsListening tells whether the pod answers on its control port yet.
func obsListening(p *podProcess) bool {
	r, err := lcClient.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", p.port))
	if err != nil {
		return false
	}
	r.Body.Close()
	return true
}

// obsWaitListening waits until the pod answers on its control port.
func obsWaitListening(t *testing.T, p *podProcess) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !obsListening(p) {
		if time.Now().After(deadline) || !p.alive() {
			t.Fatal("the pod does not answer on its control port")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// obsScrape GETs /metrics and parses it with the Prometheus text parser.
func obsScrape(t *testing.T, p *podProcess) metrics.Scrape {
	t.Helper()
	r := lcDo(t, p, http.MethodGet, "/metrics", nil, nil)
	if r.code != http.StatusOK {
		t.Fatalf("/metrics: %s", r)
	}
	fams, err := metrics.ParseText(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	for name := range fams {
		if !strings.HasPrefix(name, "ochopod_") {
			t.Errorf("metric %s is not prefixed ochopod_", name)
		}
	}
	return fams
}

// obsWaitMetric polls /metrics until ok holds for the value.
func obsWaitMetric(t *testing.T, p *podProcess, what string, ok func(float64) bool, name string, labels ...string) float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := obsScrape(t, p).Value(name, labels...)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s%v is %v", what, name, labels, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DESIGN §13: the probes answer from the start to the process running: healthz 200 throughout, readyz 503
// with a reason until the process runs, then 200; GET /info answers as POST does.
func TestIntegration_ProbesAnswerThroughTheStart(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "probes", []string{"--check-every", "1h"}, "sleep", "600")
	deadline := time.Now().Add(30 * time.Second)
	var reasons []string
	for {
		if obsListening(p) {
			ready, why := obsProbe(t, p)
			if ready {
				break
			}
			reasons = append(reasons, why)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 30 s; reasons %q", reasons)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("reasons before ready: %q", reasons)
	code, info := obsGet(t, p, "/info")
	if last, ok := info["last_exit"].(map[string]any); code != http.StatusOK || info["process"] != "running" || info["restarts"] != 0.0 || !ok || len(last) != 0 {
		t.Fatalf("GET /info: %d %v", code, info)
	}
	// Ready comes when the process runs, before the phase ends ("leader (configuring)" until the snapshot is
	// written): compare the two once the state has settled, or they may see either side of that change.
	for post, _ := p.info(); post["state"] != "leader"; post, _ = p.info() {
		if time.Now().After(deadline) {
			t.Fatalf("the phase did not end within 30 s: %v", post)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, info = obsGet(t, p, "/info")
	if post, _ := p.info(); post["key"] != info["key"] || post["state"] != info["state"] || post["pid"] != info["pid"] {
		t.Fatalf("GET /info %v and POST /info %v differ", info, post)
	}
	if r := lcDo(t, p, http.MethodPost, "/healthz", nil, nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %s, want 405 (GET only)", r)
	}
}

// DESIGN §6, §13: a command that exits 3 at once is restarted and backs off; the sanity checks run on
// schedule while it is down, and after --checks failed checks the pod turns itself off (alive, registered).
// The probes answer throughout: healthz 200, readyz 503 naming the state; /info counts the restarts and
// gives the last exit; /metrics counts them too. A kill then makes the pod dead, and it still answers.
func TestIntegration_CrashLoopTurnsThePodOffAfterChecksChecks(t *testing.T) {
	srv := zkserver.Start(t)
	const checks = 3
	p := lcStartPod(t, srv.Addr(), "loop", []string{"--check-every", "400ms", "--checks", strconv.Itoa(checks), "--linger", "3s"},
		"sh", "-c", "exit 3")
	obsWaitListening(t, p)
	sawBackoff := false
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), "too many failed sanity checks") {
		if _, why := obsProbe(t, p); strings.Contains(why, "backoff") {
			sawBackoff = true
		}
		if time.Now().After(deadline) {
			t.Fatal("the crash loop did not turn the pod off within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := lcWaitProcess(t, p, "stopped")
	if m["registered"] != true || m["state"] != "leader" {
		t.Fatalf("turned off, the pod should stay registered and leader: %v", m)
	}
	last, _ := m["last_exit"].(map[string]any)
	if last["code"] != 3.0 || last["signal"] != 0.0 || last["at"] == "" || last["at"] == nil {
		t.Fatalf("/info last_exit %v, want code 3, signal 0 and a time", m["last_exit"])
	}
	restarts, _ := m["restarts"].(float64)
	if restarts < 1 {
		t.Fatalf("/info restarts %v", m["restarts"])
	}
	if !sawBackoff {
		t.Error("readyz never named the backoff while the process waited for its restart")
	}
	if ready, why := obsProbe(t, p); ready || !strings.Contains(why, "stopped") {
		t.Errorf("readyz of a pod turned off: ready %v, %q", ready, why)
	}
	fams := obsScrape(t, p)
	if got := fams.Value("ochopod_sanity_checks_total", "result", "failed"); got != checks {
		t.Errorf("failed sanity checks %v, want exactly --checks %d", got, checks)
	}
	if got := fams.Value("ochopod_process_restarts_total"); got != restarts {
		t.Errorf("ochopod_process_restarts_total %v, /info restarts %v", got, restarts)
	}
	if got := fams.Value("ochopod_process_running"); got != 0 {
		t.Errorf("ochopod_process_running %v", got)
	}

	// Dead: the probes still answer while the pod lingers.
	if r := lcPost(t, p, "/control/kill", nil); r.code != http.StatusOK {
		t.Fatalf("kill: %s", r)
	}
	lcWaitProcess(t, p, "dead")
	if ready, why := obsProbe(t, p); ready || !strings.Contains(why, "dead") {
		t.Errorf("readyz of a dead pod: ready %v, %q", ready, why)
	}
	if code := lcWaitExit(t, p, 15*time.Second); code != 3 {
		t.Errorf("ochopod run exited %d, want the last process's 3", code)
	}
}

// DESIGN §13: /metrics parses and its counters move as a pod joins (a phase on the leader, control requests on
// both), its process crashes (a restart) and the leader leaves (a takeover and a phase on the new leader).
func TestIntegration_MetricsMoveOnJoinCrashAndHandOver(t *testing.T) {
	srv := zkserver.Start(t)
	flags := []string{"--check-every", "1h"}
	a := lcStartPod(t, srv.Addr(), "metrics", flags, "sleep", "600")
	lcWaitRunning(t, a, 0)
	gt := func(n float64) func(float64) bool { return func(v float64) bool { return v > n } }
	eq := func(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
	obsWaitMetric(t, a, "the first pod leads", eq(1), "ochopod_leader")
	obsWaitMetric(t, a, "the first pod is connected", eq(1), "ochopod_zk_connected")
	obsWaitMetric(t, a, "the first pod runs its process", eq(1), "ochopod_process_running")
	phases := obsWaitMetric(t, a, "the first phase", gt(0), "ochopod_phases_total", "outcome", "ok")
	obsWaitMetric(t, a, "on answered 200", gt(0), "ochopod_control_requests_total", "task", "on", "code", "200")

	// Join.
	b := lcStartPod(t, srv.Addr(), "metrics", flags, "sleep", "600")
	pid := lcWaitRunning(t, b, 0)
	obsWaitMetric(t, a, "the join's phase", gt(phases), "ochopod_phases_total", "outcome", "ok")
	obsWaitMetric(t, a, "two pods", eq(2), "ochopod_cluster_pods")
	obsWaitMetric(t, a, "the join timed", gt(0), "ochopod_reconfiguration_seconds")
	obsWaitMetric(t, b, "the joiner was checked", gt(0), "ochopod_control_requests_total", "task", "check")
	obsWaitMetric(t, b, "the joiner follows", eq(0), "ochopod_leader")

	// Crash.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcWaitRunning(t, b, pid)
	obsWaitMetric(t, b, "the crash", eq(1), "ochopod_process_restarts_total")

	// Hand-over.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	obsWaitMetric(t, b, "the hand-over", eq(1), "ochopod_leader")
	obsWaitMetric(t, b, "the takeover timed", eq(1), "ochopod_leader_takeover_seconds")
	obsWaitMetric(t, b, "the new leader's phase", gt(0), "ochopod_phases_total", "outcome", "ok")
	obsWaitMetric(t, b, "one pod left", eq(1), "ochopod_cluster_pods")
}

// DESIGN §13: SIGHUP and SIGUSR1 reach the process's group, which traps them and writes a file; ochopod run
// keeps running and so does the process.
func TestIntegration_SIGHUPAndSIGUSR1AreForwardedToTheProcess(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	script := fmt.Sprintf(`trap 'echo hup >> %[1]s/hup' HUP; trap 'echo usr1 >> %[1]s/usr1' USR1; touch %[1]s/ready; while :; do sleep 0.05; done`, dir)
	p := lcStartPod(t, srv.Addr(), "signals", []string{"--check-every", "1h"}, "sh", "-c", script)
	pid := lcWaitRunning(t, p, 0)
	obsWaitFile(t, filepath.Join(dir, "ready"), "") // the traps are set
	for _, c := range []struct {
		sig  syscall.Signal
		file string
	}{{syscall.SIGHUP, "hup"}, {syscall.SIGUSR1, "usr1"}} {
		if err := p.cmd.Process.Signal(c.sig); err != nil {
			t.Fatal(err)
		}
		obsWaitFile(t, filepath.Join(dir, c.file), c.file)
	}
	if !p.alive() {
		t.Fatal("ochopod run died of a forwarded signal")
	}
	if m, _ := p.info(); m["process"] != "running" || lcPid(m) != pid || m["restarts"] != 0.0 {
		t.Fatalf("after the signals: %v, want the same process %d running", m, pid)
	}
}

// obsWaitFile waits until the file at path exists and holds want (trimmed; "" for any content).
func obsWaitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && (want == "" || strings.TrimSpace(string(b)) == want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, %v; want %q", path, b, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// DESIGN §13: a second SIGTERM while the pod tears its process down skips the grace period.
func TestIntegration_SecondSIGTERMSkipsTheGrace(t *testing.T) {
	srv := zkserver.Start(t)
	const grace = time.Minute
	p := lcStartPod(t, srv.Addr(), "hurry", []string{"--grace", grace.String()}, lcIgnoresTERM...)
	pid := lcWaitRunning(t, p, 0)
	lcWaitGroupSize(t, pid, 2)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lcWaitProcess(t, p, "terminating")
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lcWaitExit(t, p, 15*time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("ochopod run took %s after the second SIGTERM, want well under --grace %s", took, grace)
	}
	lcWaitGroupGone(t, pid, 2*time.Second)
}

// Issue 15: with neither --zk nor ochopod_zk the local binding assumes 127.0.0.1:2181 and says so; when
// ZooKeeper cannot be reached the cause is logged at WARN at once, not after the connect timeout.
func TestIntegration_UnreachableZooKeeperIsNamedWithItsCause(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String() // a port nothing listens on once closed
	ln.Close()

	// No --zk: the hint.
	port := freePort(t)
	cmd := exec.Command(buildBinary(t), "run", "--binding", "local", "--port", strconv.Itoa(port), "--", "sleep", "600")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "ochopod_zk=") })
	hint := startRaw(t, cmd, port)
	waitLog(t, hint, "no --zk and no ochopod_zk: assuming ZooKeeper on 127.0.0.1:2181")

	// An ensemble that refuses: the cause at WARN within a second or so (the connect timeout is 10 s).
	p := lcStartPod(t, dead, "unreachable", nil, "sleep", "600")
	began := time.Now()
	waitLog(t, p, "cannot reach ZooKeeper (retrying): dial tcp "+dead+": connect: connection refused")
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the cause took %s to show", took)
	}
	if n := strings.Count(p.out.String(), "cannot reach ZooKeeper"); n != 1 {
		t.Errorf("the cause logged %d times within one attempt, want once", n)
	}
}
