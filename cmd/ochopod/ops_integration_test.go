package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// opsRun runs the ochopod binary with args (an operator verb) and returns its output and exit status.
func opsRun(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return opsRunEnv(t, nil, args...)
}

// opsRunEnv is opsRun with more environment variables.
func opsRunEnv(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(opsEnviron(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errorsAs(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("ochopod %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// opsEnviron is the test's environment without the ochopod_* variables a developer may have set.
func opsEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ochopod_") {
			env = append(env, kv)
		}
	}
	return env
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError) //nolint:errorlint // exec returns it unwrapped
	if ok {
		*target = e
	}
	return ok
}

// opsOK runs a verb that must succeed and returns its standard output.
func opsOK(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := opsRun(t, args...)
	if code != 0 {
		t.Fatalf("ochopod %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// opsJSON runs a verb with -o json, checks that no value is null (DESIGN §14: [] for nothing) and decodes it.
func opsJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out := opsOK(t, withOutput(args, "json")...)
	var generic any
	if err := json.Unmarshal([]byte(out), &generic); err != nil {
		t.Fatalf("ochopod %v -o json: %v\n%s", args, err, out)
	}
	if p := nullAt(generic, "$"); p != "" {
		t.Fatalf("ochopod %v -o json: null at %s\n%s", args, p, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("ochopod %v -o json: %v\n%s", args, err, out)
	}
}

// opsYAML runs a verb with -o yaml and checks it reads back as the JSON does.
func opsYAML(t testing.TB, args ...string) {
	t.Helper()
	out := opsOK(t, withOutput(args, "yaml")...)
	var y any
	if err := yaml.Unmarshal([]byte(out), &y); err != nil {
		t.Fatalf("ochopod %v -o yaml: %v\n%s", args, err, out)
	}
	if p := nullAt(y, "$"); p != "" {
		t.Fatalf("ochopod %v -o yaml: null at %s\n%s", args, p, out)
	}
}

// withOutput puts -o format right after the verb, before any "--".
func withOutput(args []string, format string) []string {
	return append([]string{args[0], "-o", format}, args[1:]...)
}

func nullAt(v any, at string) string {
	switch v := v.(type) {
	case nil:
		return at
	case map[string]any:
		for k, e := range v {
			if p := nullAt(e, at+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range v {
			if p := nullAt(e, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// opsWaitLs lists the clusters of glob until ok holds (integration tests poll with a deadline).
func opsWaitLs(t testing.TB, zkAddr, glob string, within time.Duration, ok func([]lsCluster) bool) []lsCluster {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var views []lsCluster
		opsJSON(t, &views, "ls", glob, "--zk", zkAddr)
		if ok(views) {
			return views
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls %s: not as wanted within %s: %+v", glob, within, views)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settled: one cluster of n pods, all running, a leader, configured with all of them, not paused.
func settled(n int) func([]lsCluster) bool {
	return func(v []lsCluster) bool {
		if len(v) != 1 || len(v[0].Pods) != n || v[0].Leader == "" || v[0].LastPhase == nil || v[0].LastPhase.Pods != n {
			return false
		}
		for _, p := range v[0].Pods {
			if p.Process != "running" {
				return false
			}
		}
		return true
	}
}

func podBySeq(v lsCluster, seq int64) lsPod {
	for _, p := range v.Pods {
		if p.Seq == seq {
			return p
		}
	}
	return lsPod{}
}

// TestIntegration_OpsVerbs runs every operator verb in every output format against real pods.
func TestIntegration_OpsVerbs(t *testing.T) {
	srv := zkserver.Start(t)
	zkAddr := srv.Addr()
	dir := t.TempDir()
	spec := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(spec, []byte("tools:\n  hello:\n    argv: [echo, hello]\n  fail:\n    argv: [sh, -c, 'echo nope; exit 3']\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := []string{"sh", "-c", "echo web-started; exec sleep 600"}
	var pods []*podProcess
	for range 3 {
		pods = append(pods, mdStartPod(t, zkAddr, "web", 10*time.Second, []string{"--pipe", "--spec", spec}, cmd...))
	}
	lb := mdStartPod(t, zkAddr, "lb", 10*time.Second, []string{"--depends-on", "web"}, "sleep", "600")
	views := opsWaitLs(t, zkAddr, "it.web", 30*time.Second, settled(3))
	web := views[0]
	leader := web.Leader

	t.Run("ls", func(t *testing.T) {
		out := opsOK(t, "ls", "--zk", zkAddr)
		for _, want := range []string{"CLUSTER", "it.web", "it.lb", "leader", "follower", "running"} {
			if !strings.Contains(out, want) {
				t.Errorf("ls table lacks %q:\n%s", want, out)
			}
		}
		opsYAML(t, "ls", "--zk", zkAddr)
		var all []lsCluster
		opsJSON(t, &all, "pods", "--zk", zkAddr) // the old name stays an alias
		if len(all) != 2 || all[0].Cluster != "it.lb" || all[1].Cluster != "it.web" {
			t.Fatalf("ls: %+v", all)
		}
		var legacy []lsCluster // the former `ochopod pods` flags
		if err := json.Unmarshal([]byte(opsOK(t, "pods", "--cluster", "it.w", "--json", "--zk", zkAddr)), &legacy); err != nil || len(legacy) != 1 || legacy[0].Cluster != "it.web" {
			t.Fatalf("pods --cluster it.w --json: %+v, %v", legacy, err)
		}
		var none []lsCluster
		opsJSON(t, &none, "ls", "nothing-*", "--zk", zkAddr)
		if none == nil || len(none) != 0 {
			t.Fatalf("ls of no cluster: %+v, want []", none)
		}
		var zkOnly []lsCluster
		opsJSON(t, &zkOnly, "ls", "web", "--zk-only", "--zk", zkAddr)
		if len(zkOnly) != 1 || zkOnly[0].Leader != leader || zkOnly[0].Pods[0].Process != "" {
			t.Fatalf("ls --zk-only: %+v", zkOnly)
		}
	})

	t.Run("completion", func(t *testing.T) {
		// cobra's hidden __complete is what the shell scripts of `ochopod completion` call.
		out := opsOK(t, "__complete", "info", "--zk", zkAddr, "it.")
		if !strings.Contains(out, "it.web/\n") || !strings.Contains(out, "it.lb/\n") {
			t.Fatalf("clusters:\n%s", out)
		}
		out = opsOK(t, "__complete", "info", "--zk", zkAddr, "it.web/")
		for _, p := range web.Pods {
			if !strings.Contains(out, fmt.Sprintf("it.web/%d\t%s", p.Seq, p.Key)) {
				t.Fatalf("pods of it.web lack %d:\n%s", p.Seq, out)
			}
		}
		if out := opsOK(t, "__complete", "ctl", "--zk", zkAddr, ""); !strings.Contains(out, "signal\n") {
			t.Fatalf("tasks:\n%s", out)
		}
		if out := opsOK(t, "__complete", "history", "--zk", zkAddr, ""); !strings.Contains(out, "it.web\n") || strings.Contains(out, "it.web/") {
			t.Fatalf("history completes clusters only:\n%s", out)
		}
	})

	t.Run("info", func(t *testing.T) {
		p := web.Pods[1]
		targets := []string{fmt.Sprintf("it.web/%d", p.Seq), "web/" + p.Key[:6], p.Address, "http://" + p.Address}
		for _, target := range targets {
			var info map[string]any
			opsJSON(t, &info, "info", target, "--zk", zkAddr)
			if info["key"] != p.Key || info["process"] != "running" {
				t.Fatalf("info %s: %v", target, info)
			}
		}
		if out := opsOK(t, "info", targets[0], "--zk", zkAddr); !strings.Contains(out, p.Key) || !strings.Contains(out, "process") {
			t.Fatalf("info table:\n%s", out)
		}
		opsYAML(t, "info", targets[0], "--zk", zkAddr)
		if _, errOut, code := opsRun(t, "info", "it.web/99", "--zk", zkAddr); code != 1 || !strings.Contains(errOut, "no pod it.web/99") {
			t.Fatalf("info of a missing pod: exit %d, %s", code, errOut)
		}
		if _, errOut, code := opsRun(t, "info", "it.web", "--zk", zkAddr); code != 2 || !strings.Contains(errOut, "<cluster>/<seq>") {
			t.Fatalf("info of a cluster: exit %d, %s", code, errOut)
		}
	})

	t.Run("log", func(t *testing.T) {
		target := fmt.Sprintf("it.web/%d", web.Pods[0].Seq)
		if out := opsOK(t, "log", target, "--zk", zkAddr); !strings.Contains(out, "web-started") {
			t.Fatalf("log:\n%s", out)
		}
		var lines []string
		opsJSON(t, &lines, "log", target, "--zk", zkAddr)
		if len(lines) == 0 {
			t.Fatal("log -o json: no line")
		}
		opsYAML(t, "log", target, "--zk", zkAddr)
		// -f prints the lines there, then the new ones: a restart of the process logs again.
		f := exec.Command(buildBinary(t), "log", target, "-f", "--every", "100ms", "--zk", zkAddr)
		f.Env = opsEnviron()
		out := &syncBuffer{}
		f.Stdout, f.Stderr = out, out
		if err := f.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Process.Kill(); _ = f.Wait() }()
		waitText(t, out, "web-started", 1)
		opsOK(t, "ctl", "off", target, "--zk", zkAddr)
		opsOK(t, "ctl", "on", target, "--zk", zkAddr)
		waitText(t, out, "web-started", 2)
	})

	t.Run("ctl", func(t *testing.T) {
		out := opsOK(t, "ctl", "off", "it.web", "--zk", zkAddr)
		if !strings.Contains(out, "off: 3 of 3 pods ok") {
			t.Fatalf("ctl off the cluster:\n%s", out)
		}
		for _, p := range pods {
			if info := mdInfo(t, p); info["process"] != "stopped" {
				t.Fatalf("after ctl off: %v", info)
			}
		}
		var res []rolloutResult
		opsJSON(t, &res, "ctl", "on", "web", "--zk", zkAddr)
		if len(res) != 3 || !res[0].OK || res[0].Code != 200 || res[0].Seq > res[1].Seq {
			t.Fatalf("ctl on -o json: %+v", res)
		}
		mdWaitAll(t, pods, 10*time.Second, mdRunning)
		opsYAML(t, "ctl", "check", fmt.Sprintf("it.web/%d", web.Pods[2].Seq), "--zk", zkAddr)
		opsOK(t, "ctl", "ok", web.Pods[2].Address, "--zk", zkAddr)
		opsOK(t, "ctl", "check", "it.lb", "--zk", zkAddr) // its body carries web, keyed as lb's depends_on declares it
		if _, errOut, code := opsRun(t, "ctl", "signal", "it.web", "--data", `{"x":1}`, "--zk", zkAddr); code != 0 {
			t.Fatalf("ctl signal: exit %d: %s", code, errOut)
		}
		if _, errOut, code := opsRun(t, "ctl", "bogus", "it.web", "--zk", zkAddr); code != 2 || !strings.Contains(errOut, "unknown task") {
			t.Fatalf("ctl bogus: exit %d: %s", code, errOut)
		}
	})

	t.Run("exec", func(t *testing.T) {
		target := fmt.Sprintf("it.web/%d", web.Pods[0].Seq)
		if out := opsOK(t, "exec", target, "--zk", zkAddr, "--", "hello", "there"); strings.TrimSpace(out) != "hello there" {
			t.Fatalf("exec hello:\n%q", out)
		}
		var r execReply
		opsJSON(t, &r, "exec", target, "--zk", zkAddr, "--", "hello")
		if r.Code != 0 || len(r.Stdout) != 1 || r.Stdout[0] != "hello" {
			t.Fatalf("exec -o json: %+v", r)
		}
		opsYAML(t, "exec", target, "--zk", zkAddr, "--", "hello")
		if out, _, code := opsRun(t, "exec", target, "--zk", zkAddr, "--", "fail"); code != 3 || !strings.Contains(out, "nope") {
			t.Fatalf("exec fail: exit %d, %q", code, out)
		}
		if _, errOut, code := opsRun(t, "exec", target, "--zk", zkAddr, "--", "missing"); code != 1 || !strings.Contains(errOut, `unknown tool "missing"`) {
			t.Fatalf("exec of an unknown tool: exit %d: %s", code, errOut)
		}
	})

	t.Run("history", func(t *testing.T) {
		var phases []cluster.Phase
		opsJSON(t, &phases, "history", "it.web", "--zk", zkAddr)
		if len(phases) == 0 || phases[len(phases)-1].Outcome != "ok" || phases[len(phases)-1].Pods != 3 || phases[len(phases)-1].Leader != leader {
			t.Fatalf("history: %+v", phases)
		}
		if out := opsOK(t, "history", "web", "--zk", zkAddr); !strings.Contains(out, "OUTCOME") || !strings.Contains(out, leader[:8]) {
			t.Fatalf("history table:\n%s", out)
		}
		opsYAML(t, "history", "web", "--zk", zkAddr)
	})

	t.Run("graph", func(t *testing.T) {
		if out := opsOK(t, "graph", "--zk", zkAddr, "-o", "dot"); !strings.Contains(out, `"it.lb" -> "it.web";`) {
			t.Fatalf("graph -o dot:\n%s", out)
		}
		var g graphView
		opsJSON(t, &g, "graph", "--zk", zkAddr)
		if len(g.Edges) != 1 || g.Edges[0] != (graphEdge{From: "it.lb", To: "it.web"}) || len(g.Clusters) != 2 {
			t.Fatalf("graph -o json: %+v", g)
		}
		if out := opsOK(t, "graph", "--zk", zkAddr); !strings.Contains(out, "it.web") {
			t.Fatalf("graph:\n%s", out)
		}
		opsYAML(t, "graph", "--zk", zkAddr)
		if _, _, code := opsRun(t, "ls", "--zk", zkAddr, "-o", "dot"); code != 2 {
			t.Fatalf("ls -o dot: exit %d, want 2", code)
		}
	})

	t.Run("pause", func(t *testing.T) {
		var v pauseView
		opsJSON(t, &v, "pause", "it.lb", "--zk", zkAddr)
		if !v.Paused || !v.Changed || v.Cluster != "it.lb" {
			t.Fatalf("pause: %+v", v)
		}
		if out := opsOK(t, "pause", "lb", "--zk", zkAddr); !strings.Contains(out, "was paused already") {
			t.Fatalf("pause again:\n%s", out)
		}
		opsWaitLs(t, zkAddr, "it.lb", 10*time.Second, func(v []lsCluster) bool {
			return len(v) == 1 && v[0].Paused && len(v[0].Pods) == 1 && v[0].Pods[0].State == "leader (paused)"
		})
		opsYAML(t, "resume", "it.lb", "--zk", zkAddr)
		if out := opsOK(t, "resume", "it.lb", "--zk", zkAddr); !strings.Contains(out, "was resumed already") {
			t.Fatalf("resume again:\n%s", out)
		}
		if info := mdInfo(t, lb); info["state"] != "leader" {
			t.Fatalf("after resume: %v", info)
		}
		if _, errOut, code := opsRun(t, "pause", "it.nothing", "--zk", zkAddr); code != 1 || !strings.Contains(errOut, "no such cluster") {
			t.Fatalf("pause of no cluster: exit %d: %s", code, errOut)
		}
	})

	t.Run("reset", func(t *testing.T) {
		out := opsOK(t, "reset", "it.web", "--zk", zkAddr)
		if !strings.Contains(out, "reset: 3 of 3 pods ok") {
			t.Fatalf("reset:\n%s", out)
		}
		opsWaitLs(t, zkAddr, "it.web", 30*time.Second, settled(3)) // each pod registers again on its new session
		var res []rolloutResult
		opsJSON(t, &res, "reset", fmt.Sprintf("it.web/%d", web.Pods[0].Seq), "--zk", zkAddr)
		if len(res) != 1 || !res[0].OK {
			t.Fatalf("reset -o json: %+v", res)
		}
		opsWaitLs(t, zkAddr, "it.web", 30*time.Second, settled(3))
		opsYAML(t, "reset", web.Pods[1].Address)
		// Same keys and seqs after the new sessions.
		after := opsWaitLs(t, zkAddr, "it.web", 30*time.Second, settled(3))
		for _, p := range web.Pods {
			if q := podBySeq(after[0], p.Seq); q.Key != p.Key {
				t.Fatalf("after reset, seq %d is %q, was %q", p.Seq, q.Key, p.Key)
			}
		}
	})

	t.Run("a whole cluster stops at the first failure", func(t *testing.T) {
		// The pod of the lowest seq is gone (SIGKILL): the rollout fails on it and sends nothing to the others.
		first := podBySeq(web, web.Pods[0].Seq)
		for _, p := range pods {
			if p.port == mustPort(t, first.Address) {
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
		out, errOut, code := opsRun(t, "reset", "it.web", "--zk", zkAddr)
		if code != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "not sent reset") || !strings.Contains(errOut, "reset failed on 1 of 3 pods") {
			t.Fatalf("reset with a dead pod: exit %d\n%s\n%s", code, out, errOut)
		}
	})
}

func mustPort(t testing.TB, addr string) int {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitText waits until s shows n times in the output.
func waitText(t testing.TB, out *syncBuffer, s string, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		wrote := out.next()
		if strings.Count(out.String(), s) >= n {
			return
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("%q not %d times within 30s:\n%s", s, n, out.String())
		}
	}
}

// zkConnect is a plain session for the test's own writes.
func zkConnect(t testing.TB, addr string) zk.Conn {
	t.Helper()
	return mdObserve(t, addr)
}
