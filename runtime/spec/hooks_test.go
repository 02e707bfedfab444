package spec

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// These tests run real processes through the test binary's one reaper.

const waitLong = 10 * time.Second

func rt(t *testing.T) Runtime {
	return Runtime{Spawner: reaper, Env: []string{"PATH=" + os.Getenv("PATH"), "POD_VAR=from the pod"}, Dir: t.TempDir()}
}

// specLifecycle parses a spec whose hooks are given as YAML, and returns its lifecycle.
func specLifecycle(t *testing.T, r Runtime, hooks string) sdk.Lifecycle {
	t.Helper()
	return mustParse(t, "command: [sleep, '30']\nenv: {SPEC_VAR: 'index {{.Index}}'}\n"+hooks).Lifecycle(r)
}

// eventually polls cond until it holds or the deadline passes (for what the kernel does on its own time).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSanityCheck_AJSONObjectOnStdoutIsTheMetrics(t *testing.T) {
	l := specLifecycle(t, rt(t), `
hooks:
  sanity_check:
    shell: 'echo "{\"pid\": $OCHOPOD_PID, \"hook\": \"$OCHOPOD_HOOK\", \"pod\": \"$POD_VAR\"}"; echo noise >&2'
`).(sdk.SanityChecker)
	metrics, err := l.SanityCheck(context.Background(), 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"pid": 4242.0, "hook": "sanity_check", "pod": "from the pod"}
	if !reflect.DeepEqual(metrics, want) {
		t.Fatalf("metrics %v, want %v", metrics, want)
	}

	l = specLifecycle(t, rt(t), "hooks:\n  sanity_check: {argv: [printf, 'all good\\nreally']}\n").(sdk.SanityChecker)
	metrics, err = l.SanityCheck(context.Background(), 1)
	if err != nil || !reflect.DeepEqual(metrics, map[string]any{"stdout": []string{"all good", "really"}}) {
		t.Fatalf("text output: %v, %v", metrics, err)
	}
	l = specLifecycle(t, rt(t), "hooks:\n  sanity_check: {argv: ['true']}\n").(sdk.SanityChecker)
	if metrics, err = l.SanityCheck(context.Background(), 1); err != nil || metrics != nil {
		t.Fatalf("no output: %v, %v", metrics, err)
	}
}

func TestSanityCheck_AFailureCarriesTheStatusAndTheLastLineOfStderr(t *testing.T) {
	l := specLifecycle(t, rt(t), "hooks:\n  sanity_check:\n    shell: 'echo starting >&2; echo port 80 refused >&2; exit 3'\n").(sdk.SanityChecker)
	_, err := l.SanityCheck(context.Background(), 1)
	if err == nil || err.Error() != "sanity_check hook: exit status 3: port 80 refused" {
		t.Fatalf("got %v", err)
	}
	l = specLifecycle(t, rt(t), "hooks:\n  sanity_check: {argv: [/no/such/program]}\n").(sdk.SanityChecker)
	if _, err := l.SanityCheck(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "sanity_check hook: proc: spawn") {
		t.Fatalf("got %v", err)
	}
}

// A hung hook is SIGKILLed with its whole group at its timeout, children included, and nothing is left.
func TestHook_ATimeoutKillsTheHookAndItsChildren(t *testing.T) {
	r := rt(t)
	childFile := filepath.Join(r.Dir, "child")
	l := specLifecycle(t, r, `
hooks:
  configured:
    shell: 'sleep 30 & echo $! > child; echo hanging >&2; wait'
    timeout: 300ms
`).(sdk.Configurer)
	start := time.Now()
	err := l.Configured(context.Background(), threePods(t))
	if err == nil || err.Error() != "configured hook: killed after its timeout (300ms): hanging" {
		t.Fatalf("got %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the hook was killed after %s", took)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, childFile)))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hook's child to be killed and reaped", func() bool {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	})
}

func TestHook_TheContextKillsTheHook(t *testing.T) {
	l := specLifecycle(t, rt(t), "hooks:\n  initialize: {argv: [sleep, '30']}\n").(sdk.Initializer)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := l.Initialize(ctx)
	if err == nil || !strings.Contains(err.Error(), "initialize hook: killed") {
		t.Fatalf("got %v", err)
	}
}

