package main

// Real-process tests of the pod's lifecycle (DESIGN §6, §8, §11): `ochopod run` binaries on a real ZooKeeper,
// driven over the HTTP control API, with the sub-process's pid, process group and zombies read from /proc.
// A single pod leads its own cluster, so its model configures it (check, on, ok) right after it registers.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// lcStartPod starts `ochopod run` in the local binding, in the namespace "it", with extra flags before
// the command (startPodProcess takes none). Like startPodProcess it runs in a process group of its own, killed
// with its command at the end of the test.
func lcStartPod(t testing.TB, zkAddr, clusterName string, flags []string, command ...string) *podProcess {
	t.Helper()
	port := freePort(t)
	args := []string{"run", "--binding", "local", "--port", strconv.Itoa(port), "--cluster", clusterName,
		"--namespace", "it", "--zk", zkAddr, "--session-timeout", "10s", "--log-level", "debug"}
	args = append(args, flags...)
	if len(command) > 0 {
		args = append(append(args, "--"), command...)
	}
	cmd := exec.Command(buildBinary(t), args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		// The command's group first (the kernel kills only the pod's direct child when the pod dies), then the pod.
		for _, e := range lcProcTable() {
			if e.ppid == cmd.Process.Pid && e.pgrp == e.pid {
				_ = syscall.Kill(-e.pid, syscall.SIGKILL)
			}
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("pod on port %d:\n%s", port, out.String())
		}
	})
	return p
}

// lcClient is a keep-alive client; its timeout is far beyond any control request of these tests.
var lcClient = &http.Client{Timeout: 2 * time.Minute} //nolint:gochecknoglobals // shared keep-alive connections

// lcReply is one HTTP exchange with a pod.
type lcReply struct {
	code  int
	body  []byte
	ctype string
	took  time.Duration
}

func (r lcReply) String() string {
	return fmt.Sprintf("%d %s (%s)", r.code, r.body, r.took.Round(time.Millisecond))
}

// lcDo sends one request to the pod and reads the whole reply.
func lcDo(t testing.TB, p *podProcess, method, path string, body []byte, header map[string]string) lcReply {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := lcClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the reply: %v", method, path, err)
	}
	return lcReply{code: resp.StatusCode, body: b, ctype: resp.Header.Get("Content-Type"), took: time.Since(start)}
}

func lcPost(t testing.TB, p *podProcess, path string, body []byte) lcReply {
	t.Helper()
	return lcDo(t, p, http.MethodPost, path, body, nil)
}

// lcWantError checks a JSON error reply: the code, the content type and {"error": "<something>"}.
func lcWantError(t *testing.T, what string, r lcReply, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: %s, want %d", what, r, code)
		return
	}
	if !strings.HasPrefix(r.ctype, "application/json") {
		t.Errorf("%s: content type %q, want application/json", what, r.ctype)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Errorf("%s: the reply is not a JSON object: %v: %q", what, err, r.body)
		return
	}
	if msg, _ := m["error"].(string); msg == "" {
		t.Errorf("%s: no error message in %q", what, r.body)
	}
}

// lcPid reads /info's pid.
func lcPid(m map[string]any) int {
	f, _ := m["pid"].(float64)
	return int(f)
}

// lcWaitRunning waits until /info says running with a pid other than not (0: any), and returns that pid.
func lcWaitRunning(t *testing.T, p *podProcess, not int) int {
	t.Helper()
	m := waitInfo(t, p, func(m map[string]any) bool {
		return m["process"] == "running" && lcPid(m) > 0 && lcPid(m) != not
	})
	return lcPid(m)
}

// lcWaitProcess waits until /info's process reads state.
func lcWaitProcess(t *testing.T, p *podProcess, state string) map[string]any {
	t.Helper()
	return waitInfo(t, p, func(m map[string]any) bool { return m["process"] == state })
}

// lcProc is what /proc/<pid>/stat says of a process.
type lcProc struct {
	pid, ppid, pgrp int
	state           string
	comm            string
}

func (e lcProc) String() string {
	return fmt.Sprintf("%d(%s %s ppid %d pgrp %d)", e.pid, e.comm, e.state, e.ppid, e.pgrp)
}

// lcProcTable reads every process of /proc.
func lcProcTable() []lcProc {
	dirs, _ := os.ReadDir("/proc")
	var out []lcProc
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:]) // state ppid pgrp ...
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, lcProc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0], comm: s[open+1 : end]})
	}
	return out
}

