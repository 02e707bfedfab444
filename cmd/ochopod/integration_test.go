package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkproxy"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// The binary under test, built once by buildBinary.
var (
	binaryOnce sync.Once //nolint:gochecknoglobals // test-only cache of the built binary
	binaryPath string    //nolint:gochecknoglobals
	binaryErr  error     //nolint:gochecknoglobals
)

func buildBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ochopod-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "ochopod")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer the process's output copier and the test may use at once.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed by the next Write; nil until someone waits
	path  string        // set when the process writes its output to this file itself: String reads it, next never fires
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote != nil {
		close(b.wrote)
		b.wrote = nil
	}
	return b.buf.Write(p)
}

// next returns a channel the next Write closes.
func (b *syncBuffer) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote == nil {
		b.wrote = make(chan struct{})
	}
	return b.wrote
}

// waitLog waits until the pod's output contains s.
func waitLog(t testing.TB, p *podProcess, s string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		wrote := p.out.next()
		if strings.Contains(p.out.String(), s) {
			return
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("pod on port %d never logged %q:\n%s", p.port, s, p.out.String())
		}
	}
}

func (b *syncBuffer) String() string {
	if b.path != "" {
		data, err := os.ReadFile(b.path)
		if err != nil {
			return "(the pod's log: " + err.Error() + ")"
		}
		return string(data)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// podProcess is one `ochopod run` process.
type podProcess struct {
	port int
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startPodProcess(t testing.TB, zkAddr, clusterName string, timeout time.Duration, command ...string) *podProcess {
	t.Helper()
	port := freePort(t)
	args := []string{"run", "--binding", "local", "--port", strconv.Itoa(port), "--cluster", clusterName,
		"--namespace", "it", "--zk", zkAddr, "--session-timeout", timeout.String(), "--log-level", "debug"}
	if len(command) > 0 {
		args = append(append(args, "--"), command...)
	}
	return startRaw(t, exec.Command(buildBinary(t), args...), port)
}

// startRaw starts cmd, an `ochopod run` listening on port, in a process group of its own, killed with its
// command at the end of the test.
func startRaw(t testing.TB, cmd *exec.Cmd, port int) *podProcess {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the pod and its command
		<-p.done
		if t.Failed() {
			t.Logf("pod on port %d:\n%s", port, out.String())
		}
	})
	return p
}

// info calls POST /info; ok is false when the pod does not answer.
func (p *podProcess) info() (map[string]any, bool) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/info", p.port), "application/json", nil)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	var m map[string]any
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&m) != nil {
		return nil, false
	}
	return m, true
}

func (p *podProcess) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// leaders returns the indexes of the live pods whose /info says leader, and how many pods answered registered.
func leaders(pods []*podProcess, exclude int) (lead []int, registered int) {
	for i, p := range pods {
		if !p.alive() || i == exclude {
			continue
		}
		m, ok := p.info()
		if !ok {
			continue
		}
		if m["registered"] == true {
			registered++
		}
		if m["state"] == "leader" {
			lead = append(lead, i)
		}
	}
	return lead, registered
}