// Hooks of a configuration see the cluster's OCHOPOD_* variables and the spec's env rendered for it; the
// others see those of the last configuration.
func TestHook_TheEnvironmentOfAConfigurationAndAfter(t *testing.T) {
	r := rt(t)
	check := `test "$OCHOPOD_INDEX/$OCHOPOD_SIZE/$OCHOPOD_KEY" = 1/3/b2 && test "$SPEC_VAR" = "index 1" && test "$POD_VAR" = "from the pod" && test "$OCHOPOD_HOOK" = `
	l := specLifecycle(t, r, `
hooks:
  can_configure: {shell: '`+check+`can_configure || { env >&2; exit 1; }'}
  configured: {shell: '`+check+`configured || { env >&2; exit 1; }'}
  finalize: {shell: 'echo "$OCHOPOD_KEY $SPEC_VAR" > finalized'}
`)
	ctx := context.Background()
	if err := l.(sdk.CanConfigurer).CanConfigure(ctx, threePods(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Configure(ctx, threePods(t)); err != nil {
		t.Fatal(err)
	}
	if err := l.(sdk.Configurer).Configured(ctx, threePods(t)); err != nil {
		t.Fatal(err)
	}
	l.(sdk.Finalizer).Finalize(ctx)
	if got := readFile(t, filepath.Join(r.Dir, "finalized")); got != "b2 index 1\n" {
		t.Fatalf("finalize saw %q", got)
	}

	other := cluster(t, `{"key": "a1", "pods": {"a1": {}}}`)
	err := l.(sdk.CanConfigurer).CanConfigure(ctx, other)
	if err == nil || !strings.HasPrefix(err.Error(), "can_configure hook: exit status 1: ") {
		t.Fatalf("a failing check: %v", err)
	}
}

func TestTearDown_TheHookGetsThePid(t *testing.T) {
	p, err := reaper.Spawn(proc.Spec{Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	l := specLifecycle(t, rt(t), "hooks:\n  tear_down: {shell: 'kill -INT $OCHOPOD_PID'}\n").(sdk.TearDowner)
	if err := l.TearDown(context.Background(), sdk.Process{Pid: p.Pid()}); err != nil {
		t.Fatal(err)
	}
	if e := waitExit(t, p); e.Signal != syscall.SIGINT {
		t.Fatalf("the process ended with %+v, want SIGINT", e)
	}
}

// Without hooks the lifecycle behaves as the defaults: tear_down is SIGTERM to the group, the others do nothing.
func TestLifecycle_HooksLeftOutBehaveAsTheDefaults(t *testing.T) {
	p, err := reaper.Spawn(proc.Spec{Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	l := specLifecycle(t, rt(t), "")
	ctx := context.Background()
	if err := l.(sdk.TearDowner).TearDown(ctx, sdk.Process{Pid: p.Pid()}); err != nil {
		t.Fatal(err)
	}
	if e := waitExit(t, p); e.Signal != syscall.SIGTERM {
		t.Fatalf("the process ended with %+v, want SIGTERM", e)
	}
	if err := l.(sdk.Initializer).Initialize(ctx); err != nil {
		t.Error(err)
	}
	if err := l.(sdk.CanConfigurer).CanConfigure(ctx, threePods(t)); err != nil {
		t.Error(err)
	}
	if err := l.(sdk.Configurer).Configured(ctx, threePods(t)); err != nil {
		t.Error(err)
	}
	if m, err := l.(sdk.SanityChecker).SanityCheck(ctx, 1); m != nil || err != nil {
		t.Errorf("sanity check: %v, %v", m, err)
	}
	if v, err := l.(sdk.Signaler).Signaled(ctx, nil, sdk.Process{}); v != nil || err != nil {
		t.Errorf("signaled: %v, %v", v, err)
	}
	l.(sdk.Finalizer).Finalize(ctx)
	if _, ok := l.(sdk.Prober); ok {
		t.Error("a spec without a probe must not be a Prober: the leader would probe for nothing")
	}
}

func TestSignaled_TheRequestIsInOCHOPOD_SIGNALAndJSONOutputIsTheReply(t *testing.T) {
	l := specLifecycle(t, rt(t), "hooks:\n  signaled: {shell: 'echo \"{\\\"got\\\": $OCHOPOD_SIGNAL, \\\"pid\\\": $OCHOPOD_PID}\"'}\n").(sdk.Signaler)
	v, err := l.Signaled(context.Background(), json.RawMessage(`{"action": "rotate"}`), sdk.Process{Pid: 12})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(v); string(got) != `{"got":{"action":"rotate"},"pid":12}` {
		t.Fatalf("reply %s", got)
	}
	v, err = l.Signaled(context.Background(), nil, sdk.Process{})
	if got, _ := json.Marshal(v); err != nil || string(got) != `{"got":{},"pid":0}` {
		t.Fatalf("without a body: %s, %v", got, err)
	}
	l = specLifecycle(t, rt(t), "hooks:\n  signaled: {argv: [echo, rotated]}\n").(sdk.Signaler)
	v, err = l.Signaled(context.Background(), nil, sdk.Process{})
	if err != nil || !reflect.DeepEqual(v, map[string]any{"stdout": []string{"rotated"}}) {
		t.Fatalf("text: %v, %v", v, err)
	}
}

func TestProbe_StdoutIsTheStatus(t *testing.T) {
	l := specLifecycle(t, rt(t), "probe: {shell: 'echo \"  $OCHOPOD_SIZE pods, $SPEC_VAR  \"'}\n")
	p, ok := l.(sdk.Prober)
	if !ok {
		t.Fatal("a spec with a probe is a Prober")
	}
	status, err := p.Probe(context.Background(), threePods(t))
	if err != nil || status != "3 pods, index 1" {
		t.Fatalf("status %q, %v", status, err)
	}
	p = specLifecycle(t, rt(t), "probe: {shell: 'echo down >&2; exit 2'}\n").(sdk.Prober)
	if _, err := p.Probe(context.Background(), threePods(t)); err == nil || err.Error() != "probe hook: exit status 2: down" {
		t.Fatalf("got %v", err)
	}
}

// /exec appends the caller's arguments to argv without a shell: ";" and "$HOME" stay literal arguments.
func TestTools_ArgumentsAreAppendedNeverThroughAShell(t *testing.T) {
	r := rt(t)
	s := mustParse(t, `
tools:
  say: {argv: [echo, said:]}
  both: {argv: [sh, -c, 'echo out; echo err >&2; exit 4']}
  hang: {argv: [sleep], timeout: 200ms}
  where: {argv: [sh, -c, 'echo "$OCHOPOD_TOOL in $(pwd)"']}
`)
	tools := s.ControlTools(r)
	if len(tools) != 4 {
		t.Fatalf("tools %v", tools)
	}
	marker := filepath.Join(r.Dir, "pwned")
	code, out, err := tools["say"](context.Background(), []string{"a;", "touch", marker, "$HOME", "`id`"})
	if err != nil || code != 0 || !reflect.DeepEqual(out, []string{"said: a; touch " + marker + " $HOME `id`"}) {
		t.Fatalf("say: %d %q %v", code, out, err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("an argument was run by a shell")
	}
	code, out, err = tools["both"](context.Background(), nil)
	if err != nil || code != 4 || !reflect.DeepEqual(out, []string{"out", "err"}) {
		t.Fatalf("both: %d %q %v", code, out, err)
	}
	code, out, err = tools["where"](context.Background(), nil)
	if err != nil || code != 0 || !reflect.DeepEqual(out, []string{"where in " + r.Dir}) {
		t.Fatalf("where: %d %q %v", code, out, err)
	}
	start := time.Now()
	code, _, err = tools["hang"](context.Background(), []string{"30"})
	if err == nil || code != 128+9 || !strings.Contains(err.Error(), "killed after its timeout (200ms)") || time.Since(start) > 5*time.Second {
		t.Fatalf("hang: %d %v after %s", code, err, time.Since(start))
	}
	if mustParse(t, "port: 1\n").ControlTools(r) != nil {
		t.Fatal("no tools should be nil")
	}
}

func waitExit(t *testing.T, p proc.Process) proc.Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(waitLong):
		_ = p.Signal(syscall.SIGKILL)
		t.Fatalf("pid %d did not exit", p.Pid())
		return proc.Exit{}
	}
}
