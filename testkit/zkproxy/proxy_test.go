package zkproxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, the proxy's or the echo server's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ioTimeout bounds every blocking read and write in these tests, so a bug fails a test instead of hanging it.
const ioTimeout = 5 * time.Second

func TestAddrIsLoopbackAndCloseIsIdempotent(t *testing.T) {
	p, err := New(startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:<port>", p.Addr())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); err == nil {
		_ = c.Close()
		t.Fatal("proxy still accepts connections after Close")
	}
}

func TestDataFlows(t *testing.T) {
	p := newProxy(t, startEcho(t))
	conn := dial(t, p)
	roundTrip(t, conn, "hello")

	// A payload far larger than the proxy's queues, written while it is read, arrives intact.
	payload := make([]byte, 4<<20)
	_, _ = rand.Read(payload)
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		_, werr = conn.Write(payload)
		if werr == nil {
			werr = conn.(*net.TCPConn).CloseWrite()
		}
	})
	got, err := io.ReadAll(conn) // the echo server closes after our half-close reaches it
	wg.Wait()
	if werr != nil || err != nil {
		t.Fatalf("write: %v, read: %v", werr, err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes differ from the %d sent", len(got), len(payload))
	}
}

func TestLatencyDelaysEachDirection(t *testing.T) {
	p := newProxy(t, startEcho(t))
	conn := dial(t, p)
	const d = 100 * time.Millisecond

	began := time.Now()
	roundTrip(t, conn, "warm")
	if rtt := time.Since(began); rtt >= d {
		t.Fatalf("round trip without latency took %v", rtt)
	}

	p.SetLatency(d)
	began = time.Now()
	roundTrip(t, conn, "slow")
	if rtt := time.Since(began); rtt < 2*d {
		t.Fatalf("round trip with %v latency per direction took %v, want at least %v", d, rtt, 2*d)
	}

	p.SetLatency(0)
	began = time.Now()
	roundTrip(t, conn, "fast")
	if rtt := time.Since(began); rtt >= d {
		t.Fatalf("round trip after removing latency took %v", rtt)
	}
}

func TestPauseHoldsBytesUntilResume(t *testing.T) {
	p := newProxy(t, startEcho(t))
	conn := dial(t, p)
	roundTrip(t, conn, "before")

	p.Pause()
	late := dial(t, p) // connections made during the pause are accepted but silent too
	for _, c := range []net.Conn{conn, late} {
		write(t, c, "held")
	}
	for _, c := range []net.Conn{conn, late} {
		if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read while paused: %q, %v; want silence", buf[:n], err)
		}
	}
	if p.Conns() != 2 {
		t.Fatalf("Conns() = %d while paused, want 2 (connections stay open)", p.Conns())
	}

	p.Resume()
	for _, c := range []net.Conn{conn, late} {
		if got := read(t, c, 4); got != "held" {
			t.Fatalf("after Resume read %q, want %q", got, "held")
		}
	}
	roundTrip(t, conn, "after")
}

func TestCutClosesConnectionsButKeepsAccepting(t *testing.T) {
	p := newProxy(t, startEcho(t))
	conns := []net.Conn{dial(t, p), dial(t, p)}
	for _, c := range conns {
		roundTrip(t, c, "up")
	}

	p.Cut()
	for _, c := range conns {
		expectClosed(t, c)
	}

	again := dial(t, p)
	roundTrip(t, again, "reconnected")
}

func TestRefuseResetsNewConnections(t *testing.T) {
	p := newProxy(t, startEcho(t))
	existing := dial(t, p)
	roundTrip(t, existing, "up")

	p.Refuse(true)
	expectRefused(t, p)
	roundTrip(t, existing, "unaffected")

	p.Refuse(false)
	roundTrip(t, dial(t, p), "accepted")
}

func TestDeadTargetResetsClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, dead)
	expectRefused(t, p)
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	echo := startEcho(t)
	ignore := goleak.IgnoreCurrent()
	p, err := New(echo)
	if err != nil {
		t.Fatal(err)
	}
	// Connections in every state the proxy can be blocked in: idle, delayed, paused with data held.
	idle := dial(t, p)
	roundTrip(t, idle, "idle")
	p.SetLatency(time.Hour)
	write(t, dial(t, p), "delayed")
	p.SetLatency(0)
	p.Pause()
	held := dial(t, p)
	write(t, held, strings.Repeat("x", 1<<20))

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
	expectClosed(t, idle)
}

// startEcho runs a TCP echo server on 127.0.0.1 for the duration of the test.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(buf)
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	write(t, c, msg)
	if got := read(t, c, len(msg)); got != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// expectClosed asserts that the peer closed or reset c, rather than leaving it silent.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open: read %d bytes, %v", n, err)
	}
}

// expectRefused asserts that a new connection through p is reset. The kernel completes the handshake before the
// proxy sees the connection, so the reset shows either as a failed dial (when it beats connect's return) or as a
// closed connection.
func expectRefused(t *testing.T, p *Proxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("dial timed out instead of being reset: %v", err)
		}
		return
	}
	defer func() { _ = c.Close() }()
	expectClosed(t, c)
}
