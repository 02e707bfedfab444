package control

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

func TestClient_PostsJSONAndReturnsAnyCodeWithTheReply(t *testing.T) {
	type seen struct{ method, path, ctype, body string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotAcceptable)
		_, _ = w.Write([]byte(`{"error":"no"}`))
	}))
	defer srv.Close()

	code, reply, err := HTTPCaller{}.Post(context.Background(), srv.URL+"/control/check/60", []byte(`{"key":"k1"}`))
	if err != nil {
		t.Fatalf("a 406 is a reply, not an error: %v", err)
	}
	if code != http.StatusNotAcceptable || string(reply) != `{"error":"no"}` {
		t.Fatalf("code %d reply %q", code, reply)
	}
	if s := <-got; s != (seen{http.MethodPost, "/control/check/60", "application/json", `{"key":"k1"}`}) {
		t.Fatalf("server saw %+v", s)
	}
}

func TestClient_ReplyOverTheCapIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()

	code, reply, err := HTTPCaller{MaxReply: 10}.Post(context.Background(), srv.URL, nil)
	if !errors.Is(err, ErrReplyTooLarge) || code != http.StatusOK || len(reply) != 10 {
		t.Fatalf("code %d, %d reply bytes, err %v: want 200, 10 bytes, ErrReplyTooLarge", code, len(reply), err)
	}
	code, reply, err = HTTPCaller{MaxReply: 100}.Post(context.Background(), srv.URL, nil)
	if err != nil || code != http.StatusOK || len(reply) != 100 {
		t.Fatalf("exactly at the cap: code %d, %d reply bytes, err %v", code, len(reply), err)
	}
}

func TestClient_ContextEndsTheRequest(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // the client went away
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, _, err := HTTPCaller{}.Post(ctx, srv.URL, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestClient_UnreachablePodIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if code, _, err := (HTTPCaller{}).Post(context.Background(), url, nil); err == nil || code != 0 {
		t.Fatalf("code %d err %v, want an error", code, err)
	}
	if _, _, err := (HTTPCaller{}).Post(context.Background(), "://bad", nil); err == nil {
		t.Fatal("a bad URL is an error")
	}
}

// clientBackend answers every control task with a fixed code, to run the client against the real server.
type clientBackend struct {
	code int
	task chan v1.Task
}

func (b clientBackend) Info(context.Context) (map[string]any, error) { return map[string]any{}, nil }
func (b clientBackend) Log() []string                                { return nil }
func (b clientBackend) Reset(string)                                 {}
func (b clientBackend) Control(_ context.Context, r Request) (int, []byte, error) {
	task := r.Task
	b.task <- task
	return b.code, []byte(`{}`), nil
}

func TestClient_TalksToTheControlServer(t *testing.T) {
	b := clientBackend{code: http.StatusGone, task: make(chan v1.Task, 1)}
	srv := httptest.NewServer(Handler(b, nil, Settings{}, nil))
	defer srv.Close()

	code, reply, err := HTTPCaller{Client: srv.Client()}.Post(context.Background(), srv.URL+"/control/on/1.5", []byte(`{"pods":{},"dependencies":{},"key":"k"}`))
	if err != nil || code != http.StatusGone || string(reply) != `{}` {
		t.Fatalf("code %d reply %q err %v", code, reply, err)
	}
	if task := <-b.task; task != v1.Task_TASK_ON {
		t.Fatalf("task %v", task)
	}
}

// writeCounter counts the writes of the connections it dials.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCounter) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// A small body, in parts or not, goes in the same write as the request's headers: net/http flushes the
// headers on their own before a body it does not know to be in memory, a second write (a second TLS record,
// a second wake-up of the pod) on every request of a phase. A large one goes out in parts, each as it is.
func TestClient_ASmallBodyGoesInTheHeadersWrite(t *testing.T) {
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := NewHTTPCaller()
	t.Cleanup(c.CloseIdleConnections)
	var writes atomic.Int64
	tr := c.Client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{Conn: conn, writes: &writes}, nil
	}
	large := strings.Repeat("x", 2*oneWriteBody)
	for _, tc := range []struct {
		name   string
		parts  [][]byte
		writes int64
	}{
		{"one part", [][]byte{[]byte(`{"pods":{}}`)}, 1},
		{"three parts", [][]byte{[]byte(`{"pods":`), []byte(`{"a":1}`), []byte(`}`)}, 1},
		{"as large as fits", [][]byte{[]byte(strings.Repeat("y", oneWriteBody))}, 1},
		{"larger, in parts", [][]byte{[]byte(large[:oneWriteBody]), []byte(large[oneWriteBody:])}, 3},
	} {
		before := writes.Load()
		if code, _, err := c.PostParts(context.Background(), srv.URL+"/control/check/60", tc.parts...); err != nil || code != 200 {
			t.Fatalf("%s: %d, %v", tc.name, code, err)
		}
		if want := string(bytes.Join(tc.parts, nil)); <-got != want {
			t.Fatalf("%s: the pod did not get the body", tc.name)
		}
		if n := writes.Load() - before; n != tc.writes {
			t.Errorf("%s: %d writes, want %d", tc.name, n, tc.writes)
		}
	}
}
