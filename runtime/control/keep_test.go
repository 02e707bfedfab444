package control

import (
	"context"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// keepFixture is a secure caller whose keeper runs on a virtual clock and tells the end of each keep request
// on ended, and the files of the pods it trusts.
type keepFixture struct {
	c     HTTPCaller
	clock *vclock.Clock
	ended chan error
	files security.TLSFiles
}

func newKeepFixture(t *testing.T) *keepFixture {
	t.Helper()
	srvFiles, cliFiles := warmFiles(t)
	f := &keepFixture{c: secureCaller(t, cliFiles), clock: vclock.New(), ended: make(chan error, 100), files: srvFiles}
	f.c.keep.clock = f.clock
	f.c.keep.ended = func(err error) { f.ended <- err }
	f.c.keep.pace = 0  // but in TestKeep_RequestsGoAtAPace
	f.c.keep.quiet = 0 // but in TestKeep_RequestsGoAtAPace
	return f
}

// pod starts an HTTPS pod the caller trusts.
func (f *keepFixture) pod(t *testing.T) *warmServer {
	t.Helper()
	return newWarmServer(t, &f.files, nil)
}

// keptPod starts a pod and keeps it: its first keep request ended and was seen.
func (f *keepFixture) keptPod(t *testing.T) *warmServer {
	t.Helper()
	srv := f.pod(t)
	f.c.Keep([]string{srv.URL})
	if err := endedOne(t, f.ended); err != nil {
		t.Fatal(err)
	}
	gotPath(t, srv, keepPath)
	return srv
}

// ended waits for the end of one keep request and returns its error.
func endedOne(t *testing.T, ended chan error) error {
	t.Helper()
	select {
	case err := <-ended:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no keep request ended within 10 s")
		return nil
	}
}

// path waits for one request on srv and checks its path.
func gotPath(t *testing.T, srv *warmServer, want string) {
	t.Helper()
	select {
	case p := <-srv.requests:
		if p != want {
			t.Fatalf("request for %s, want %s", p, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no request for %s within 10 s", want)
	}
}

// noRequest checks that srv got no request so far.
func noRequest(t *testing.T, srv *warmServer) {
	t.Helper()
	select {
	case p := <-srv.requests:
		t.Fatalf("unexpected request for %s", p)
	default:
	}
}

// DESIGN §12 "kept connections": Keep opens one connection to the pod with a keep request on an open probe,
// and sends it again before the pod's idle timeout, on the same connection; the phase's requests then use
// it: one connection, one TLS handshake in all.
func TestKeep_ARequestBeforeEachIdleTimeoutOnOneConnection(t *testing.T) {
	f := newKeepFixture(t)
	f.c.KeepWithin(8 * time.Second)
	if every := f.c.keep.every; every != 6*time.Second {
		t.Fatalf("keep requests every %s for an idle timeout of 8s, want 6s", every)
	}
	srv := f.keptPod(t)
	f.c.Keep([]string{srv.URL, srv.URL + "/"}) // the same pod: still one connection, no new request
	for range 3 {
		f.clock.Advance(f.c.keep.every - time.Millisecond)
		noRequest(t, srv)
		f.clock.Advance(time.Millisecond)
		if err := endedOne(t, f.ended); err != nil {
			t.Fatal(err)
		}
		gotPath(t, srv, keepPath)
	}
	postOK(t, f.c, srv.URL, 2)
	if n, h := srv.conns.Load(), srv.hellos.Load(); n != 1 || h != 1 {
		t.Fatalf("%d connections and %d handshakes for 4 keep requests and 2 requests, want 1 and 1", n, h)
	}
}

// The caller's own requests keep the connection too: a pod a request used within the period gets its keep
// request only a period after that request, and a pod kept after the requests of a phase gets none at once
// (it would open a second connection while they run, or refresh what they just refreshed).
func TestKeep_TheCallersRequestsPutTheKeepRequestOff(t *testing.T) {
	f := newKeepFixture(t)
	srv := f.pod(t)
	postOK(t, f.c, srv.URL, 1)
	gotPath(t, srv, "/control/check/60")
	f.c.Keep([]string{srv.URL})
	if p := f.clock.Pending(); p != 1 {
		t.Fatalf("%d timers, want the keep request's", p)
	}
	noRequest(t, srv)
	f.clock.Advance(f.c.keep.every / 2)
	postOK(t, f.c, srv.URL, 1)
	gotPath(t, srv, "/control/check/60")
	f.clock.Advance(f.c.keep.every / 2) // a period after the first request: the second one kept it
	noRequest(t, srv)
	f.clock.Advance(f.c.keep.every / 2)
	endedOne(t, f.ended)
	gotPath(t, srv, keepPath)
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// Keep requests go one per pace at most: a pod that comes next in line opens its connections to the whole
// cluster at a pace, not in a burst of handshakes that would take the CPU from a phase. The first comes after a
// quiet time: the phase whose ok made the set is over by then.
func TestKeep_RequestsGoAtAPace(t *testing.T) {
	f := newKeepFixture(t)
	f.c.keep.pace, f.c.keep.quiet = DefaultKeepPace, DefaultKeepQuiet
	a, b, d := f.pod(t), f.pod(t), f.pod(t)
	f.c.Keep([]string{a.URL, b.URL, d.URL})
	// justAfter advances the clock to 1 ms before d, where no keep request may have gone, then to d.
	justAfter := func(d time.Duration, what string) {
		f.clock.Advance(d - time.Millisecond)
		select {
		case err := <-f.ended:
			t.Fatalf("a keep request %s: %v", what, err)
		default:
		}
		f.clock.Advance(time.Millisecond)
		endedOne(t, f.ended)
	}
	justAfter(DefaultKeepQuiet, "within the quiet time")
	for range 2 {
		justAfter(DefaultKeepPace, "before its turn")
	}
	for _, srv := range []*warmServer{a, b, d} {
		gotPath(t, srv, keepPath)
	}
}

// Keep replaces the set: a pod no longer in it gets no more keep requests, a new one gets its connection, one
// still in it keeps its own.
func TestKeep_ReplacesTheSet(t *testing.T) {
	f := newKeepFixture(t)
	a, b, d := f.keptPod(t), f.pod(t), f.pod(t)
	f.c.Keep([]string{a.URL, b.URL})
	endedOne(t, f.ended)
	gotPath(t, b, keepPath)
	f.c.Keep([]string{b.URL, d.URL})
	endedOne(t, f.ended)
	gotPath(t, d, keepPath)
	noRequest(t, b)
	f.clock.Advance(f.c.keep.every)
	endedOne(t, f.ended)
	endedOne(t, f.ended)
	gotPath(t, b, keepPath)
	gotPath(t, d, keepPath)
	noRequest(t, a)
	if n := f.clock.Pending(); n != 2 {
		t.Fatalf("%d keep timers, want 2 (b and d)", n)
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("b: %d connections, want 1", n)
	}
}

// A pod that closed the kept connection gets a new one at the next keep request; a pod that vanished is
// tried once more at the next one, then dropped until a Keep names it again. Nothing spins meanwhile.
func TestKeep_APodThatClosesOrVanishes(t *testing.T) {
	f := newKeepFixture(t)
	srv := f.keptPod(t)
	srv.CloseClientConnections()
	waitFor(t, srv.closed, "connection closed by the pod")
	f.clock.Advance(f.c.keep.every)
	if err := endedOne(t, f.ended); err != nil {
		t.Fatalf("keep request after the pod closed the connection: %v", err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}

	gone := f.keptPod(t)
	gone.Close()
	for i := range 2 {
		f.clock.Advance(f.c.keep.every)
		if err := endedOne(t, f.ended); err == nil {
			t.Fatalf("keep request %d to a vanished pod succeeded", i+1)
		}
	}
	if n, p := f.c.keep.count(), f.clock.Pending(); n != 0 || p != 0 {
		t.Fatalf("%d pods kept and %d timers after two failures, want none", n, p)
	}
	select {
	case err := <-f.ended:
		t.Fatalf("another keep request: %v", err)
	default:
	}
	f.c.Keep([]string{gone.URL}) // named again: tried again
	if err := endedOne(t, f.ended); err == nil {
		t.Fatal("keep request to a vanished pod succeeded")
	}
}

// Warm opens no second connection to a pod whose connection is kept.
func TestKeep_WarmSkipsKeptPods(t *testing.T) {
	f := newKeepFixture(t)
	kept, other := f.keptPod(t), f.pod(t)
	f.c.Warm([]string{kept.URL, other.URL})
	waitFor(t, other.accepted, "connection after Warm")
	postOK(t, f.c, kept.URL, 1)
	postOK(t, f.c, other.URL, 1)
	if n, h := kept.conns.Load(), kept.hellos.Load(); n != 1 || h != 1 {
		t.Fatalf("kept pod: %d connections and %d handshakes, want 1 and 1", n, h)
	}
	if n := other.conns.Load(); n != 1 {
		t.Fatalf("warmed pod: %d connections, want 1", n)
	}
}

// Keep(nil) lets every pod go: their connections are closed, no keep request follows. Plain-HTTP pods are
// never kept (keepPool: it would cost more than it saves), nor are URLs that do not parse.
func TestKeep_NothingAfterKeepNil(t *testing.T) {
	f := newKeepFixture(t)
	srv := f.keptPod(t)
	f.c.Keep(nil)
	waitFor(t, srv.closed, "kept connection closed by Keep(nil)")
	if p := f.clock.Pending(); p != 0 {
		t.Fatalf("%d timers after Keep(nil)", p)
	}
	f.clock.Advance(10 * f.c.keep.every)
	noRequest(t, srv)

	f.c.Keep([]string{"http://127.0.0.1:1", "://", "", "https://"})
	if n := f.c.keep.count(); n != 0 {
		t.Fatalf("%d pods kept, want none", n)
	}
	HTTPCaller{}.Keep([]string{"https://127.0.0.1:1"})
}

// BenchmarkKeep is what one keep request costs, client and pod together (one process), over a kept plain or
// HTTPS connection: the price of keeping a pod, paid about once a quiet minute, against a connection made
// when needed (TCP connect: ~76 µs both sides; TLS handshake: go test -bench Meet ./runtime/security/).
//
//	go test -run '^$' -bench Keep -benchtime 2000x ./runtime/control/
func BenchmarkKeep(b *testing.B) {
	for _, secure := range []bool{false, true} {
		b.Run(map[bool]string{true: "https", false: "http"}[secure], func(b *testing.B) {
			srvFiles, cliFiles := warmFiles(b)
			c, srv := NewHTTPCaller(), newWarmServer(b, nil, nil)
			if secure {
				cli, err := security.NewClientTLS(cliFiles, nil)
				if err != nil {
					b.Fatal(err)
				}
				c, srv = NewSecureHTTPCaller(ClientSecurity{TLS: cli}), newWarmServer(b, &srvFiles, nil)
			}
			defer c.CloseIdleConnections()
			k := &keptConn{url: srv.URL + keepPath, ctx: context.Background()}
			if err := c.keep.get(k); err != nil { // the connection, kept from here on
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := c.keep.get(k); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := srv.conns.Load(); n != 1 {
				b.Fatalf("%d connections, want 1", n)
			}
		})
	}
}