// lcGroup lists the processes of group pgid, zombies included.
func lcGroup(pgid int) []lcProc {
	var out []lcProc
	for _, e := range lcProcTable() {
		if e.pgrp == pgid {
			out = append(out, e)
		}
	}
	return out
}

// lcZombies lists the zombie children of ppid.
func lcZombies(ppid int) []lcProc {
	var out []lcProc
	for _, e := range lcProcTable() {
		if e.ppid == ppid && e.state == "Z" {
			out = append(out, e)
		}
	}
	return out
}

// lcWaitGroupGone waits until no process of group pgid is left (zombies count: something must still reap them).
func lcWaitGroupGone(t *testing.T, pgid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := lcGroup(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of group %d left after %s: %v", pgid, within, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lcWaitGroupSize waits until group pgid has at least n live members (the shell and its sleep, say).
func lcWaitGroupSize(t *testing.T, pgid, n int) []lcProc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var live []lcProc
		for _, e := range lcGroup(pgid) {
			if e.state != "Z" {
				live = append(live, e)
			}
		}
		if len(live) >= n {
			return live
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %d has %v, want %d live members", pgid, live, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lcNoZombies checks, within a short deadline (the reaper runs on SIGCHLD), that the pod has no zombie child.
func lcNoZombies(t *testing.T, p *podProcess) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		z := lcZombies(p.cmd.Process.Pid)
		if len(z) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie children of the pod (pid %d): %v", p.cmd.Process.Pid, z)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lcAlive tells whether pid is a live process (not a zombie).
func lcAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	end := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[end+1:])
	return len(f) > 0 && f[0] != "Z"
}

// lcClusterBody is the body the leader sends with check, on and ok (sdk.Wire): the pods as ZooKeeper holds them,
// the given dependencies, and the pod's key.
func lcClusterBody(t testing.TB, conn zk.Conn, c zk.Cluster, key string, deps map[string]map[string]payload.Payload) []byte {
	t.Helper()
	pods, _, err := cluster.ReadPods(conn, c)
	if err != nil {
		t.Fatal(err)
	}
	w := sdk.Wire{Pods: map[string]payload.Payload{}, Dependencies: deps, Key: key}
	if w.Dependencies == nil {
		w.Dependencies = map[string]map[string]payload.Payload{}
	}
	for _, p := range pods {
		w.Pods[p.Key] = p.Payload
	}
	if _, ok := w.Pods[key]; !ok {
		t.Fatalf("pod %s is not registered: %v", key, pods)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lcRegistered tells whether key has a node under the cluster's pods/.
func lcRegistered(t *testing.T, conn zk.Conn, c zk.Cluster, key string) bool {
	t.Helper()
	pods, _, err := cluster.ReadPods(conn, c)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(pods, func(p cluster.Pod) bool { return p.Key == key })
}

// lcWaitExit waits for the pod's binary to exit and returns its exit status.
func lcWaitExit(t *testing.T, p *podProcess, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("ochopod run did not exit within %s", within)
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		t.Fatalf("ochopod run died of %v", ws.Signal())
	}
	return p.cmd.ProcessState.ExitCode()
}

// --- 1. crash, exit 0, kill ---

func TestIntegration_SIGKILLOfTheCommandRestartsItWithANewPid(t *testing.T) {
	srv := zkserver.Start(t)
	// The crash counts against the next sanity check, one --check-every later: an hour, so the pod stays on.
	p := lcStartPod(t, srv.Addr(), "crash", []string{"--check-every", "1h"}, "sleep", "600")
	first := lcWaitRunning(t, p, 0)
	if got := lcGroup(first); len(got) != 1 || got[0].ppid != p.cmd.Process.Pid {
		t.Fatalf("the command (pid %d) is not alone in a group of its own under the pod (pid %d): %v", first, p.cmd.Process.Pid, got)
	}

	start := time.Now()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := lcWaitRunning(t, p, first)
	took := time.Since(start)
	if lcAlive(first) {
		t.Fatalf("the killed process %d is still there", first)
	}
	if !lcAlive(second) {
		t.Fatalf("the new process %d is not running", second)
	}
	lcNoZombies(t, p)
	t.Logf("SIGKILL of the command: running again with pid %d after %s", second, took.Round(time.Millisecond))

	// A second crash before any sanity check passed is a consecutive one: the restart backs off (1 s first,
	// less up to a fifth of jitter).
	start = time.Now()
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	third := lcWaitRunning(t, p, second)
	took = time.Since(start)
	if took < 700*time.Millisecond {
		t.Errorf("the second consecutive crash restarted after %s: no backoff", took)
	}
	lcNoZombies(t, p)
	t.Logf("second consecutive SIGKILL: running again with pid %d after %s", third, took.Round(time.Millisecond))
	if !p.alive() {
		t.Fatal("the pod exited")
	}
}

func TestIntegration_ACrashCostsTheNextSanityCheck(t *testing.T) {
	srv := zkserver.Start(t)
	const every = 300 * time.Millisecond
	flags := []string{"--check-every", every.String()}
	one := lcStartPod(t, srv.Addr(), "checks-one", append(flags, "--checks", "1"), "sleep", "600") // the original's budget
	two := lcStartPod(t, srv.Addr(), "checks-two", append(flags, "--checks", "2"), "sleep", "600")
	pids := []int{lcWaitRunning(t, one, 0), lcWaitRunning(t, two, 0)}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	again := []int{lcWaitRunning(t, one, pids[0]), lcWaitRunning(t, two, pids[1])}

	// --checks 1: the check one period after the restart fails, and the pod turns its process off, alive.
	m := lcWaitProcess(t, one, "stopped")
	if lcAlive(again[0]) || m["registered"] != true || !one.alive() {
		t.Fatalf("after the failed check: process %d alive %v, /info %v", again[0], lcAlive(again[0]), m)
	}
	lcWaitGroupGone(t, again[0], 2*time.Second)
	if r := lcPost(t, one, "/control/on", nil); r.code != http.StatusOK {
		t.Fatalf("on after the pod turned itself off: %s", r)
	}
	lcWaitRunning(t, one, again[0])

	// --checks 2: the failed check costs one of two; the next one passes and the process runs on.
	deadline := time.Now().Add(5 * every)
	for time.Now().Before(deadline) {
		if m, ok := two.info(); !ok || m["process"] != "running" || lcPid(m) != again[1] {
			t.Fatalf("--checks 2: the process did not stay up after one crash: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(two.out.String(), "sanity check failed") {
		t.Error("--checks 2: no failed sanity check logged")
	}
	lcNoZombies(t, one)
	lcNoZombies(t, two)
}

// TestIntegration_CrashLeavesNoProcessOfTheOldGroup: when the command's main process crashes (or exits 0), the
// children it left in its group are SIGKILLed with it, so none runs on into the next incarnation.
func TestIntegration_CrashLeavesNoProcessOfTheOldGroup(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "orphans", []string{"--check-every", "1h"}, "sh", "-c", "sleep 600 & wait")
	pid := lcWaitRunning(t, p, 0)
	lcWaitGroupSize(t, pid, 2)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcWaitRunning(t, p, pid)
	lcWaitGroupGone(t, pid, 2*time.Second)
}

func TestIntegration_CommandExiting0KillsThePodWhichDeregistersLingersAndExits0(t *testing.T) {
	srv := zkserver.Start(t)
	trigger := filepath.Join(t.TempDir(), "finish")
	const linger = 3 * time.Second
	p := lcStartPod(t, srv.Addr(), "done", []string{"--linger", linger.String()},
		"sh", "-c", "while [ ! -e "+trigger+" ]; do sleep 0.02; done; exit 0")
	pid := lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "done")
	if !lcRegistered(t, obs, c, key) {
		t.Fatal("the pod is not registered")
	}

	if err := os.WriteFile(trigger, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m := lcWaitProcess(t, p, "dead")
	dead := time.Now()
	if lcPid(m) != 0 {
		t.Errorf("a dead pod shows pid %d", lcPid(m))
	}
	for _, task := range []string{"on", "off", "check", "kill"} {
		lcWantError(t, "/control/"+task+" when dead", lcPost(t, p, "/control/"+task, nil), http.StatusGone)
	}
	// Deregistered at once, while /info and /log still answer.
	waitNoPods(t, obs, c)
	if m, ok := p.info(); !ok || m["process"] != "dead" {
		t.Fatalf("/info does not answer while the pod lingers: %v %v", m, ok)
	}
	if r := lcPost(t, p, "/log", nil); r.code != http.StatusOK {
		t.Errorf("/log while lingering: %s", r)
	}
	if time.Since(dead) > linger {
		t.Fatalf("the checks took longer than the linger (%s): the test proves nothing", time.Since(dead))
	}

	code := lcWaitExit(t, p, linger+10*time.Second)
	lingered := time.Since(dead)
	if code != 0 {
		t.Errorf("ochopod run exited with %d, want 0 (the command's status)", code)
	}
	if lingered < linger-100*time.Millisecond || lingered > linger+3*time.Second {
		t.Errorf("ochopod run exited %s after the pod died, want about --linger %s", lingered, linger)
	}
	lcWaitGroupGone(t, pid, 2*time.Second)
	t.Logf("exit 0: dead, deregistered, exited %d after %s", code, lingered.Round(time.Millisecond))
}

func TestIntegration_StartFalseWaitsForASecondOn(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "later", []string{"--start=false", "--check-every", "1h"}, "sleep", "600")
	// Configured by its leader (itself), not started.
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "later")
	waitInfo(t, p, func(m map[string]any) bool { return m["state"] == "leader" && m["registered"] == true })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, _, err := obs.Get(c.Hash()); err == nil && len(data) > 0 {
			break // the first configuration phase is over
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster was never configured")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m, _ := p.info(); m["process"] != "stopped" || lcPid(m) != 0 {
		t.Fatalf("--start=false: the first configuration started the process: %v", m)
	}
	if r := lcPost(t, p, "/control/on", nil); r.code != http.StatusOK {
		t.Fatalf("on: %s", r)
	}
	if m, _ := p.info(); m["process"] != "running" || lcPid(m) == 0 {
		t.Fatalf("the second on did not start the process: %v", m)
	}
}

// A command that is not there, or cannot be executed, is reported before the pod registers (no node of its
// cluster is ever created), and ochopod run exits as a shell would: 127 not found, 126 not executable.
func TestIntegration_ACommandThatCannotRunExits127Or126BeforeRegistering(t *testing.T) {
	srv := zkserver.Start(t)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := observe(t, srv.Addr())
	for _, c := range []struct {
		cluster string
		command string
		code    int
	}{
		{"no-such-cmd", "no-such-cmd", 127},
		{"no-such-path", "/nonexistent/ochopod-command", 127},
		{"not-executable", notExec, 126},
	} {
		p := lcStartPod(t, srv.Addr(), c.cluster, nil, c.command)
		if code := lcWaitExit(t, p, 15*time.Second); code != c.code {
			t.Errorf("%s: ochopod run exited with %d, want %d", c.command, code, c.code)
		}
		if !strings.Contains(p.out.String(), c.command) {
			t.Errorf("%s: the message does not name the command: %s", c.command, p.out.String())
		}
		if ok, _, err := conn.Exists(zk.ClusterOf("it", c.cluster).Path()); err != nil || ok {
			t.Errorf("%s: the cluster's node exists (%v, %v): the pod registered", c.command, ok, err)
		}
	}
}

// lcKillAndExit POSTs kill to a running pod and returns the binary's exit status and how long the kill took.
func lcKillAndExit(t *testing.T, flags []string, command ...string) (int, time.Duration) {
	t.Helper()
	srv := zkserver.Start(t)
	const linger = time.Second
	p := lcStartPod(t, srv.Addr(), "kill", append([]string{"--linger", linger.String()}, flags...), command...)
	pid := lcWaitRunning(t, p, 0)
	lcWaitGroupSize(t, pid, 1)
	obs := observe(t, srv.Addr())

	r := lcPost(t, p, "/control/kill/30", nil)
	if r.code != http.StatusOK {
		t.Fatalf("kill: %s", r)
	}
	if m, ok := p.info(); !ok || m["process"] != "dead" {
		t.Fatalf("/info after kill: %v", m)
	}
	lcWantError(t, "on after kill", lcPost(t, p, "/control/on", nil), http.StatusGone)
	waitNoPods(t, obs, zk.ClusterOf("it", "kill"))
	lcWaitGroupGone(t, pid, 2*time.Second)
	lcNoZombies(t, p)
	code := lcWaitExit(t, p, linger+10*time.Second)
	return code, r.took
}

func TestIntegration_KillOfACommandExiting0OnSIGTERMExits0(t *testing.T) {
	code, took := lcKillAndExit(t, nil, "sh", "-c", `trap "exit 0" TERM; while :; do sleep 0.05; done`)
	if code != 0 {
		t.Fatalf("ochopod run exited with %d, want 0", code)
	}
	t.Logf("kill answered after %s; exit %d", took.Round(time.Millisecond), code)
}

func TestIntegration_KillOfACommandDyingOfSIGTERMExits143(t *testing.T) {
	// DESIGN §11: the sub-process's exit status, 128 + n if it died of signal n.
	code, took := lcKillAndExit(t, nil, "sleep", "600")
	if code != 128+int(syscall.SIGTERM) {
		t.Fatalf("ochopod run exited with %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	t.Logf("kill answered after %s; exit %d", took.Round(time.Millisecond), code)
}

func TestIntegration_KillOfACommandIgnoringSIGTERMSIGKILLsItAfterGraceAndExits137(t *testing.T) {
	const grace = time.Second
	code, took := lcKillAndExit(t, []string{"--grace", grace.String()}, "sh", "-c", `trap "" TERM; while :; do sleep 1; done`)
	if code != 128+int(syscall.SIGKILL) {
		t.Fatalf("ochopod run exited with %d, want %d", code, 128+int(syscall.SIGKILL))
	}
	if took < grace-50*time.Millisecond || took > grace+time.Second {
		t.Errorf("kill answered after %s, want about --grace %s", took, grace)
	}
	t.Logf("kill answered after %s; exit %d", took.Round(time.Millisecond), code)
}

// --- 2. grace and soft ---

// lcIgnoresTERM is a command that ignores SIGTERM; its sleep children inherit the ignored disposition.
var lcIgnoresTERM = []string{"sh", "-c", `trap "" TERM; while :; do sleep 1; done`} //nolint:gochecknoglobals

func TestIntegration_OffSIGKILLsACommandIgnoringSIGTERMAfterGrace(t *testing.T) {
	srv := zkserver.Start(t)
	const grace = time.Second
	p := lcStartPod(t, srv.Addr(), "grace", []string{"--grace", grace.String(), "--check-every", "1h"}, lcIgnoresTERM...)
	pid := lcWaitRunning(t, p, 0)
	members := lcWaitGroupSize(t, pid, 2) // sh and its sleep

	// An explicit timeout: without one the request's timeout is --grace too, and the tear-down needs grace
	// plus the exit (see the next step).
	r := lcPost(t, p, "/control/off/30", nil)
	if r.code != http.StatusOK {
		t.Fatalf("off: %s", r)
	}
	if r.took < grace-50*time.Millisecond || r.took > grace+time.Second {
		t.Errorf("off answered after %s, want about --grace %s", r.took, grace)
	}
	if m, _ := p.info(); m["process"] != "stopped" || lcPid(m) != 0 {
		t.Errorf("/info after off: %v", m)
	}
	lcWaitGroupGone(t, pid, 2*time.Second)
	lcNoZombies(t, p)
	t.Logf("off with grace %s answered after %s; group %v gone", grace, r.took.Round(time.Millisecond), members)

	// on without a body starts the last configuration again; off with the default timeout (--grace).
	if r := lcPost(t, p, "/control/on", nil); r.code != http.StatusOK {
		t.Fatalf("on: %s", r)
	}
	pid2 := lcWaitRunning(t, p, pid)
	lcWaitGroupSize(t, pid2, 2)
	r = lcPost(t, p, "/control/off", nil)
	t.Logf("off with the default timeout (= --grace %s): %s", grace, r)
	if r.code != http.StatusOK && r.code != http.StatusRequestTimeout {
		t.Errorf("off with the default timeout: %s", r)
	}
	lcWaitProcess(t, p, "stopped")
	lcWaitGroupGone(t, pid2, 2*time.Second)
	lcNoZombies(t, p)
}

func TestIntegration_SoftNeverSIGKILLs(t *testing.T) {
	srv := zkserver.Start(t)
	const grace = time.Second
	p := lcStartPod(t, srv.Addr(), "soft", []string{"--grace", grace.String(), "--soft", "--check-every", "1h"}, lcIgnoresTERM...)
	pid := lcWaitRunning(t, p, 0)
	lcWaitGroupSize(t, pid, 2)

	// The request's timeout is --grace: it answers 408 then, and the tear-down goes on without a SIGKILL.
	r := lcPost(t, p, "/control/off", nil)
	lcWantError(t, "off of a process ignoring SIGTERM, soft", r, http.StatusRequestTimeout)
	if r.took < grace-50*time.Millisecond || r.took > grace+time.Second {
		t.Errorf("off answered after %s, want about --grace %s", r.took, grace)
	}
	// Well past the grace, the process and its group still live, torn down but never killed.
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !lcAlive(pid) {
			t.Fatalf("the process %d was killed despite --soft", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m, _ := p.info(); m["process"] != "terminating" || lcPid(m) != pid {
		t.Errorf("/info of a soft tear-down past grace: %v", m)
	}
	lcWaitGroupSize(t, pid, 2)

	// The operator cleans up: the tear-down completes, the pod is stopped and works on.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	lcWaitProcess(t, p, "stopped")
	lcWaitGroupGone(t, pid, 2*time.Second)
	lcNoZombies(t, p)
	if r := lcPost(t, p, "/control/on", nil); r.code != http.StatusOK {
		t.Fatalf("on after the soft tear-down: %s", r)
	}
	lcWaitRunning(t, p, pid)
}

// --- 3. bad requests ---

func TestIntegration_BadRequestsGetJSONErrorsAndThePodKeepsWorking(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "bad", []string{"--check-every", "1h"}, "sleep", "600")
	pid := lcWaitRunning(t, p, 0)

	big := bytes.Repeat([]byte(" "), 1<<20+1)
	big[0] = '{'
	for _, c := range []struct {
		what, method, path string
		body               []byte
		header             map[string]string
		code               int
	}{
		{"malformed JSON", http.MethodPost, "/control/on", []byte("{not json"), nil, http.StatusBadRequest},
		{"malformed JSON with a timeout", http.MethodPost, "/control/check/5", []byte(`{"pods":`), nil, http.StatusBadRequest},
		{"unknown task", http.MethodPost, "/control/dance", nil, nil, http.StatusBadRequest},
		{"unknown task with a timeout", http.MethodPost, "/control/dance/5", nil, nil, http.StatusBadRequest},
		{"bad timeout", http.MethodPost, "/control/on/soon", nil, nil, http.StatusBadRequest},
		{"negative timeout", http.MethodPost, "/control/on/-1", nil, nil, http.StatusBadRequest},
		{"oversized body", http.MethodPost, "/control/on", big, nil, http.StatusRequestEntityTooLarge},
		{"oversized body to /exec", http.MethodPost, "/exec", big, map[string]string{"X-Shell": "ls"}, http.StatusRequestEntityTooLarge},
		{"JSON that is not a cluster", http.MethodPost, "/control/on", []byte(`{"pods": 1}`), nil, http.StatusNotAcceptable},
		{"a cluster without this pod", http.MethodPost, "/control/on", []byte(`{"pods": {"x": {}}, "dependencies": {}, "key": "y"}`), nil, http.StatusNotAcceptable},
		{"GET /log (GET is for /info and the probes of DESIGN §13)", http.MethodGet, "/log", nil, nil, http.StatusMethodNotAllowed},
		{"GET /control/on", http.MethodGet, "/control/on", nil, nil, http.StatusMethodNotAllowed},
		{"PUT /log", http.MethodPut, "/log", nil, nil, http.StatusMethodNotAllowed},
		{"unknown tool", http.MethodPost, "/exec", nil, map[string]string{"X-Shell": "dance --now"}, http.StatusNotFound},
		{"no tool", http.MethodPost, "/exec", nil, nil, http.StatusBadRequest},
		{"unknown path", http.MethodPost, "/nowhere", nil, nil, http.StatusNotFound},
	} {
		r := lcDo(t, p, c.method, c.path, c.body, c.header)
		lcWantError(t, c.what, r, c.code)
		m, ok := p.info()
		if !ok || m["process"] != "running" || lcPid(m) != pid {
			t.Fatalf("after %s: /info %v (answered %v), want running with pid %d", c.what, m, ok, pid)
		}
	}
	if !lcAlive(pid) || !p.alive() {
		t.Fatal("the command or the pod is gone")
	}
	// The pod still takes good requests.
	if r := lcPost(t, p, "/control/signal", nil); r.code != http.StatusOK {
		t.Errorf("signal: %s", r)
	}
	if r := lcPost(t, p, "/control/on", nil); r.code != http.StatusOK {
		t.Errorf("on: %s", r)
	}
	if m, _ := p.info(); lcPid(m) != pid {
		t.Errorf("the pid changed: %v", m)
	}
}

// --- 4. strict and non-strict ---

// lcOtherDeps is a dependency cluster of one pod, as a leader would send it.
func lcOtherDeps(ip string) map[string]map[string]payload.Payload {
	return map[string]map[string]payload.Payload{
		"it.other": {"0b5e6c1e-0000-4000-8000-000000000001": {"ip": ip, "cluster": "other", "namespace": "it", "seq": 1}},
	}
}

// lcOnWith POSTs on with body and returns the pid /info shows once it answered 200.
func lcOnWith(t *testing.T, p *podProcess, body []byte) int {
	t.Helper()
	r := lcPost(t, p, "/control/on/30", body)
	if r.code != http.StatusOK {
		t.Fatalf("on: %s", r)
	}
	m, ok := p.info()
	if !ok || m["process"] != "running" {
		t.Fatalf("/info right after on answered: %v", m)
	}
	return lcPid(m)
}

func TestIntegration_OnRestartsOnlyWhenDependenciesChange(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "lax", []string{"--check-every", "1h"}, "sleep", "600")
	pid := lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "lax")
	same := lcClusterBody(t, obs, c, key, nil)

	for i := range 2 {
		if got := lcOnWith(t, p, same); got != pid {
			t.Fatalf("on #%d with the same cluster: pid %d, want %d (no restart)", i+1, got, pid)
		}
	}
	if got := lcOnWith(t, p, nil); got != pid {
		t.Fatalf("on without a body: pid %d, want %d", got, pid)
	}
	deps := lcClusterBody(t, obs, c, key, lcOtherDeps("10.0.0.1"))
	pid2 := lcOnWith(t, p, deps)
	if pid2 == pid {
		t.Fatalf("on with new dependencies kept pid %d", pid)
	}
	if lcAlive(pid) {
		t.Fatalf("the old process %d still runs", pid)
	}
	if got := lcOnWith(t, p, deps); got != pid2 {
		t.Fatalf("on with the same dependencies again: pid %d, want %d", got, pid2)
	}
	pid3 := lcOnWith(t, p, lcClusterBody(t, obs, c, key, lcOtherDeps("10.0.0.2")))
	if pid3 == pid2 {
		t.Fatal("a dependency's payload changed and the process was not restarted")
	}
	pid4 := lcOnWith(t, p, same)
	if pid4 == pid3 {
		t.Fatal("the dependencies went away and the process was not restarted")
	}
	lcNoZombies(t, p)
	t.Logf("pids: %d (same body twice, no body) → %d (new deps, twice) → %d (deps changed) → %d (no deps)", pid, pid2, pid3, pid4)
}

// A request of a phase other than the last check's is refused with 409 and changes nothing: what a pod
// answers a dead leader's on that arrives after the new leader's check.
func TestIntegration_OnOfAStalePhaseIsRefused(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "fenced", []string{"--check-every", "1h"}, "sleep", "600")
	pid := lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	c := zk.ClusterOf("it", "fenced")
	deps := lcClusterBody(t, observe(t, srv.Addr()), c, key, lcOtherDeps("10.0.0.1")) // an on would restart
	for _, step := range []struct {
		path string
		code int
	}{
		{"/control/check/5?phase=old__lock__0000000001.7", 200},
		{"/control/check/5?phase=new__lock__0000000002.1", 200},
		{"/control/on/5?phase=old__lock__0000000001.7", 409},
		{"/control/ok/5?phase=old__lock__0000000001.7", 409},
	} {
		if r := lcPost(t, p, step.path, deps); r.code != step.code {
			t.Fatalf("%s: %s, want %d", step.path, r, step.code)
		} else if step.code == 409 {
			lcWantError(t, step.path, r, 409)
		}
	}
	if got := lcPid(waitInfo(t, p, func(m map[string]any) bool { return m["process"] == "running" })); got != pid {
		t.Fatalf("the refused on restarted the process: pid %d, want %d", got, pid)
	}
	if r := lcPost(t, p, "/control/on/5?phase=new__lock__0000000002.1", deps); r.code != 200 {
		t.Fatalf("on of the last check's phase: %s", r)
	}
	if got := lcWaitRunning(t, p, pid); got == pid {
		t.Fatal("the on of the current phase did not reconfigure")
	}
}

func TestIntegration_StrictRestartsAtEveryConfiguration(t *testing.T) {
	srv := zkserver.Start(t)
	p := lcStartPod(t, srv.Addr(), "strict", []string{"--strict", "--check-every", "1h"}, "sleep", "600")
	pid := lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	obs := observe(t, srv.Addr())
	same := lcClusterBody(t, obs, zk.ClusterOf("it", "strict"), key, nil)

	seen := []int{pid}
	for i := range 2 {
		got := lcOnWith(t, p, same)
		if slices.Contains(seen, got) {
			t.Fatalf("strict on #%d with the same cluster: pid %d, seen %v", i+1, got, seen)
		}
		seen = append(seen, got)
	}
	// No body is no configuration: a running process stays.
	if got := lcOnWith(t, p, nil); got != seen[len(seen)-1] {
		t.Fatalf("strict on without a body: pid %d, want %d", got, seen[len(seen)-1])
	}
	for _, old := range seen[:len(seen)-1] {
		if lcAlive(old) {
			t.Errorf("the old process %d still runs", old)
		}
	}
	lcNoZombies(t, p)
	t.Logf("strict pids: %v", seen)
}

// --- 5. pipe ---

func TestIntegration_PipeForwardsTheCommandsOutputToTheLog(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	p := lcStartPod(t, srv.Addr(), "pipe", []string{"--pipe", "--shell", "--cwd", dir, "--check-every", "1h"},
		`echo out-$((40+2)); echo err-$((1+1)) >&2; echo cwd-$(pwd -P); echo key-$OCHOPOD_KEY;`,
		`printf no-newline; exec sleep 600`)
	lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	cwd, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"out-42", "err-2", "cwd-" + cwd, "key-" + key}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := lcPost(t, p, "/log", nil)
		var lines []string
		if r.code != http.StatusOK || json.Unmarshal(r.body, &lines) != nil {
			t.Fatalf("/log: %s", r)
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool {
			return slices.ContainsFunc(lines, func(l string) bool {
				return strings.Contains(l, "msg="+w) && strings.Contains(l, "source=process")
			})
		})
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines %v not in /log:\n%s", missing, strings.Join(lines, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A last line without a newline comes out when the pipe closes (the process ends).
	if r := lcPost(t, p, "/control/off/30", nil); r.code != http.StatusOK {
		t.Fatalf("off: %s", r)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		r := lcPost(t, p, "/log", nil)
		if bytes.Contains(r.body, []byte("msg=no-newline")) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the last line without a newline never reached /log")
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- 6. SIGTERM to ochopod run ---

func TestIntegration_SIGTERMTearsTheCommandDownDeregistersAndExits0(t *testing.T) {
	srv := zkserver.Start(t)
	got := filepath.Join(t.TempDir(), "got")
	p := lcStartPod(t, srv.Addr(), "term", nil,
		"sh", "-c", `trap "echo TERM > `+got+`; exit 0" TERM; while :; do sleep 0.05; done`)
	pid := lcWaitRunning(t, p, 0)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "term")
	if !lcRegistered(t, obs, c, key) {
		t.Fatal("not registered")
	}

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := lcWaitExit(t, p, 10*time.Second)
	took := time.Since(start)
	if code != 0 {
		t.Errorf("ochopod run exited with %d after SIGTERM, want 0", code)
	}
	if took > 2*time.Second {
		t.Errorf("ochopod run took %s to exit after SIGTERM", took)
	}
	if data, err := os.ReadFile(got); err != nil || strings.TrimSpace(string(data)) != "TERM" {
		t.Errorf("the command did not get SIGTERM: %q %v", data, err)
	}
	if lcRegistered(t, obs, c, key) {
		t.Error("the pod's node is still in ZooKeeper")
	}
	lcWaitGroupGone(t, pid, 2*time.Second)
	t.Logf("SIGTERM: exit %d after %s", code, took.Round(time.Millisecond))
}

func TestIntegration_SIGTERMSIGKILLsACommandIgnoringSIGTERMAfterGrace(t *testing.T) {
	srv := zkserver.Start(t)
	const grace = time.Second
	p := lcStartPod(t, srv.Addr(), "term-grace", []string{"--grace", grace.String()}, lcIgnoresTERM...)
	pid := lcWaitRunning(t, p, 0)
	lcWaitGroupSize(t, pid, 2)
	key, _ := waitInfo(t, p, func(m map[string]any) bool { return m["key"] != "" })["key"].(string)
	obs := observe(t, srv.Addr())
	c := zk.ClusterOf("it", "term-grace")

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := lcWaitExit(t, p, grace+15*time.Second)
	took := time.Since(start)
	if code != 0 {
		t.Errorf("ochopod run exited with %d after SIGTERM, want 0", code)
	}
	if took < grace-50*time.Millisecond || took > grace+2*time.Second {
		t.Errorf("ochopod run exited %s after SIGTERM, want about --grace %s", took, grace)
	}
	if lcRegistered(t, obs, c, key) {
		t.Error("the pod's node is still in ZooKeeper")
	}
	lcWaitGroupGone(t, pid, 2*time.Second)
	t.Logf("SIGTERM, command ignoring it: exit %d after %s", code, took.Round(time.Millisecond))
}
