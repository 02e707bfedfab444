package zktest_test

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
	"github.com/ochopod/ochopod/testkit/zkproxy"
	"github.com/ochopod/ochopod/testkit/zkserver"
	"github.com/ochopod/ochopod/testkit/zktest"
)

// realSessionTimeout is short so that expiry tests take seconds, and long enough that a disconnection the
// client notices by itself (after two thirds of it, with go-zookeeper) can be repaired before the server
// expires the session (a third of it later, minus the client's one-second reconnection delay).
const realSessionTimeout = 8 * time.Second

// TestIntegration_ConformanceRealZooKeeper runs the conformance suite against a real standalone ZooKeeper
// through the real adapter. Each session goes through a TCP proxy of its own: Disconnect pauses it (the
// client sees silence, as in a partition), Reconnect resumes it, and time passes on the wall clock.
func TestIntegration_ConformanceRealZooKeeper(t *testing.T) {
	srv := zkserver.Start(t) // tick 200 ms: sessions of 400 ms to 30 s
	dialer := gozk.New(nil)
	unsafe := regexp.MustCompile(`[^A-Za-z0-9_-]+`)
	zktest.RunConformance(t, func(t *testing.T) zktest.Harness {
		pd := &proxyDialer{t: t, target: srv.Addr(), inner: dialer, proxies: map[zk.Conn]*zkproxy.Proxy{}}
		return zktest.Harness{
			Dialer: pd,
			Ensemble: zk.Ensemble{
				Servers: []string{srv.Addr()},
				Chroot:  "/zktest/" + unsafe.ReplaceAllString(t.Name(), "_"),
			},
			SessionTimeout: realSessionTimeout,
			ExpiryMargin:   time.Second,
			ShortOutage:    0,
			Wait:           30 * time.Second,
			Disconnect:     func(t *testing.T, c zk.Conn) { pd.proxy(t, c).Pause() },
			Reconnect:      func(t *testing.T, c zk.Conn) { pd.proxy(t, c).Resume() },
			Elapse:         func(t *testing.T, d time.Duration) { time.Sleep(d) }, // holds a pause past the timeout
		}
	})
}

// proxyDialer dials each session through a proxy of its own, so one session's connection can be cut alone.
type proxyDialer struct {
	t      *testing.T
	target string
	inner  zk.Dialer

	mu      sync.Mutex
	proxies map[zk.Conn]*zkproxy.Proxy
}

func (d *proxyDialer) Dial(e zk.Ensemble, timeout time.Duration) (zk.Conn, <-chan zk.SessionEvent, error) {
	p, err := zkproxy.New(d.target)
	if err != nil {
		return nil, nil, fmt.Errorf("proxy to %s: %w", d.target, err)
	}
	d.t.Cleanup(func() { _ = p.Close() }) // after the suite's own cleanup closed the session
	e.Servers = []string{p.Addr()}
	c, events, err := d.inner.Dial(e, timeout)
	if err != nil {
		return nil, nil, err
	}
	d.mu.Lock()
	d.proxies[c] = p
	d.mu.Unlock()
	return c, events, nil
}

func (d *proxyDialer) proxy(t *testing.T, c zk.Conn) *zkproxy.Proxy {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.proxies[c]
	if !ok {
		t.Fatalf("no proxy for session %#x", c.SessionID())
	}
	return p
}
