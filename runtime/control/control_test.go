package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/testkit/vclock"
)

type call struct {
	task    v1.Task
	body    string
	timeout time.Duration
	phase   string
}

type fakeBackend struct {
	info    map[string]any
	infoErr error
	resets  []string
	calls   []call
	code    int
	out     string
	ctlErr  error
}

func (f *fakeBackend) Info(context.Context) (map[string]any, error) { return f.info, f.infoErr }
func (f *fakeBackend) Log() []string                                { return []string{"a", "b"} }
func (f *fakeBackend) Reset(cause string)                           { f.resets = append(f.resets, cause) }
func (f *fakeBackend) Control(_ context.Context, r Request) (int, []byte, error) {
	f.calls = append(f.calls, call{r.Task, string(r.Body), r.Timeout, r.Phase})
	return f.code, []byte(f.out), f.ctlErr
}

func do(t *testing.T, h http.Handler, method, path, body string, header ...string) (int, any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	var out any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, rec.Body.String(), err)
	}
	return rec.Code, out
}

func errorOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["error"].(string)
	return s
}

func TestHandler_InfoLogReset(t *testing.T) {
	b := &fakeBackend{info: map[string]any{"state": "leader"}}
	h := Handler(b, nil, Settings{}, nil)
	if code, body := do(t, h, "POST", "/info", ""); code != 200 || body.(map[string]any)["state"] != "leader" {
		t.Fatalf("info: %d %v", code, body)
	}
	if code, body := do(t, h, "POST", "/log", ""); code != 200 || len(body.([]any)) != 2 {
		t.Fatalf("log: %d %v", code, body)
	}
	if code, _ := do(t, h, "POST", "/reset", ""); code != 200 || len(b.resets) != 1 {
		t.Fatalf("reset: %d %v", code, b.resets)
	}
	b.infoErr = errors.New("actor did not answer")
	if code, body := do(t, h, "POST", "/info", ""); code != 408 || errorOf(body) == "" {
		t.Fatalf("failing info: %d %v", code, body)
	}
}

func TestHandler_ControlRoutesTasksWithTheirTimeouts(t *testing.T) {
	b := &fakeBackend{code: 200, out: `{"x":1}`}
	h := Handler(b, nil, Settings{DefaultTimeout: 7 * time.Second, MaxTimeout: time.Minute}, nil)
	cases := []struct {
		path    string
		task    v1.Task
		timeout time.Duration
	}{
		{"/control/check", v1.Task_TASK_CHECK, 7 * time.Second},
		{"/control/on/30", v1.Task_TASK_ON, 30 * time.Second},
		{"/control/off/0.5", v1.Task_TASK_OFF, 500 * time.Millisecond},
		{"/control/ok", v1.Task_TASK_OK, 7 * time.Second},
		{"/control/kill/99999", v1.Task_TASK_KILL, time.Minute},
		{"/control/signal", v1.Task_TASK_SIGNAL, 7 * time.Second},
		{"/control/on/30?phase=a__lock__0000000001.7", v1.Task_TASK_ON, 30 * time.Second},
	}
	for _, c := range cases {
		code, body := do(t, h, "POST", c.path, `{"pods":{}}`)
		if code != 200 || body.(map[string]any)["x"] != 1.0 {
			t.Fatalf("%s: %d %v", c.path, code, body)
		}
		last := b.calls[len(b.calls)-1]
		phase := ""
		if _, q, ok := strings.Cut(c.path, "?phase="); ok {
			phase = q
		}
		if last.task != c.task || last.timeout != c.timeout || last.body != `{"pods":{}}` || last.phase != phase {
			t.Fatalf("%s: backend got %+v", c.path, last)
		}
	}
}

func TestHandler_ControlErrors(t *testing.T) {
	b := &fakeBackend{code: 410}
	h := Handler(b, nil, Settings{MaxBody: 64}, nil)
	for _, c := range []struct {
		path, body string
		code       int
	}{
		{"/control/dance", "", 400},
		{"/control/on/abc", "", 400},
		{"/control/on/-1", "", 400},
		{"/control/signal", "{not json", 400},
		{"/control/kill", `{"pods":{}} x`, 400},
		{"/control/on", "{not json", 410}, // a cluster's body is the lifecycle's to judge (400 there)
		{"/control/check", `{"pods":{}`, 410},
		{"/control/on", strings.Repeat("x", 65), 413},
		{"/control/on", "", 410}, // the backend's code, with an empty body turned into {}
	} {
		code, body := do(t, h, "POST", c.path, c.body)
		if code != c.code {
			t.Fatalf("%s %q: %d %v, want %d", c.path, c.body, code, body, c.code)
		}
		if c.code != 410 && errorOf(body) == "" {
			t.Fatalf("%s: no error message: %v", c.path, body)
		}
	}
	b.ctlErr = ErrTimeout
	if code, body := do(t, h, "POST", "/control/on/1", ""); code != 408 || errorOf(body) == "" {
		t.Fatalf("timeout: %d %v", code, body)
	}
	if code, body := do(t, h, "GET", "/info", ""); code != 405 || errorOf(body) == "" {
		t.Fatalf("GET: %d %v", code, body)
	}
	if code, body := do(t, h, "POST", "/nope", ""); code != 404 || errorOf(body) == "" {
		t.Fatalf("unknown path: %d %v", code, body)
	}
}

