package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// httpRig is a sim with no topology: one actor owning the tasks that call, and the fabric of http.go.
type httpRig struct {
	s     *Sim
	owner *actor
	onMsg func() // what the owner does with each message it receives
}

func newHTTPRig(t *testing.T) *httpRig {
	t.Helper()
	r := &httpRig{s: newSim(1, Options{})}
	c := &cluster{name: "c0"}
	p := &pod{s: r.s, cl: c, key: "k0"}
	r.owner = r.s.spawn(nil, p, kindRoot, func(*actor) behaviour { return rigActor{r} })
	t.Cleanup(r.s.unwind)
	return r
}

type rigActor struct{ r *httpRig }

func (rigActor) start()   {}
func (rigActor) release() {}
func (a rigActor) receive(envelope) int {
	if a.r.onMsg != nil {
		a.r.onMsg()
	}
	return 0
}

// post runs Post in a task of the owner and everything due after it; it returns what Post returned and the
// virtual time it took.
func (r *httpRig) post(ctx context.Context, url string, body string) (code int, reply string, err error, took time.Duration) {
	start, done := r.s.now(), false
	r.s.goIO(r.owner, "post", func(*task) {
		var b []byte
		code, b, err = r.s.caller().Post(ctx, url, []byte(body))
		reply, took, done = string(b), r.s.now()-start, true
	})
	for r.s.clk.FireNext() {
	}
	if !done {
		r.s.fail("the Post never returned")
	}
	return code, reply, err, took
}

func TestHTTP_PostReachesTheHandlerAndTheReplyComesBackLater(t *testing.T) {
	r := newHTTPRig(t)
	var got, phase string
	r.s.listen("10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got, phase = req.URL.Path+" "+string(b), req.URL.Query().Get("phase")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"x":1}`))
	}))
	code, reply, err, took := r.post(context.Background(), "http://10.0.0.1:8080/control/check/60?phase=p.7", `{"a":1}`)
	if err != nil || code != http.StatusCreated || reply != `{"x":1}` {
		t.Fatalf("Post: %d %q %v, want 201 {\"x\":1}", code, reply, err)
	}
	if got != `/control/check/60 {"a":1}` || phase != "p.7" {
		t.Errorf("the handler got %q phase %q", got, phase)
	}
	if took <= 0 {
		t.Errorf("the exchange took no virtual time: it must be two network latencies")
	}
}

func TestHTTP_NobodyListeningIsRefused(t *testing.T) {
	r := newHTTPRig(t)
	r.s.listen("10.0.0.1:8080", http.NotFoundHandler())
	r.s.unlisten("10.0.0.1:8080")
	_, _, err, _ := r.post(context.Background(), "http://10.0.0.1:8080/control/on", `{}`)
	if !errors.Is(err, errRefused) {
		t.Fatalf("Post to a closed address: %v, want %v", err, errRefused)
	}
}

func TestHTTP_APartitionLosesTheRequestUntilTheConnectTimeout(t *testing.T) {
	r := newHTTPRig(t)
	served := 0
	r.s.listen("10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served++ }))
	r.s.cutHTTP("10.0.0.1:8080", true)
	_, _, err, took := r.post(context.Background(), "http://10.0.0.1:8080/control/on", `{}`)
	if !errors.Is(err, errUnreachable) || took < connectTimeout || served != 0 {
		t.Fatalf("Post across a partition: %v after %v, served %d; want %v after %v, never served", err, took, served, errUnreachable, connectTimeout)
	}
	r.s.cutHTTP("10.0.0.1:8080", false)
	if code, _, err, _ := r.post(context.Background(), "http://10.0.0.1:8080/control/on", `{}`); err != nil || code != http.StatusOK || served != 1 {
		t.Fatalf("Post once healed: %d %v, served %d", code, err, served)
	}
}

// The owner cancels the request's context when it handles a message (as a phase's timer does): the Post ends
// then, not at the connect timeout.
func TestHTTP_ACancelledRequestEndsWhenItsOwnerCancelsIt(t *testing.T) {
	r := newHTTPRig(t)
	r.s.listen("10.0.0.1:8080", http.NotFoundHandler())
	r.s.cutHTTP("10.0.0.1:8080", true)
	ctx, cancel := context.WithCancel(context.Background())
	r.onMsg = cancel
	r.owner.timer(3*time.Second, nil)
	_, _, err, took := r.post(ctx, "http://10.0.0.1:8080/control/on", `{}`)
	if !errors.Is(err, context.Canceled) || took < 3*time.Second || took >= connectTimeout {
		t.Fatalf("Post cancelled after 3s: %v after %v", err, took)
	}
}

// A handler runs as a task: it may itself wait on the network, as the real control handler waits on the
// lifecycle.
func TestHTTP_AHandlerMayWaitOnTheNetwork(t *testing.T) {
	r := newHTTPRig(t)
	r.s.listen("10.0.0.2:8080", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("inner")) }))
	r.s.listen("10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, b, err := r.s.caller().Post(req.Context(), "http://10.0.0.2:8080/x", nil)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write(append([]byte("outer "), b...))
	}))
	code, reply, err, _ := r.post(context.Background(), "http://10.0.0.1:8080/y", "")
	if err != nil || code != http.StatusOK || reply != "outer inner" {
		t.Fatalf("nested Post: %d %q %v", code, reply, err)
	}
}

func TestHTTP_PostOutsideATaskIsAnErrorNotABlock(t *testing.T) {
	r := newHTTPRig(t)
	if _, _, err := r.s.caller().Post(context.Background(), "http://10.0.0.1:8080/x", nil); err == nil {
		t.Fatal("Post outside a sim task: no error")
	}
}