// waitOneLeader polls /info (integration tests may poll with a deadline) until exactly one live pod leads and
// every live pod is registered; it fails at once if two pods lead at the same time. The pod at exclude (-1
// for none) is being stopped and is not asked.
func waitOneLeader(t *testing.T, pods []*podProcess, exclude int, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	live := 0
	for i, p := range pods {
		if p.alive() && i != exclude {
			live++
		}
	}
	for {
		lead, reg := leaders(pods, exclude)
		if len(lead) > 1 {
			t.Fatalf("two leaders at once: %v", lead)
		}
		if len(lead) == 1 && reg == live {
			return lead[0], time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("no single leader within %s (leaders %v, registered %d of %d)", within, lead, reg, live)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startFive(t *testing.T, zkAddr string, timeout time.Duration) []*podProcess {
	pods := make([]*podProcess, 5)
	for i := range pods {
		pods[i] = startPodProcess(t, zkAddr, "db", timeout, "sleep", "600")
	}
	return pods
}

func TestIntegration_FivePodsSIGKILLOfTheLeaderHandsOverWithinTheSessionTimeout(t *testing.T) {
	srv := zkserver.Start(t)
	const timeout = 2 * time.Second
	pods := startFive(t, srv.Addr(), timeout)
	holder, _ := waitOneLeader(t, pods, -1, 30*time.Second)

	if err := pods[holder].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-pods[holder].done
	next, took := waitOneLeader(t, pods, holder, timeout+time.Second)
	if next == holder {
		t.Fatal("a killed pod leads")
	}
	t.Logf("SIGKILL of the leader: pod %d leads after %s (session timeout %s)", next, took.Round(time.Millisecond), timeout)
}

func TestIntegration_FivePodsSIGTERMOfTheLeaderHandsOverAtOnce(t *testing.T) {
	srv := zkserver.Start(t)
	pods := startFive(t, srv.Addr(), 10*time.Second)
	holder, _ := waitOneLeader(t, pods, -1, 30*time.Second)
	m, _ := pods[holder].info()
	key, _ := m["key"].(string)

	if err := pods[holder].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next, took := waitOneLeader(t, pods, holder, 5*time.Second) // well inside the 10 s session timeout: the node went at once
	if next == holder {
		t.Fatal("the stopped pod leads")
	}
	select {
	case <-pods[holder].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pod did not exit on SIGTERM")
	}
	if code := pods[holder].cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	obs := observe(t, srv.Addr())
	live, _, err := cluster.ReadPods(obs, zk.ClusterOf("it", "db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range live {
		if p.Key == key {
			t.Fatalf("the stopped pod's node %s is still registered", p.Node)
		}
	}
	if len(live) != 4 {
		t.Fatalf("%d pods registered, want 4", len(live))
	}
	t.Logf("SIGTERM of the leader: pod %d leads after %s", next, took.Round(time.Millisecond))
}

func observe(t *testing.T, addr string) zk.Conn {
	t.Helper()
	ens, err := zk.ParseEnsemble(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := gozk.Connect(ctx, ens, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestIntegration_GarbageUnderPodsIsSkippedWithAWarning(t *testing.T) {
	srv := zkserver.Start(t)
	pods := []*podProcess{startPodProcess(t, srv.Addr(), "web", 5*time.Second)}
	waitOneLeader(t, pods, -1, 30*time.Second)

	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "web")
	for name, data := range map[string]string{
		"not-a-pod":                 `{"ip": "1.2.3.4"}`,
		"deadbeef.0000000077":       "\x00\xffnot json",
		"cafebabe.0000000078":       `["an", "array"]`,
		"0000-0000.0000000079.junk": "",
	} {
		if _, err := obs.Create(c.Pods()+"/"+name, []byte(data), zk.Persistent); err != nil {
			t.Fatal(err)
		}
	}
	// A new pod joins the polluted cluster and registers fine.
	pods = append(pods, startPodProcess(t, srv.Addr(), "web", 5*time.Second))
	waitOneLeader(t, pods, -1, 30*time.Second)

	cmd := exec.Command(buildBinary(t), "ls", "it.web", "--zk-only", "--zk", srv.Addr(), "-o", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ochopod pods: %v\n%s", err, stderr.String())
	}
	var views []lsCluster
	if err := json.Unmarshal(stdout.Bytes(), &views); err != nil || len(views) != 1 || len(views[0].Pods) != 2 || len(views[0].Skipped) != 4 {
		t.Fatalf("listed %+v (%v), want 2 pods and 4 nodes skipped:\n%s", views, err, stdout.String())
	}
	for _, bad := range []string{"not-a-pod", "deadbeef", "cafebabe", "0000-0000"} {
		if !strings.Contains(stderr.String(), bad) {
			t.Errorf("no warning about %s:\n%s", bad, stderr.String())
		}
	}
	for _, p := range pods {
		if !p.alive() {
			t.Fatal("a pod died")
		}
	}
}

func TestBadFlagsExitWithStatus2(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--bogus"},
		{"run", "--zk", "127.0.0.1:2181", "--port", "0"},
		{"run", "--zk", "127.0.0.1:2181", "--cluster", "a/b"},
		{"run", "--zk", "127.0.0.1:2181", "--namespace", "a..b"},
		{"run", "--zk", "127.0.0.1:2181", "--session-timeout", "10ms"},
		{"run", "--zk", "127.0.0.1:2181", "--idle-timeout", "100ms"},
		{"run", "--zk", "127.0.0.1:2181", "--zk-max-packet", "1000"},
		{"run", "--zk", "127.0.0.1:2181", "--memory-limit", "10MB"},
		{"run", "--zk", "127.0.0.1:2181", "--log-format", "xml"},
		{"run", "--zk", "127.0.0.1:2181", "--binding", "mars"},
		{"run", "--zk", "127.0.0.1:99999"},
		{"run", "--binding", "generic"},
		{"nope"},
		{"pods"},
	} {
		cmd := exec.Command(buildBinary(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("%v: exit %v (%v), want 2\n%s", args, cmd.ProcessState, err, out)
			continue
		}
		if !strings.HasPrefix(string(out), "ochopod: ") {
			t.Errorf("%v: unclear message %q", args, out)
		}
	}
}

func TestEnvironmentFallbacksLoseToFlags(t *testing.T) {
	cmd := exec.Command(buildBinary(t), "run", "--zk", "127.0.0.1:2181")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ochopod_port=notaport"}
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "ochopod_port") {
		t.Fatalf("a bad ochopod_port was not reported: %s", out)
	}
	cmd = exec.Command(buildBinary(t), "run", "--zk", "127.0.0.1:2181", "--port", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ochopod_port=8080"}
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--port 0") {
		t.Fatalf("the flag did not win over ochopod_port: %s", out)
	}
}

func TestIntegration_ExpiredSessionReRegistersAndLeavesTheCommandAlone(t *testing.T) {
	srv := zkserver.Start(t)
	proxy, err := zkproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	starts := filepath.Join(t.TempDir(), "starts")
	const timeout = 2 * time.Second
	p := startPodProcess(t, proxy.Addr(), "expiry", timeout, "sh", "-c", "echo $$ >> "+starts+"; exec sleep 600")
	waitOneLeader(t, []*podProcess{p}, -1, 30*time.Second)
	before := waitInfo(t, p, func(m map[string]any) bool { return m["process"] == "running" })

	// Silence the pod past its session timeout: the server expires the session and deletes its node.
	proxy.Pause()
	obs := observe(t, srv.Addr())
	waitNoPods(t, obs, zk.ClusterOf("it", "expiry"))
	proxy.Resume()

	var after map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, ok := p.info()
		if ok && m["registered"] == true && m["state"] == "leader" {
			pods, _, err := cluster.ReadPods(obs, zk.ClusterOf("it", "expiry"))
			if err == nil && len(pods) == 1 {
				after = m
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered again after the expiry: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after["key"] != before["key"] || after["seq"] != before["seq"] {
		t.Fatalf("identity changed: before %v after %v", before, after)
	}
	data, err := os.ReadFile(starts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) != 1 {
		t.Fatalf("the command was started %d times: %q", len(lines), lines)
	}
	pid, _ := strconv.Atoi(lines[0])
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the command (pid %d) is gone: %v", pid, err)
	}
	if !strings.Contains(p.out.String(), "session expired") {
		t.Errorf("the log does not say the session expired:\n%s", p.out.String())
	}
}

// waitNoPods waits, through watches, until the cluster has no pod node.
func waitNoPods(t *testing.T, c zk.Conn, cl zk.Cluster) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		names, _, ch, err := c.ChildrenW(cl.Pods())
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("pods still registered: %v", names)
		}
	}
}

// waitInfo polls /info until ok holds (integration tests may poll with a deadline).
func waitInfo(t *testing.T, p *podProcess, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, answered := p.info()
		if answered && ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met; last /info %v", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