func TestHandler_ExecRunsRegisteredToolsWithoutAShell(t *testing.T) {
	var got []string
	tools := map[string]Tool{
		"echo": func(_ context.Context, args []string) (int, []string, error) {
			got = args
			return 3, []string{"out"}, nil
		},
	}
	h := Handler(&fakeBackend{}, tools, Settings{}, nil)
	code, body := do(t, h, "POST", "/exec", "", "X-Shell", "echo a;rm -rf / $(x)")
	m := body.(map[string]any)
	if code != 200 || m["code"] != 3.0 || len(m["stdout"].([]any)) != 1 {
		t.Fatalf("exec: %d %v", code, body)
	}
	if len(got) != 4 || got[0] != "a;rm" || got[3] != "$(x)" {
		t.Fatalf("args %q", got)
	}
	if code, body := do(t, h, "POST", "/exec", "", "X-Shell", "rm -rf /"); code != 404 || errorOf(body) == "" {
		t.Fatalf("unknown tool: %d %v", code, body)
	}
	if code, _ := do(t, h, "POST", "/exec", ""); code != 400 {
		t.Fatalf("no header: %d", code)
	}
}

// keepingBackend keeps every body it is lent, without copying, to see what the server does with them.
type keepingBackend struct {
	fakeBackend
	bodies [][]byte
}

func (k *keepingBackend) Control(ctx context.Context, r Request) (int, []byte, error) {
	k.bodies = append(k.bodies, r.Body)
	return k.fakeBackend.Control(ctx, r)
}

// A body is lent to the backend: once it answered, the next request is read into the same memory (a leader
// sends every pod its whole cluster three times a phase); after a timeout the backend may still read it, and
// the server leaves it alone.
func TestHandler_LendsBodiesUntilAnswered(t *testing.T) {
	b := &keepingBackend{fakeBackend: fakeBackend{code: 200}}
	h := Handler(b, nil, Settings{}, nil)
	first, second := `{"pods": {"a": {}}, "key": "a"}`, `{"pods": {"b": {}}, "key": "b"}`
	do(t, h, "POST", "/control/check", first)
	do(t, h, "POST", "/control/on", second)
	if &b.bodies[0][0] != &b.bodies[1][0] {
		t.Fatal("the second body was read into new memory, not the first one's buffer")
	}
	b.ctlErr = ErrTimeout
	do(t, h, "POST", "/control/check", first)
	b.ctlErr = nil
	do(t, h, "POST", "/control/on", second)
	if string(b.bodies[2]) != first {
		t.Fatalf("a body lent to a backend that timed out was overwritten: %q", b.bodies[2])
	}
}

func TestBodyBuffers_KeepsFewSmallBuffers(t *testing.T) {
	p := newBodyBuffers()
	a := p.get(100)
	a.WriteString("left over")
	p.put(a)
	if b := p.get(10); b != a || b.Len() != 0 || b.Cap() < 100 {
		t.Fatalf("got %p (len %d), want the buffer put back, emptied: %p", b, b.Len(), a)
	}
	big := p.get(keptBufferCap + 1)
	p.put(big)
	if b := p.get(1); b == big {
		t.Fatal("a buffer over keptBufferCap was kept")
	}
	for range keptBuffers + 2 {
		p.put(p.get(1))
		p.put(newBodyBuffers().get(1))
	}
	if n := len(p.free); n > keptBuffers {
		t.Fatalf("%d buffers kept, at most %d", n, keptBuffers)
	}
}

// A large cluster's request (over keptBufferCap) runs BeforeLargeBody first, the entrypoint's end of its
// quiet start; the requests of smaller clusters do not.
func TestHandler_BeforeLargeBodyRunsFirst(t *testing.T) {
	b := &fakeBackend{code: 200}
	var calls []int // how many requests the backend had seen at each call
	h := Handler(b, nil, Settings{BeforeLargeBody: func() { calls = append(calls, len(b.calls)) }}, nil)
	small := `{"pods": {"a": {}}, "key": "a"}`
	large := `{"pods": {"a": {"pad": "` + strings.Repeat("x", keptBufferCap) + `"}}, "key": "a"}`
	for _, body := range []string{small, large, small, large} {
		if code, _ := do(t, h, "POST", "/control/check", body); code != 200 {
			t.Fatalf("check: %d", code)
		}
	}
	if len(calls) != 2 || calls[0] != 1 || calls[1] != 3 {
		t.Fatalf("BeforeLargeBody ran with %v requests handled, want [1 3]: before each large one", calls)
	}
}

// The memory of large requests goes back to the kernel once, giveBackAfter after the last of them (a phase's
// three come milliseconds apart), and not for small ones.
func TestHandler_GivesTheMemoryBackOnceThePodIsQuiet(t *testing.T) {
	clk := vclock.New()
	s := newServer(&fakeBackend{code: 200}, nil, Settings{}, nil, clk)
	returns := 0
	s.giveBack.free = func() { returns++ }
	h := s.routes()
	small := `{"pods": {"a": {}}, "key": "a"}`
	large := `{"pods": {"a": {"pad": "` + strings.Repeat("x", keptBufferCap) + `"}}, "key": "a"}`
	do(t, h, "POST", "/control/check", small)
	if clk.Pending() != 0 {
		t.Fatal("a small request asked for a return")
	}
	for _, task := range []string{"check", "on", "ok"} {
		do(t, h, "POST", "/control/"+task, large)
		clk.Advance(giveBackAfter / 2)
	}
	if returns != 0 {
		t.Fatalf("%d returns while the phase's requests came", returns)
	}
	clk.Advance(giveBackAfter / 2)
	if returns != 1 || clk.Pending() != 0 {
		t.Fatalf("%d returns (%d pending) once quiet, want 1", returns, clk.Pending())
	}
}
