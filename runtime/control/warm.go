package control

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
)

// Warmer is a Caller that can open its connections to pods before it sends them anything: a new leader
// warms the connections to the pods it last knew while it reads the cluster, so that its first phase does not
// wait on one connection (and, over HTTPS, one TLS handshake) per pod (DESIGN §12). HTTPCaller is one.
//
// Contract: Warm returns at once; the connections are opened in the background, each kept until a request to
// its address takes it or DefaultWarmFor passed. A URL that does not parse, or whose scheme the caller cannot
// speak, is ignored. Warm sends nothing over the connections.
type Warmer interface {
	Warm(urls []string)
}

// DefaultWarmFor is how long a warmed connection waits for its first request before it is closed: a phase
// that has not come by then is not this warm-up's (and a pod closes a connection that sent no request after
// its header timeout, DefaultHeaderTimeout, anyway).
const DefaultWarmFor = DefaultHeaderTimeout

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// warmPool holds the connections opened by Warm until the transport dials their address: its dial takes the
// warmed connection (waiting for it while it is still being opened) instead of opening another. One
// connection per address at most.
type warmPool struct {
	tcp, tls dialFunc // how the transport opens http and https connections (counted); tls nil: no HTTPS
	clock    clock.Clock
	counter  atomic.Pointer[func(ConnKind)] // told of every connection opened; nil: nobody
	warmFor  time.Duration

	dials int // connections opened at once at most

	mu      sync.Mutex
	conns   map[warmKey]*warmConn
	queue   []warmKey // waiting for a dial, in the order given
	dialing int       // goroutines dialing the queue

	opened, dropped func() // tests: a warmed connection waits for its request; one was dropped
}

// DefaultWarmDials is how many connections Warm opens at once: enough to be done with a cluster while a new
// leader reads it, few enough that the handshakes do not crowd its reads out of the CPU. A request for a pod
// still in line does not wait: it dials at once.
const DefaultWarmDials = 8

type warmKey struct {
	tls  bool
	addr string // host:port
}

// warmConn is one warmed connection. While it waits for its request a watcher reads it: a pod that closes it
// (or sends anything unasked) makes it useless, and it is dropped rather than handed to a request.
type warmConn struct {
	ctx    context.Context // bounds the dial: warmFor
	cancel context.CancelFunc
	dial   dialFunc
	dialed chan struct{} // closed when the dial ended, conn or err set
	conn   net.Conn
	err    error

	// Under warmPool.mu.
	started  bool // dialing, or dialed
	taken    bool
	watching bool
	expiry   clock.Timer
	alive    chan bool // the watcher's verdict once it stopped: true when it was stopped by its taker
}

func newWarmPool(tcp dialFunc) *warmPool {
	p := &warmPool{clock: clock.Real{}, warmFor: DefaultWarmFor, dials: DefaultWarmDials, conns: map[warmKey]*warmConn{}}
	p.tcp = p.counted(tcp)
	return p
}

// setTLS makes dial the pool's (and its transport's) way to open HTTPS connections.
func (p *warmPool) setTLS(dial dialFunc) { p.tls = p.counted(dial) }

// counted is dial telling the counter of each connection it opened, and how.
func (p *warmPool) counted(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err == nil {
			if f := p.counter.Load(); f != nil {
				(*f)(kindOf(conn))
			}
		}
		return conn, err
	}
}

// warm opens a connection to each URL's address that has none warmed yet.
func (p *warmPool) warm(urls []string) {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		k := warmKey{tls: u.Scheme == "https"}
		dial, port := p.tcp, "80"
		switch {
		case k.tls:
			dial, port = p.tls, "443"
		case u.Scheme != "http":
			continue
		}
		if dial == nil {
			continue
		}
		if u.Port() != "" {
			port = u.Port()
		}
		k.addr = net.JoinHostPort(u.Hostname(), port)
		p.mu.Lock()
		if p.conns[k] != nil {
			p.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.warmFor)
		p.conns[k] = &warmConn{ctx: ctx, cancel: cancel, dial: dial, dialed: make(chan struct{}), alive: make(chan bool, 1)}
		p.queue = append(p.queue, k)
		for p.dialing < p.dials && p.dialing < len(p.queue) {
			p.dialing++
			go p.dialQueue()
		}
		p.mu.Unlock()
	}
}

