// Package callertest is the contract of control.Caller (runtime/control) as one test, run against every
// network a leader posts through: the real HTTPCaller on loopback (runtime/control), the in-memory fabric
// (testkit/fabric) and the simulation's network (testkit/sim http.go). The fabric and the simulation carry
// requests differently (goroutines and a blocked caller; coroutines that yield to a seeded scheduler), so they
// share no delivery code, but a leader must not tell them apart: this is what they share.
//
//	callertest.Run(t, func(t *testing.T) callertest.Network { ... })
package callertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ochopod/ochopod/runtime/control"
)

// Network is one implementation under test, fresh for each case.
type Network struct {
	// Serve makes h answer at a new address and returns its base URL ("http://host:port").
	Serve func(h http.Handler) (base string)
	// Close stops the address of base: requests to it are refused from now on.
	Close func(base string)
	// Call runs fn with the network's Caller, as the network's callers run (the simulation's: inside a task,
	// its scheduler running until fn returned), and returns once fn returned.
	Call func(fn func(c control.Caller))
}

// InMemory is a Network whose addresses are the test's own: the n-th Serve gets 10.0.0.n:8080, which listen
// makes h answer at; unlisten ends it; call is Network.Call.
func InMemory(listen func(addr string, h http.Handler), unlisten func(addr string), call func(fn func(control.Caller))) Network {
	n := 0
	return Network{
		Serve: func(h http.Handler) string {
			n++
			addr := fmt.Sprintf("10.0.0.%d:8080", n)
			listen(addr, h)
			return "http://" + addr
		},
		Close: func(base string) { unlisten(strings.TrimPrefix(base, "http://")) },
		Call:  call,
	}
}

// Run runs every case of the contract on networks made by newNet.
func Run(t *testing.T, newNet func(t *testing.T) Network) {
	cases := []struct {
		name string
		run  func(t *testing.T, n Network)
	}{
		{"the request and its reply", replies},
		{"any status is a reply", statusesAreReplies},
		{"no status written is 200", noStatusIs200},
		{"nobody listening is refused", refused},
		{"an ended context sends nothing", endedContext},
		{"parts go out as one body", parts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newNet(t)) })
	}
}

// seen is what a handler saw, read by the test once the reply came back (on the real network the handler
// runs on the server's goroutine, and the race detector does not see through the socket).
type seen struct {
	mu     sync.Mutex
	served bool
	what   []string
}

func (s *seen) note(what ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served, s.what = true, what
}

func (s *seen) get() (bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.what
}

// post is one Post through n.
func post(n Network, ctx context.Context, url string, body []byte) (code int, reply []byte, err error) {
	n.Call(func(c control.Caller) { code, reply, err = c.Post(ctx, url, body) })
	return code, reply, err
}

func replies(t *testing.T, n Network) {
	var h seen
	base := n.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.note(r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), string(b))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":1}`))
	}))
	code, reply, err := post(n, context.Background(), base+"/control/check/60?phase=p.7", []byte(`{"key":"k1"}`))
	if err != nil || code != http.StatusCreated || string(reply) != `{"ok":1}` {
		t.Fatalf("Post: %d %q %v, want 201 {\"ok\":1}", code, reply, err)
	}
	want := []string{http.MethodPost, "/control/check/60?phase=p.7", "application/json", `{"key":"k1"}`}
	if _, got := h.get(); !slices.Equal(got, want) {
		t.Fatalf("the handler got %q, want %q", got, want)
	}
}

func statusesAreReplies(t *testing.T, n Network) {
	for _, status := range []int{http.StatusBadRequest, http.StatusConflict, http.StatusGone, http.StatusInternalServerError} {
		base := n.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"x"}`))
		}))
		code, reply, err := post(n, context.Background(), base+"/control/on", nil)
		if err != nil || code != status || string(reply) != `{"error":"x"}` {
			t.Fatalf("Post answered %d: %d %q %v, want the reply and no error", status, code, reply, err)
		}
	}
}

func noStatusIs200(t *testing.T, n Network) {
	base := n.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	if code, reply, err := post(n, context.Background(), base+"/control/ok", nil); err != nil || code != http.StatusOK || string(reply) != "{}" {
		t.Fatalf("Post: %d %q %v, want 200 {}", code, reply, err)
	}
}

func refused(t *testing.T, n Network) {
	var h seen
	base := n.Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { h.note() }))
	n.Close(base)
	_, _, err := post(n, context.Background(), base+"/control/on", nil)
	if served, _ := h.get(); !errors.Is(err, syscall.ECONNREFUSED) || served {
		t.Fatalf("Post to a closed address: %v (served %v), want a connection refused", err, served)
	}
}

func endedContext(t *testing.T, n Network) {
	var h seen
	base := n.Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { h.note() }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := post(n, ctx, base+"/control/on", []byte("{}"))
	if served, _ := h.get(); !errors.Is(err, context.Canceled) || served {
		t.Fatalf("Post with an ended context: %v (served %v), want context.Canceled and nothing sent", err, served)
	}
}

func parts(t *testing.T, n Network) {
	var h seen
	base := n.Serve(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.note(string(b))
	}))
	var code int
	var err error
	n.Call(func(c control.Caller) {
		pc, ok := c.(control.PartsCaller)
		if !ok {
			code = -1
			return
		}
		code, _, err = pc.PostParts(context.Background(), base+"/control/on", []byte(`{"pods":`), nil, []byte(`{}}`))
	})
	if code == -1 {
		t.Skip("not a control.PartsCaller")
	}
	if _, got := h.get(); err != nil || code != http.StatusOK || !slices.Equal(got, []string{`{"pods":{}}`}) {
		t.Fatalf("PostParts: %d %v, the handler got %q", code, err, got)
	}
}
