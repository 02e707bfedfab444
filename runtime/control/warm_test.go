package control

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/certs"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// warmServer is a pod's control server for the warm-up tests, HTTPS (ServerTLS) or plain, that counts what it
// sees: TLS handshakes begun (ClientHellos), connections accepted and closed.
type warmServer struct {
	*httptest.Server
	hellos, conns atomic.Int32
	hello         chan struct{} // one per ClientHello
	accepted      chan struct{} // one per connection accepted
	closed        chan struct{} // one per connection closed
	requests      chan string   // the path of each request
}

// warmFiles are a CA, and a certificate of it for 127.0.0.1: the server's files, then the client's.
func warmFiles(t testing.TB) (security.TLSFiles, security.TLSFiles) {
	t.Helper()
	_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return security.TLSFiles{Cert: f.Cert, Key: f.Key}, security.TLSFiles{CA: f.CA}
}

// newWarmServer starts a warmServer until the test ends, HTTPS with srv's files (plain HTTP without); with
// gate, each TLS handshake waits for a value on it.
func newWarmServer(t testing.TB, srv *security.TLSFiles, gate chan struct{}) *warmServer {
	t.Helper()
	s := &warmServer{hello: make(chan struct{}, 100), accepted: make(chan struct{}, 100), closed: make(chan struct{}, 100),
		requests: make(chan string, 100)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.requests <- r.URL.Path:
		default: // a test that does not read them
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
			s.accepted <- struct{}{}
		case http.StateClosed, http.StateHijacked:
			s.closed <- struct{}{}
		}
	}
	t.Cleanup(s.Close)
	if srv == nil {
		s.Start()
		return s
	}
	base, err := security.ServerTLS(*srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	counted := base.Clone()
	counted.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		s.hellos.Add(1)
		s.hello <- struct{}{}
		if gate != nil {
			<-gate
		}
		return base.GetConfigForClient(hi)
	}
	s.TLS = counted
	s.StartTLS()
	return s
}

