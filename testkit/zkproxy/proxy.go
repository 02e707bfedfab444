package zkproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds the connection to the target; a target that does not answer within it is reported to the
// client as a reset connection.
const dialTimeout = 10 * time.Second

// Proxy forwards TCP connections from a listener on 127.0.0.1 to a target address, with injectable faults.
// Methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by Close, to abort dials to the target
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the proxy started; Close waits for it

	mu      sync.Mutex
	links   map[*link]struct{}
	latency time.Duration
	resume  chan struct{} // non-nil while paused; Resume closes it
	refuse  bool
	closed  bool
}

// New starts a proxy listening on a free port of 127.0.0.1 that forwards every connection to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zkproxy: listen on 127.0.0.1 for %s: %w", target, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, links: make(map[*link]struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address connections are forwarded to.
func (p *Proxy) Target() string { return p.target }

// Conns returns the number of connections currently being proxied.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// SetLatency delays every chunk of data by d in each direction, so a request and its response gain 2d. Delays do
// not accumulate: each chunk is held until d after it arrived, and order is preserved. It applies to data read
// after the call; zero removes the delay.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = max(d, 0)
}

// Pause stops forwarding bytes in both directions while keeping every connection open, and new connections are
// still accepted: peers see silence, as in a network partition. Bytes sent meanwhile are held (in the proxy, then
// in the kernel's socket buffers, which eventually blocks the sender) and delivered on Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
}

// Resume undoes Pause; held bytes flow again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

// Cut closes every current connection, both towards the client and towards the target; new connections are
// accepted as usual.
func (p *Proxy) Cut() {
	for _, l := range p.snapshot() {
		l.close()
	}
}

// Refuse makes the proxy reset new connections as soon as they are accepted (refuse true), like a server that is
// down, or forward them again (refuse false). Existing connections are not affected; combine with Cut for that.
func (p *Proxy) Refuse(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
}

// Close stops the listener, closes every connection and returns once every goroutine the proxy started has
// finished. Further calls do nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	p.cancel()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("zkproxy: close listener %s: %w", p.Addr(), err)
	}
	return nil
}

// accept hands each new connection to its own goroutine until the listener is closed.
func (p *Proxy) accept() {
	var backoff time.Duration
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient failure such as running out of file descriptors: back off as net/http does rather than
			// spin, but stay responsive to Close.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			timer := time.NewTimer(backoff)
			select {
			case <-p.ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			continue
		}
		backoff = 0
		p.mu.Lock()
		refuse := p.refuse || p.closed
		p.mu.Unlock()
		if refuse {
			reset(conn)
			continue
		}
		p.wg.Go(func() { p.serve(conn) })
	}
}

// serve connects client to the target and pipes both directions until both are done or the link is closed.
func (p *Proxy) serve(client net.Conn) {
	d := net.Dialer{Timeout: dialTimeout}
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		// The client sees a reset, as if it had reached a dead server directly.
		reset(client)
		return
	}
	l := newLink(client, server)
	if !p.add(l) {
		l.close()
		return
	}
	defer p.remove(l)
	defer l.close()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(l, client, server) })
	p.pipe(l, server, client)
	wg.Wait()
}

// add registers a link unless the proxy is closed.
func (p *Proxy) add(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) remove(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

func (p *Proxy) snapshot() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) currentLatency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latency
}

// pauseGate returns a channel that is closed on Resume, or nil when not paused.
func (p *Proxy) pauseGate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resume
}

// reset closes conn with an RST rather than a FIN, which is what a client connecting to a dead port sees.
func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
