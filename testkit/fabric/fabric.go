package fabric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
)

// Errors a request can fail with (wrapped, with context: use errors.Is).
var (
	// ErrRefused: nothing is registered at the address. The error also wraps syscall.ECONNREFUSED, as a
	// refused dial does.
	ErrRefused = errors.New("fabric: connection refused")
	// ErrPartitioned: the target, or the caller, is cut off by Partition. Also wraps syscall.EHOSTUNREACH.
	ErrPartitioned = errors.New("fabric: partitioned")
	// ErrHandlerPanicked: the handler panicked, so no reply was read. Also wraps io.ErrUnexpectedEOF.
	ErrHandlerPanicked = errors.New("fabric: the handler panicked")
	// ErrClosed: the fabric is closed.
	ErrClosed = errors.New("fabric: closed")
	// ErrBadURL: the URL is not an http URL with a host.
	ErrBadURL = errors.New("fabric: bad URL")
	// ErrAddrInUse: Register on an address that already has a handler.
	ErrAddrInUse = errors.New("fabric: address already in use")
)

// anonymous is r.RemoteAddr for requests of a Caller without an address.
const anonymous = "0.0.0.0:0"

// Call is one request, as the fabric saw it.
type Call struct {
	Seq   int    // from 1, in the order requests reached the fabric
	From  string // the caller's address (CallerFrom); "" for Caller
	To    string // the target "ip:port"
	Path  string // the URL's path, e.g. "/control/on/60"
	Body  []byte // the request body
	Done  bool   // the Post returned
	Code  int    // the reply's status code; 0 without a reply
	Reply []byte // the reply body
	Err   error  // why there was no reply; nil when there was one
}

// Option configures a Fabric.
type Option func(*Fabric)

// WithClock makes delays run on c (the virtual clock in tests); the default is clock.Real.
func WithClock(c clock.Clock) Option { return func(f *Fabric) { f.clk = c } }

// Fabric is the in-memory network. Build one with New; all methods are safe for concurrent use.
type Fabric struct {
	clk clock.Clock

	mu          sync.Mutex
	handlers    map[string]http.Handler
	partitioned map[string]bool
	delays      map[string]time.Duration
	hook        func(from, to, path string) error
	calls       []*Call
	closed      bool
	active      int           // requests in flight, see InFlight
	changed     chan struct{} // closed and replaced whenever active changes
	serving     sync.WaitGroup
}

// New returns an empty fabric: no handlers, no faults, clock.Real unless WithClock.
func New(opts ...Option) *Fabric {
	f := &Fabric{
		clk:         clock.Real{},
		handlers:    map[string]http.Handler{},
		partitioned: map[string]bool{},
		delays:      map[string]time.Duration{},
		changed:     make(chan struct{}),
	}
	for _, o := range opts {
		o(f)
	}
	if f.clk == nil {
		f.clk = clock.Real{}
	}
	return f
}

// Register serves h at addr ("ip:port"). It fails with ErrAddrInUse when addr already has a handler, and
// for an address that is not host:port with a numeric port.
func (f *Fabric) Register(addr string, h http.Handler) error {
	if err := checkAddr(addr); err != nil {
		return fmt.Errorf("fabric: register %q: %w", addr, err)
	}
	if h == nil {
		return fmt.Errorf("fabric: register %q: nil handler", addr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.handlers[addr]; ok {
		return fmt.Errorf("fabric: register %q: %w", addr, ErrAddrInUse)
	}
	f.handlers[addr] = h
	return nil
}

// Unregister removes the handler at addr, and reports whether there was one. Requests delivered already run
// to their end; later ones are refused.
func (f *Fabric) Unregister(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.handlers[addr]
	delete(f.handlers, addr)
	return ok
}

// Caller returns a control.Caller without an address of its own: partitions apply to its targets only.
func (f *Fabric) Caller() control.Caller { return caller{f: f} }

// CallerFrom returns a control.Caller that sends from addr: requests fail while addr is partitioned, the hook
// sees addr as from, and handlers see it as r.RemoteAddr. addr need not be registered.
func (f *Fabric) CallerFrom(addr string) control.Caller { return caller{f: f, from: addr} }

// Partition cuts addrs off: requests to or from any of them fail with ErrPartitioned until Heal.
func (f *Fabric) Partition(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		f.partitioned[a] = true
	}
}

// Heal lifts every partition.
func (f *Fabric) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.partitioned)
}

// Delay makes every request to addr wait d on the fabric's clock before delivery; d <= 0 removes the delay.
func (f *Fabric) Delay(addr string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.delays, addr)
		return
	}
	f.delays[addr] = d
}

// OnRequest installs the hook every request goes through first (nil removes it). from is "" for a Caller
// without an address; path is the URL's path. A non-nil error fails the request, wrapped. The hook runs on
// the caller's goroutine with no lock held.
func (f *Fabric) OnRequest(hook func(from, to, path string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// Calls returns every request so far, in arrival order (copies: later changes do not show).
func (f *Fabric) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Call, len(f.calls))
	for i, c := range f.calls {
		out[i] = *c
		out[i].Body = slices.Clone(c.Body)
		out[i].Reply = slices.Clone(c.Reply)
	}
	return out
}

// InFlight is the number of requests in flight, and a channel closed at the next change of that number. A
// request is in flight from its arrival until its Post returned and its handler, if it was delivered,
// returned; except while it waits on the clock for its Delay. It satisfies probe.Idler.
func (f *Fabric) InFlight() (int, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active, f.changed
}

