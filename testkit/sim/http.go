package sim

// The simulated network of the pods' control ports (DESIGN §8): the sim's control.Caller and the http.Handler
// each address serves.
//
// API, for what the sim runs on it:
//
//	s.listen(addr, h)    // h serves "host:port" from now on (the pod's process listens)
//	s.unlisten(addr)     // nothing listens any more: requests are refused
//	s.cutHTTP(addr, on)  // a partition of addr: requests to it and replies from it are lost
//	s.caller()           // the control.Caller (and PartsCaller) to give the leader's model
//
// Caller.Post must be called inside a sim task (host.Context's Go, or a handler below): the task yields to
// the sim, the request reaches addr's handler one network latency later, and the reply comes back one more
// latency later as another event, so other events interleave within an exchange as they would between
// goroutines. A handler runs as a sim task of its own: it may make ZooKeeper calls, park on a channel
// (task.Wait), or call Post, each of which yields to the scheduler; its request's context is never
// cancelled (the server does not see the client give up).
//
// Failures are the real ones: no listener at addr (the pod's process is gone) is "connection refused" one
// latency later; a request or reply lost in a partition leaves the caller waiting until its context ends,
// or an "i/o timeout" after connectTimeout (Linux's SYN retries), whichever comes first. The simulation
// cannot see a context end by itself (it has no goroutine to watch Done): it checks the contexts of its
// pending exchanges whenever the actor that started the task handles a message or stops, which is where a
// behaviour cancels the context of its own request (a timer, a Release), and at the exchange's own events.
// A Post outside a sim task is an error, never a block.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
)

// connectTimeout is how long a request lost in a partition waits before it fails, if its context does not end
// first: Linux gives up a connection after its SYN retries, about two minutes.
const connectTimeout = 127 * time.Second

// errRefused is what a request to an address nobody listens on gets (the pod's process is gone): the
// real client's error (testkit/callertest).
var errRefused error = syscall.ECONNREFUSED

// errUnreachable is what a request lost in a partition gets after connectTimeout.
var errUnreachable = errors.New("i/o timeout: the address is unreachable")

// endpoint is what listens on one address.
type endpoint struct {
	h   http.Handler
	cut bool // partitioned: what goes to it or comes from it is lost
}

// exchange is one request and its reply, from the caller task's point of view.
type exchange struct {
	t      *task
	ctx    context.Context
	url    string
	owner  int // pid of the actor whose task waits, 0 for a handler's task
	done   bool
	ending bool // its context ended: its end is due
	code   int
	reply  []byte
	err    error
	expiry func() bool // stops the connectTimeout timer
}

// listen makes h serve addr ("host:port"); a second listen replaces the handler.
func (s *Sim) listen(addr string, h http.Handler) {
	if e := s.endpoints[addr]; e != nil {
		e.h = h
		return
	}
	s.endpoints[addr] = &endpoint{h: h}
}

// unlisten closes addr: later requests are refused.
func (s *Sim) unlisten(addr string) { delete(s.endpoints, addr) }

// cutHTTP partitions addr off (on) or heals it.
func (s *Sim) cutHTTP(addr string, on bool) {
	if e := s.endpoints[addr]; e != nil {
		e.cut = on
	}
}

// caller is the sim's control.Caller.
func (s *Sim) caller() control.PartsCaller { return simCaller{s: s} }

type simCaller struct{ s *Sim }

var _ control.PartsCaller = simCaller{}

// Post implements control.Caller inside a sim task (see the top of this file).
func (c simCaller) Post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	s, t := c.s, c.s.cur
	if t == nil {
		return 0, nil, fmt.Errorf("control: POST %s: sim: a request outside a sim task", url)
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("control: POST %s: %w", url, err)
	}
	u, err := neturl.Parse(url)
	if err != nil || u.Host == "" {
		return 0, nil, fmt.Errorf("control: POST %s: not a URL", url)
	}
	x := &exchange{t: t, ctx: ctx, url: url}
	if t.owner != nil {
		x.owner = t.owner.pid
		s.waiting[x.owner] = append(s.waiting[x.owner], x)
	}
	req := bytes.Clone(body) // the caller may reuse its bytes once Post returned; the handler reads later
	s.net(nil, func() { s.arrive(x, u, req) })
	t.exchange = x
	if !t.pause() {
		return 0, nil, fmt.Errorf("control: POST %s: %w", url, errAborted)
	}
	if x.err != nil {
		return x.code, nil, fmt.Errorf("control: POST %s: %w", url, x.err)
	}
	return x.code, x.reply, nil
}

