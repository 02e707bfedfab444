package control

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
)

// Keeper is a Caller that keeps one connection open to each of a set of pods, so that a phase finds them
// open: the pod next in line for the lock keeps its connections to the pods before it leads, and the leader
// keeps its own across quiet minutes, instead of one TLS handshake per pod at the start of a phase (DESIGN §12
// "kept connections"). HTTPCaller is one.
//
// Contract: Keep replaces the set (nil: none) and returns at once; the connections are opened in the
// background, each through the caller's own transport, and kept by a cheap request (GET /healthz, open: no
// token, no audit line) when none is open and again before the pod's idle timeout, unless the caller's own
// requests kept it meanwhile. A URL the caller cannot keep is ignored. A pod that fails two keep requests in
// a row is dropped until a Keep names it again.
type Keeper interface {
	Keep(urls []string)
}

// keepPath is what a keep request asks for: a §13 probe, open like /info but far cheaper to answer.
const keepPath = "/healthz"

// keepTimeout bounds one keep request: a pod that does not answer within it failed it.
const keepTimeout = 10 * time.Second

// keepPool keeps the connections of Keep. Its requests go through the caller's client, so that the
// connection each one leaves in the transport's idle pool is the one the phase's requests take.
//
// Only HTTPS pods are kept. Measured on 2 cores, both sides together (BenchmarkKeep; go test -bench Meet
// ./runtime/security/): a keep request ~40-50 µs, a TCP connection ~80 µs, a TLS handshake ~640-700 µs in
// full, ~550-600 resumed. Keeping a plain-HTTP pod would spend a keep request every 45 s of quiet to spare the
// next phase one TCP connection: nothing gained. Over HTTPS it takes a handshake per pod off the path of a new
// leader's first phase, and of a leader's after a quiet minute, for ~3.6 ms of CPU per pod and quiet hour.
type keepPool struct {
	client *http.Client // the caller's
	clock  clock.Clock
	every  time.Duration // between a keep request's end and the next: within the pods' idle timeout
	slots  chan struct{} // keep requests in flight at once at most
	pace   time.Duration // between two keep requests at least
	quiet  time.Duration // from a Keep to the first keep request of the pods it adds

	mu     sync.Mutex
	kept   map[warmKey]*keptConn
	uses   map[warmKey]*connUse // the caller's requests to HTTPS pods, busy or ended within every
	turnAt time.Time            // when the next keep request may go (pace)

	ended func(error) // tests: a keep request ended
}

// keptConn is one kept pod.
type keptConn struct {
	url      string // the keep request's
	ctx      context.Context
	cancel   context.CancelFunc // let go: the request in flight ends
	timer    clock.Timer        // the next keep request; nil while one is in flight
	failures int                // in a row
}

// connUse is what the caller's own requests to a pod did to its connection: while one is in flight, or
// within every of its end, a keep request would only open a second connection or refresh an idle timer
// the request just refreshed.
type connUse struct {
	busy int
	last time.Time // when the last one ended
}

// KeepEvery is how often a kept connection gets its keep request when its pods close idle connections after
// idle: three quarters of it, so a request late by a GC pause or a busy CPU still comes in time.
func KeepEvery(idle time.Duration) time.Duration { return positiveOr(idle, DefaultIdleTimeout) * 3 / 4 }

// DefaultKeepPace is the least time between two keep requests: the pod next in line opens its connections
// to the whole cluster when it comes in line, right as a new leader's first phase ends, and 50 TLS handshakes
// at once (~0.64 ms of CPU each, both sides) took a 50-pod cluster's next phase from 40 to 60 ms on 2 cores.
// At this pace a cluster's connections take at most ~7 % of a core to open: 50 pods in 0.5 s, 1 000 in 10 s,
// and 1 000 kept pods are refreshed with 22 requests a second.
const DefaultKeepPace = 10 * time.Millisecond

// DefaultKeepQuiet is how long the pods a Keep adds wait for their first keep request. A pod keeps from a
// phase's ok (DESIGN §12), and the phase is not over then: the other pods answer their ok, the leader writes
// snapshot and hash. A handshake at once (~0.3 ms of CPU on each side) landed in that tail: in a secured
// 3-pod join, the pod next in line opened its connection to the new pod while the phase still waited for it.
const DefaultKeepQuiet = 100 * time.Millisecond

func newKeepPool(client *http.Client) *keepPool {
	return &keepPool{client: client, clock: clock.Real{}, every: KeepEvery(0), slots: make(chan struct{}, DefaultWarmDials), pace: DefaultKeepPace,
		quiet: DefaultKeepQuiet, kept: map[warmKey]*keptConn{}, uses: map[warmKey]*connUse{}}
}

// keyOf is the address a URL's connection goes to; false when the pool does not keep it (not HTTPS).
func keyOf(raw string) (warmKey, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return warmKey{}, false
	}
	return keyOfURL(u)
}