// dialQueue opens the queue's connections one after the other until it is empty.
func (p *warmPool) dialQueue() {
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.dialing--
			p.mu.Unlock()
			return
		}
		k := p.queue[0]
		p.queue = p.queue[1:]
		c := p.conns[k]
		if c == nil || c.started { // taken before its turn, or dropped
			p.mu.Unlock()
			continue
		}
		c.started = true
		p.mu.Unlock()
		p.open(k, c)
	}
}

// open dials c; unless a request took it meanwhile, it then waits for one, watched, for warmFor at most.
func (p *warmPool) open(k warmKey, c *warmConn) {
	conn, err := c.dial(c.ctx, "tcp", k.addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	c.conn, c.err = conn, err
	close(c.dialed)
	if c.taken {
		return // the taker has it
	}
	if err != nil || p.conns[k] != c { // failed, or dropped while it was being opened
		delete(p.conns, k)
		c.cancel()
		if conn != nil {
			conn.Close()
		}
		return
	}
	c.watching = true
	c.expiry = p.clock.AfterFunc(p.warmFor, func() { p.drop(k, c) })
	go p.watch(k, c)
	if p.opened != nil {
		p.opened()
	}
}

// watch reads c's connection until its taker stops it (a read deadline in the past: c is alive) or the pod
// ends it (closed, or bytes nobody asked for: c is dropped).
func (p *warmPool) watch(k warmKey, c *warmConn) {
	n, err := c.conn.Read(make([]byte, 1))
	alive := n == 0 && errors.Is(err, os.ErrDeadlineExceeded)
	if !alive {
		p.drop(k, c)
	}
	c.alive <- alive
}

// drop closes c unless a request took it.
func (p *warmPool) drop(k warmKey, c *warmConn) {
	p.mu.Lock()
	mine := p.conns[k] == c && !c.taken
	if mine {
		delete(p.conns, k)
		c.expiry.Stop()
	}
	p.mu.Unlock()
	if mine {
		c.cancel()
		c.conn.Close()
		if p.dropped != nil {
			p.dropped()
		}
	}
}

// dialer is the transport's dial for http (tls false) or https: the warmed connection to addr when there is
// a live one, else a new one.
func (p *warmPool) dialer(tls bool) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if conn := p.take(ctx, warmKey{tls: tls, addr: addr}); conn != nil {
			return conn, nil
		}
		if tls {
			return p.tls(ctx, network, addr)
		}
		return p.tcp(ctx, network, addr)
	}
}

// take returns the warmed connection to k's address once it is open and alive; nil when there is none, its
// dial failed, the pod ended it, or ctx ended first.
func (p *warmPool) take(ctx context.Context, k warmKey) net.Conn {
	p.mu.Lock()
	c := p.conns[k]
	started := false
	if c != nil {
		delete(p.conns, k)
		c.taken, started = true, c.started
	}
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	if !started { // still in line: the request dials itself
		c.cancel()
		return nil
	}
	select {
	case <-c.dialed:
	case <-ctx.Done():
		c.cancel()
		<-c.dialed // a cancelled dial ends at once
		if c.conn != nil {
			c.conn.Close()
		}
		return nil
	}
	defer c.cancel()
	if c.err != nil {
		return nil
	}
	p.mu.Lock()
	watching := c.watching
	p.mu.Unlock()
	if !watching { // taken while it was being opened: never read
		return c.conn
	}
	c.expiry.Stop()
	_ = c.conn.SetReadDeadline(time.Unix(1, 0)) // stops the watcher's read
	alive := <-c.alive
	if !alive || c.conn.SetReadDeadline(time.Time{}) != nil {
		c.conn.Close()
		return nil
	}
	return c.conn
}

// closeAll closes every warmed connection no request took, and stops the dials in flight.
func (p *warmPool) closeAll() {
	p.mu.Lock()
	p.queue = nil
	var idle []*warmConn
	for k, c := range p.conns {
		delete(p.conns, k)
		c.cancel() // a dial in flight ends, and open closes what it opened
		if c.watching {
			c.expiry.Stop()
			idle = append(idle, c)
		}
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