// PostParts implements control.PartsCaller: the parts go out as one body.
func (c simCaller) PostParts(ctx context.Context, url string, parts ...[]byte) (int, []byte, error) {
	return c.Post(ctx, url, bytes.Join(parts, nil))
}

// arrive is the request reaching addr: refused if nothing listens, lost if addr is cut off, else served.
func (s *Sim) arrive(x *exchange, u *neturl.URL, body []byte) {
	if s.finish(x) {
		return
	}
	e := s.endpoints[u.Host]
	switch {
	case e == nil:
		s.trace(u.Host, "http", nil, "refused "+u.Path)
		s.net(nil, func() { s.complete(x, 0, nil, errRefused) })
		return
	case e.cut:
		s.trace(u.Host, "http", nil, "lost "+u.Path)
		s.lose(x)
		return
	}
	s.trace(u.Host, "http", nil, "POST "+u.RequestURI())
	h := e.h
	s.serve(u.Host, func() {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			s.net(nil, func() { s.complete(x, 0, nil, err) })
			return
		}
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		code, reply := w.Code, w.Body.Bytes()
		s.at(0, func() { s.respond(x, u.Host, code, reply) })
	})
}

// respond sends the handler's reply back, unless addr was cut off meanwhile.
func (s *Sim) respond(x *exchange, addr string, code int, reply []byte) {
	if e := s.endpoints[addr]; e != nil && e.cut {
		s.trace(addr, "http", nil, fmt.Sprintf("reply %d lost", code))
		s.lose(x)
		return
	}
	s.trace(addr, "http", nil, fmt.Sprintf("reply %d", code))
	s.net(nil, func() { s.complete(x, code, reply, nil) })
}

// lose leaves x waiting for its context, at most connectTimeout.
func (s *Sim) lose(x *exchange) {
	t := s.at(connectTimeout, func() { s.complete(x, 0, nil, errUnreachable) })
	x.expiry = t.Stop
}

// serve runs a handler as a task of its own (no actor owns it), so that it may yield as tasks do.
func (s *Sim) serve(addr string, body func()) {
	s.startTask(nil, "serve "+addr, func(*task) { body() })
}

// finish completes x with its context's error if the context ended; it reports whether x is over.
func (s *Sim) finish(x *exchange) bool {
	if x.done {
		return true
	}
	if err := x.ctx.Err(); err != nil {
		s.complete(x, 0, nil, err)
		return true
	}
	return false
}

// complete ends x and resumes the task that waits for it.
func (s *Sim) complete(x *exchange, code int, reply []byte, err error) {
	if x.done {
		return
	}
	if err == nil && x.ctx.Err() != nil {
		err = x.ctx.Err() // the reply came after the caller gave up
	}
	x.done, x.code, x.reply, x.err = true, code, reply, err
	if x.expiry != nil {
		x.expiry()
	}
	if x.owner != 0 {
		s.waiting[x.owner] = removeExchange(s.waiting[x.owner], x)
		if len(s.waiting[x.owner]) == 0 {
			delete(s.waiting, x.owner)
		}
	}
	if s.ending || x.t.done {
		return
	}
	x.t.exchange = nil
	s.resume(x.t)
}

// cancelled ends the exchanges of pid's tasks whose context ended: called after the actor handled a message
// or stopped, where a behaviour cancels its own requests. Each ends as an event of its own.
func (s *Sim) cancelled(pid int) {
	for _, x := range s.waiting[pid] {
		if !x.ending && x.ctx.Err() != nil {
			x.ending = true
			s.at(0, func() { s.finish(x) })
		}
	}
}

func removeExchange(list []*exchange, x *exchange) []*exchange {
	for i, y := range list {
		if y == x {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}
