package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/testkit/zkserver"
)

const (
	exampleSpec = "../../runtime/spec/testdata/web.yaml"
	examplePods = "../../runtime/spec/testdata/pods.json"
)

// runBinary runs the built ochopod with a bare environment and returns its exit status, stdout and stderr.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	if cmd.ProcessState == nil {
		t.Fatalf("%v did not run", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func writeSpec(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A bad spec stops `ochopod run` with status 2 and the file and line, before it looks for ZooKeeper.
func TestSpec_ABadSpecExitsWith2AndTheLine(t *testing.T) {
	bad := writeSpec(t, "cluster: web\ncommand: [sleep, '1']\nport: http\nhooks:\n  sanity_check: {shell: 'true', timout: 5s}\n")
	code, _, stderr := runBinary(t, "run", "--spec", bad)
	want := "ochopod: " + bad + ":3: port: want an integer, got \"http\"\n" +
		bad + ":5: hooks.sanity_check: unknown key \"timout\": did you mean \"timeout\"? (known keys: argv, shell, timeout)\n"
	if code != 2 || stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, stderr, want)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--spec", writeSpec(t, "cluster: web\n")}, "no command: give one in the spec (command) or after --"},
		{[]string{"run", "--spec", filepath.Join(t.TempDir(), "none.yaml")}, "no such file or directory"},
		{[]string{"run", "--pods", examplePods}, "--pods goes with --dry-run"},
		{[]string{"run", "--dry-run", "--pods", examplePods}, "--dry-run needs --spec"},
		{[]string{"run", "--dry-run", "--spec", exampleSpec}, "--dry-run needs --pods"},
		{[]string{"run", "--dry-run", "--spec", exampleSpec, "--pods", exampleSpec}, "dry run: " + exampleSpec + ": cluster: invalid character"},
	} {
		code, _, stderr := runBinary(t, c.args...)
		if code != 2 || !strings.HasPrefix(stderr, "ochopod: ") || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// The dry run prints what runtime/spec's golden file holds, without ZooKeeper; a command after -- replaces the
// spec's.
func TestSpec_DryRunPrintsTheFilesAndTheCommand(t *testing.T) {
	code, stdout, stderr := runBinary(t, "run", "--dry-run", "--spec", exampleSpec, "--pods", examplePods)
	golden, err := os.ReadFile("../../runtime/spec/testdata/web.golden")
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || stdout != string(golden) {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, golden)
	}
	code, stdout, _ = runBinary(t, "run", "--dry-run", "--spec", exampleSpec, "--pods", examplePods, "--cwd", "/opt", "--", "echo", "hi")
	if code != 0 || !strings.Contains(stdout, "==> command (from the command line) <==\n[\"echo\",\"hi\"]\n") ||
		!strings.Contains(stdout, "==> /opt/html/peers.json (mode 0640") {
		t.Fatalf("exit %d, stdout:\n%s", code, stdout)
	}
}

// Flag, then ochopod_* variable, then spec, then default.
func TestSpec_FlagsWinOverTheEnvironmentWhichWinsOverTheSpec(t *testing.T) {
	path := writeSpec(t, `
cluster: spec-cluster
namespace: spec-ns
port: 9000
log_level: warn
grace: 30s
depends_on: [db, /other.cache]
command: run the thing
`)
	s := &runSettings{}
	c := &cobra.Command{}
	s.register(c.Flags())
	if err := c.Flags().Parse([]string{"--spec", path, "--cluster", "flag-cluster", "--checks", "4"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ochopod_cluster": "env-cluster", "ochopod_port": "9100", "ochopod_debug": "true"}
	if err := applyEnv(c, env); err != nil {
		t.Fatal(err)
	}
	if err := s.loadSpec(c.Flags(), env, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.validate(env); err != nil {
		t.Fatal(err)
	}
	got := []any{s.cluster, s.port, s.namespace, s.grace, s.dependsOn, s.checks, s.checkEvery, s.shell, s.logLevel}
	want := []any{"flag-cluster", 9100, "spec-ns", 30 * time.Second, []string{"db", "/other.cache"}, 4, 60 * time.Second, true, "debug"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cluster, port, namespace, grace, depends_on, checks, check_every, shell, log_level:\n got %v\nwant %v", got, want)
	}
	// A command after -- replaces the spec's one-string command, and so does not imply the shell.
	s = &runSettings{}
	c = &cobra.Command{}
	s.register(c.Flags())
	if err := c.Flags().Parse([]string{"--spec", path}); err != nil {
		t.Fatal(err)
	}
	if err := s.loadSpec(c.Flags(), nil, []string{"echo", "a;b"}); err != nil || s.shell {
		t.Fatalf("shell %v, %v", s.shell, err)
	}
}

// TestIntegration_SpecPodRendersItsFilesRunsItsHooksProbeAndTools runs one pod with a spec against a real
// ZooKeeper: alone, it leads and configures itself.
func TestIntegration_SpecPodRendersItsFilesRunsItsHooksProbeAndTools(t *testing.T) {
	srv := zkserver.Start(t)
	dir := t.TempDir()
	port := freePort(t)
	path := writeSpec(t, fmt.Sprintf(`
cluster: spec
namespace: it
check_every: 1s
probe_every: 1s
cwd: %s
command: [sh, -c, 'echo "$GREETING" > out.txt; exec sleep 600']
env:
  GREETING: 'pod {{.Index}} of {{.Size}} at {{.Self.ip}}'
templates:
  - path: peers.conf
    mode: "0600"
    content: '{{grep "" %d}}'
hooks:
  sanity_check: {shell: 'echo "{\"pid\": $OCHOPOD_PID}"'}
  configured: {shell: 'echo configured >> hooks.log'}
  signaled: {shell: 'echo "{\"got\": $OCHOPOD_SIGNAL}"'}
probe: {shell: 'echo "$OCHOPOD_SIZE up"'}
tools:
  say: {argv: [echo, said]}
`, dir, port))

	cmd := exec.Command(buildBinary(t), "run", "--binding", "local", "--port", strconv.Itoa(port), "--zk", srv.Addr(),
		"--log-level", "debug", "--spec", path)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &podProcess{port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if m, ok := p.info(); ok {
			if pid, _ := m["pid"].(float64); pid > 0 {
				_ = syscall.Kill(-int(pid), syscall.SIGKILL) // the command's group
			}
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("pod on port %d:\n%s", port, out.String())
		}
	})

	m := waitInfo(t, p, func(m map[string]any) bool {
		metrics, _ := m["metrics"].(map[string]any)
		return m["process"] == "running" && metrics["pid"] != nil && metrics["pid"] == m["pid"] && m["status"] == "1 up"
	})
	t.Logf("/info: %v", m)

	if got := readWhenThere(t, filepath.Join(dir, "peers.conf")); got != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Errorf("peers.conf: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "peers.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("peers.conf: %v %v", fi, err)
	}
	if got := readWhenThere(t, filepath.Join(dir, "out.txt")); got != "pod 0 of 1 at 127.0.0.1\n" {
		t.Errorf("the command's environment: %q", got)
	}
	if got := readWhenThere(t, filepath.Join(dir, "hooks.log")); !strings.HasPrefix(got, "configured\n") {
		t.Errorf("hooks.log: %q", got)
	}

	r := specPost(t, port, "/exec", nil, map[string]string{"X-Shell": "say a;b $HOME"})
	if r.code != 200 || string(r.body) != `{"code":0,"stdout":["said a;b $HOME"]}` {
		t.Errorf("/exec: %d %s", r.code, r.body)
	}
	r = specPost(t, port, "/control/signal", []byte(`{"x": 1}`), nil)
	if r.code != 200 || string(r.body) != `{"got":{"x":1}}` {
		t.Errorf("/control/signal: %d %s", r.code, r.body)
	}
}

type specReply struct {
	code int
	body []byte
}

func specPost(t *testing.T, port int, path string, body []byte, header map[string]string) specReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return specReply{code: resp.StatusCode, body: bytes.TrimSpace(b)}
}

// readWhenThere polls for a file the pod writes (integration tests may poll with a deadline).
func readWhenThere(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