func keyOfURL(u *url.URL) (warmKey, bool) {
	if u.Scheme != "https" || u.Hostname() == "" {
		return warmKey{}, false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return warmKey{tls: true, addr: net.JoinHostPort(u.Hostname(), port)}, true
}

// keep makes urls the kept set. Pods no longer in it are let go: no more keep requests, and the pod closes
// their connection at its idle timeout; with none left, the caller's idle connections are closed at once
// (the pod neither leads nor is next: it has no use for any).
func (p *keepPool) keep(urls []string) {
	want := map[warmKey]bool{}
	for _, raw := range urls {
		if k, ok := keyOf(raw); ok {
			want[k] = true
		}
	}
	p.mu.Lock()
	had := len(p.kept) > 0
	for k, c := range p.kept {
		if !want[k] {
			delete(p.kept, k)
			c.stop()
		}
	}
	var (
		fresh []*keptConn
		keys  []warmKey
	)
	for k := range want {
		if p.kept[k] == nil {
			c := &keptConn{url: "https://" + k.addr + keepPath}
			c.ctx, c.cancel = context.WithCancel(context.Background())
			p.kept[k] = c
			fresh, keys = append(fresh, c), append(keys, k)
		}
	}
	none := had && len(p.kept) == 0
	now := p.clock.Now()
	for k, u := range p.uses {
		if u.busy == 0 && now.Sub(u.last) >= p.every {
			delete(p.uses, k)
		}
	}
	if start := now.Add(p.quiet); len(fresh) > 0 && p.turnAt.Before(start) {
		p.turnAt = start // the first turn comes once the phase of this Keep is over
	}
	for i, c := range fresh {
		p.plan(keys[i], c)
	}
	p.mu.Unlock()
	if none {
		p.client.CloseIdleConnections()
	}
}

// stop ends c's keep requests. Under keepPool.mu.
func (c *keptConn) stop() {
	c.cancel()
	if c.timer != nil {
		c.timer.Stop()
	}
}

// unkept is urls without those whose connection is kept: Warm would open a second one.
func (p *keepPool) unkept(urls []string) []string {
	if p == nil {
		return urls
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kept) == 0 {
		return urls
	}
	out := make([]string, 0, len(urls))
	for _, raw := range urls {
		if k, ok := keyOf(raw); !ok || p.kept[k] == nil {
			out = append(out, raw)
		}
	}
	return out
}

// refresh sends c's keep request, then sets the timer of the next one, unless c was let go meanwhile or failed
// twice in a row.
func (p *keepPool) refresh(k warmKey, c *keptConn) {
	p.slots <- struct{}{}
	err := p.get(c)
	<-p.slots
	p.next(k, c, err)
	if p.ended != nil {
		p.ended(err)
	}
}

// next plans c's next keep request after one that ended with err.
func (p *keepPool) next(k warmKey, c *keptConn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kept[k] != c {
		return
	}
	if err == nil {
		c.failures = 0
	} else if c.failures++; c.failures > 1 {
		delete(p.kept, k) // gone, or refusing: until a Keep names it again (after the next phase)
		c.cancel()
		return
	}
	c.timer = p.clock.AfterFunc(p.every, func() { p.due(k, c) })
}

// due is the time of c's keep request, unless the caller's requests kept the connection meanwhile.
func (p *keepPool) due(k warmKey, c *keptConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kept[k] == c {
		p.plan(k, c)
	}
}

// plan sends c's keep request at its turn (pace), or sets the timer for when the caller's own requests no
// longer keep the connection. Under mu.
func (p *keepPool) plan(k warmKey, c *keptConn) {
	if p.putOff(k, c) {
		return
	}
	now := p.clock.Now()
	turn := now
	if p.turnAt.After(now) {
		turn = p.turnAt
	}
	p.turnAt = turn.Add(p.pace)
	c.timer = nil
	if turn.After(now) {
		c.timer = p.clock.AfterFunc(turn.Sub(now), func() { go p.turn(k, c) })
		return
	}
	go p.refresh(k, c)
}

// putOff sets the timer of c's keep request for when the caller's requests to its pod no longer keep the
// connection, if they do now. Under mu.
func (p *keepPool) putOff(k warmKey, c *keptConn) bool {
	u := p.uses[k]
	if u == nil {
		return false
	}
	wait := p.every
	if u.busy == 0 {
		wait -= p.clock.Now().Sub(u.last)
	}
	if wait <= 0 {
		return false
	}
	c.timer = p.clock.AfterFunc(wait, func() { p.due(k, c) })
	return true
}

// turn is the time of c's keep request, unless c was let go or a request of the caller used its pod
// meanwhile.
func (p *keepPool) turn(k warmKey, c *keptConn) {
	p.mu.Lock()
	mine := p.kept[k] == c && !p.putOff(k, c)
	if mine {
		c.timer = nil
	}
	p.mu.Unlock()
	if mine {
		p.refresh(k, c)
	}
}

// begin notes a request of the caller to u; the function it returns notes its end.
func (p *keepPool) begin(u *url.URL) func() {
	if p == nil {
		return func() {}
	}
	k, ok := keyOfURL(u)
	if !ok {
		return func() {}
	}
	p.mu.Lock()
	use := p.uses[k]
	if use == nil {
		use = &connUse{}
		p.uses[k] = use
	}
	use.busy++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		use.busy--
		use.last = p.clock.Now()
		p.mu.Unlock()
	}
}

// get sends c's keep request and reads the reply, so that the connection goes back to the idle pool. Any
// reply keeps the connection: its code does not matter.
func (p *keepPool) get(c *keptConn) error {
	ctx, cancel := context.WithTimeout(c.ctx, keepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(res.Body, DefaultMaxReply))
	return err
}

// count is how many pods are kept.
func (p *keepPool) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.kept)
}