func secureCaller(t *testing.T, f security.TLSFiles) HTTPCaller {
	t.Helper()
	cli, err := security.NewClientTLS(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSecureHTTPCaller(ClientSecurity{TLS: cli, Token: func() string { return ctlSecret }})
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// waitFor waits for one value on ch, failing the test after a generous deadline.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
}

func postOK(t *testing.T, c HTTPCaller, url string, n int) {
	t.Helper()
	for range n {
		if code, _, err := c.Post(context.Background(), url+"/control/check/60", []byte(`{}`)); err != nil || code != 200 {
			t.Fatalf("POST: %d %v", code, err)
		}
	}
}

// DESIGN §12: Warm opens the connection and makes the TLS handshake before any request, and the requests that
// follow use that connection: one connection, one handshake.
func TestWarm_TheRequestsUseTheWarmedConnection(t *testing.T) {
	for _, secure := range []bool{true, false} {
		t.Run(map[bool]string{true: "https", false: "http"}[secure], func(t *testing.T) {
			srvFiles, cliFiles := warmFiles(t)
			c, srv := NewHTTPCaller(), newWarmServer(t, nil, nil)
			if secure {
				c, srv = secureCaller(t, cliFiles), newWarmServer(t, &srvFiles, nil)
			}
			t.Cleanup(c.CloseIdleConnections)
			c.Warm([]string{srv.URL, srv.URL}) // twice: one connection still
			waitFor(t, srv.accepted, "connection after Warm")
			if secure {
				waitFor(t, srv.hello, "handshake after Warm")
			}
			postOK(t, c, srv.URL, 3)
			if n, h := srv.conns.Load(), srv.hellos.Load(); n != 1 || (secure && h != 1) {
				t.Fatalf("%d connections and %d handshakes for a warm-up and 3 requests, want 1 and 1", n, h)
			}
		})
	}
}

// A request that comes while the warmed connection is still in its handshake waits for it rather than opening
// another.
func TestWarm_ARequestWaitsForTheWarmUpInFlight(t *testing.T) {
	gate := make(chan struct{})
	srvFiles, cliFiles := warmFiles(t)
	srv, c := newWarmServer(t, &srvFiles, gate), secureCaller(t, cliFiles)
	c.Warm([]string{srv.URL})
	waitFor(t, srv.hello, "handshake after Warm")
	done := make(chan struct{})
	go func() {
		defer close(done)
		postOK(t, c, srv.URL, 1)
	}()
	close(gate) // the warm-up's handshake goes on, and any other
	waitFor(t, done, "reply")
	if n, h := srv.conns.Load(), srv.hellos.Load(); n != 1 || h != 1 {
		t.Fatalf("%d connections and %d handshakes, want 1 and 1", n, h)
	}
}

// Warm opens DefaultWarmDials connections at once; a request for a pod still in line does not wait for the
// ones before it: it dials itself, and its pod is not warmed any more.
func TestWarm_ARequestForAPodStillInLineDialsAtOnce(t *testing.T) {
	gate := make(chan struct{})
	srvFiles, cliFiles := warmFiles(t)
	first, second := newWarmServer(t, &srvFiles, gate), newWarmServer(t, &srvFiles, nil)
	c := secureCaller(t, cliFiles)
	c.warm.dials = 1
	c.Warm([]string{first.URL, second.URL})
	waitFor(t, first.hello, "the first pod's handshake")
	postOK(t, c, second.URL, 1) // while the first handshake waits
	close(gate)
	postOK(t, c, first.URL, 1)
	if n, h := first.conns.Load(), first.hellos.Load(); n != 1 || h != 1 {
		t.Fatalf("first pod: %d connections and %d handshakes, want 1 and 1", n, h)
	}
	if n, h := second.conns.Load(), second.hellos.Load(); n != 1 || h != 1 {
		t.Fatalf("second pod: %d connections and %d handshakes, want 1 and 1 (the request's)", n, h)
	}
}

// A warmed connection the pod closed is never handed to a request: the request gets a new one.
func TestWarm_AConnectionThePodClosedIsNotUsed(t *testing.T) {
	srvFiles, cliFiles := warmFiles(t)
	srv, c := newWarmServer(t, &srvFiles, nil), secureCaller(t, cliFiles)
	opened, dropped := make(chan struct{}, 1), make(chan struct{}, 1)
	c.warm.opened = func() { opened <- struct{}{} }
	c.warm.dropped = func() { dropped <- struct{}{} }
	c.Warm([]string{srv.URL})
	waitFor(t, opened, "warmed connection open")
	srv.CloseClientConnections()
	waitFor(t, dropped, "warmed connection dropped")
	postOK(t, c, srv.URL, 2)
	if n, h := srv.conns.Load(), srv.hellos.Load(); n != 2 || h != 2 {
		t.Fatalf("%d connections and %d handshakes, want 2 and 2 (the warm-up's, then the request's)", n, h)
	}
}

// A warmed connection no request took is closed after warmFor; CloseIdleConnections closes it at once.
func TestWarm_AnUnusedConnectionIsClosed(t *testing.T) {
	srvFiles, cliFiles := warmFiles(t)
	srv, c := newWarmServer(t, &srvFiles, nil), secureCaller(t, cliFiles)
	clock := vclock.New()
	c.warm.clock = clock
	opened := make(chan struct{}, 1)
	c.warm.opened = func() { opened <- struct{}{} }
	c.Warm([]string{srv.URL})
	waitFor(t, opened, "warmed connection open")
	clock.Advance(c.warm.warmFor - time.Millisecond)
	if n := clock.Pending(); n != 1 {
		t.Fatalf("%d timers pending before warmFor, want the warmed connection's", n)
	}
	clock.Advance(time.Millisecond)
	waitFor(t, srv.closed, "warmed connection closed after warmFor")

	c.Warm([]string{srv.URL})
	waitFor(t, opened, "warmed connection open")
	c.CloseIdleConnections()
	waitFor(t, srv.closed, "warmed connection closed by CloseIdleConnections")
	if clock.Pending() != 0 {
		t.Fatal("the closed connection's timer is still pending")
	}
}

// Warm ignores what it cannot open: URLs that do not parse, schemes other than http and https, and https
// without TLS settings; an HTTPCaller not made by NewHTTPCaller ignores Warm.
func TestWarm_IgnoresWhatItCannotOpen(t *testing.T) {
	c := NewHTTPCaller()
	c.Warm([]string{"https://127.0.0.1:1", "ftp://127.0.0.1:1", "://", "", "http://"})
	if n := len(c.warm.conns); n != 0 {
		t.Fatalf("%d connections being warmed, want none", n)
	}
	HTTPCaller{}.Warm([]string{"http://127.0.0.1:1"})
}