// Close makes every later request fail with ErrClosed, and waits until every handler the fabric started
// returned (including those whose caller gave up). Idempotent.
func (f *Fabric) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.serving.Wait()
}

// request is the state of one request, guarded by Fabric.mu.
type request struct {
	call    *Call
	posting bool // the Post has not returned
	parked  bool // waiting on the clock for its delay
	serving bool // its handler runs
}

func (r *request) inFlight() bool { return !r.parked && (r.posting || r.serving) }

// update changes r under the lock and keeps active and changed in step.
func (f *Fabric) update(r *request, change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updateLocked(r, change)
}

func (f *Fabric) updateLocked(r *request, change func()) {
	before := r.inFlight()
	change()
	after := r.inFlight()
	if before == after {
		return
	}
	if after {
		f.active++
	} else {
		f.active--
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

type caller struct {
	f    *Fabric
	from string
}

// Post implements control.Caller.
func (c caller) Post(ctx context.Context, rawURL string, body []byte) (int, []byte, error) {
	f := c.f
	u, to, err := route(rawURL)
	if err != nil {
		return 0, nil, fmt.Errorf("fabric: POST %s: %w", rawURL, err)
	}
	r := &request{call: &Call{From: c.from, To: to, Path: u.Path, Body: slices.Clone(body)}}
	f.mu.Lock()
	r.call.Seq = len(f.calls) + 1
	f.calls = append(f.calls, r.call)
	f.updateLocked(r, func() { r.posting = true })
	f.mu.Unlock()

	code, reply, err := f.deliver(ctx, c.from, u, to, body, r)
	if err != nil {
		code, reply, err = 0, nil, fmt.Errorf("fabric: POST %s: %w", rawURL, err)
	}
	f.update(r, func() {
		r.posting = false
		r.call.Done, r.call.Code, r.call.Reply, r.call.Err = true, code, slices.Clone(reply), err
	})
	return code, reply, err
}

// route finds the target address of an http URL.
func route(rawURL string) (*url.URL, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, "", fmt.Errorf("%w: want http://host:port/..., got %q", ErrBadURL, rawURL)
	}
	to := u.Host
	if u.Port() == "" {
		to = net.JoinHostPort(u.Hostname(), "80")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, to, nil
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("no host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// deliver takes one request through the hook, the delay, the partition and the handler.
func (f *Fabric) deliver(ctx context.Context, from string, u *url.URL, to string, body []byte,
	r *request) (int, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	f.mu.Lock()
	closed, hook, delay := f.closed, f.hook, f.delays[to]
	f.mu.Unlock()
	if closed {
		return 0, nil, ErrClosed
	}
	if hook != nil {
		if err := hook(from, to, u.Path); err != nil {
			return 0, nil, err
		}
	}
	if delay > 0 {
		if err := f.wait(ctx, delay, r); err != nil {
			return 0, nil, err
		}
	}

	f.mu.Lock()
	h, registered := f.handlers[to]
	switch {
	case f.closed:
		f.mu.Unlock()
		return 0, nil, ErrClosed
	case f.partitioned[to]:
		f.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: %s is cut off (%w)", ErrPartitioned, to, syscall.EHOSTUNREACH)
	case from != "" && f.partitioned[from]:
		f.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: the caller %s is cut off (%w)", ErrPartitioned, from, syscall.EHOSTUNREACH)
	case !registered:
		f.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: nothing at %s (%w)", ErrRefused, to, syscall.ECONNREFUSED)
	}
	f.serving.Add(1)
	f.updateLocked(r, func() { r.serving = true })
	f.mu.Unlock()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		f.update(r, func() { r.serving = false })
		f.serving.Done()
		return 0, nil, err
	}
	req.RequestURI = u.RequestURI()
	req.RemoteAddr = anonymous
	if from != "" {
		req.RemoteAddr = from
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	done := make(chan any, 1) // the handler's panic, or nil
	go func() {
		defer f.serving.Done()
		defer f.update(r, func() { r.serving = false })
		defer func() { done <- recover() }()
		h.ServeHTTP(rec, req)
	}()
	reply := func(p any) (int, []byte, error) {
		if p != nil {
			return 0, nil, fmt.Errorf("%w: %v (%w)", ErrHandlerPanicked, p, io.ErrUnexpectedEOF)
		}
		res := rec.Result()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode, body, nil
	}
	select {
	case p := <-done:
		return reply(p)
	case <-ctx.Done():
		select {
		case p := <-done: // both ready: the reply wins, so the outcome does not depend on select's choice
			return reply(p)
		default:
			return 0, nil, ctx.Err()
		}
	}
}

// wait parks the request on the clock for d. While parked it is not in flight; the timer's callback makes it
// in flight again before it returns, so the clock's Advance never leaves a woken request uncounted.
func (f *Fabric) wait(ctx context.Context, d time.Duration, r *request) error {
	ready := make(chan struct{})
	// Parked and timer set under one lock: a quiescence check never sees the request parked without its timer,
	// and a callback (on a real clock's goroutine) cannot unpark it before it is parked.
	f.mu.Lock()
	f.updateLocked(r, func() { r.parked = true })
	timer := f.clk.AfterFunc(d, func() {
		f.update(r, func() { r.parked = false })
		close(ready)
	})
	f.mu.Unlock()
	select {
	case <-ready:
		return ctx.Err() // ctx may have ended too: then it wins, whichever case select picked
	case <-ctx.Done():
		timer.Stop()
		f.update(r, func() { r.parked = false }) // a callback still to run finds it done already
		return ctx.Err()
	}
}
