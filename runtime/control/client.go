package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// Caller is the client side of the control API: the port through which the leader sends control requests to
// its pods (DESIGN §7 configuration phase, §8). HTTPCaller is the real one; tests use fakes.
//
// Contract: Post sends body as JSON to url with POST and returns the HTTP status code and the reply body. err
// is set when no complete reply was read (the pod is unreachable, ctx ended, the reply was cut or too large);
// code may then be 0. Any status code, 4xx and 5xx included, is a reply, not an error: the caller decides what
// it means. ctx bounds the whole exchange, reply body included. Post is safe for concurrent use.
type Caller interface {
	Post(ctx context.Context, url string, body []byte) (code int, reply []byte, err error)
}

// PartsCaller is a Caller that also sends a body given in parts, one after the other, without joining them:
// the leader's bodies of one phase share the encoded cluster and differ only by their key, so a phase holds
// the cluster once instead of once per pod (at 1 000 pods, 290 KB instead of 290 MB). HTTPCaller is one.
type PartsCaller interface {
	Caller
	PostParts(ctx context.Context, url string, parts ...[]byte) (code int, reply []byte, err error)
}

// oneWriteBody is the largest body PostParts sends in one write with its headers (joined, if in parts):
// what fits in net/http's 4 KB write buffer beside them. A larger one goes out in parts, as they are.
const oneWriteBody = 3 << 10

// partsReader reads the parts in order. Its WriteTo hands each part to the connection's writer as it is:
// io.MultiReader's, like io.Copy, would allocate 32 KB a request.
func partsReader(parts [][]byte) io.Reader { return &partReader{parts: parts} }

type partReader struct{ parts [][]byte }

func (r *partReader) Read(b []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

func (r *partReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(r.parts) > 0 {
		n, err := w.Write(r.parts[0])
		total += int64(n)
		r.parts[0] = r.parts[0][n:]
		if err != nil {
			return total, err
		}
		r.parts = r.parts[1:]
	}
	return total, nil
}

// DefaultMaxReply caps the reply body HTTPCaller reads when MaxReply is zero (DESIGN §12: 1 MiB). Control
// replies are small JSON objects; the cap only keeps a broken or hostile pod from making the leader buffer
// without bound.
const DefaultMaxReply = 1 << 20

// ErrReplyTooLarge is wrapped by HTTPCaller.Post when the reply body is over the cap.
var ErrReplyTooLarge = errors.New("control: reply too large")

// HTTPCaller is the Caller over net/http. The zero value is ready: it uses a client like http.DefaultClient
// that follows no redirect, and reads at most DefaultMaxReply bytes of a reply. Timeouts come from ctx (the
// phase gives each request its own), so Client needs none.
//
// A redirect is never followed (DESIGN §12): a pod answering 3xx would otherwise point the leader, with the
// whole cluster as its body, at any address. The 3xx is the reply, and the phase fails on it as on any
// reply but 200.
type HTTPCaller struct {
	Client   *http.Client  // nil: http.DefaultClient
	MaxReply int64         // reply bytes read at most; zero: DefaultMaxReply
	warm     *warmPool     // Warm's connections, taken by Client's transport; nil: Warm does nothing
	keep     *keepPool     // Keep's pods; nil: Keep does nothing
	bearer   *bearerHeader // the Authorization header of every request; nil: none
}

var (
	_ PartsCaller = HTTPCaller{}
	_ Warmer      = HTTPCaller{}
	_ Keeper      = HTTPCaller{}
)

// NewHTTPCaller returns the leader's HTTPCaller: a transport of its own that keeps one connection alive per
// pod however many pods there are (net/http's default transport keeps 100 in all, so every step of a phase
// over more pods would connect again), writes a request in large pieces, and goes straight to the pods,
// whatever HTTP_PROXY says: control ports are inside the cluster's network. Its Warm opens connections ahead,
// its Keep keeps them open.
func NewHTTPCaller() HTTPCaller {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second} // as http.DefaultTransport's
	warm := newWarmPool(d.DialContext)
	t.DialContext = warm.dialer(false)
	t.MaxIdleConns = 0 // no limit in all; MaxIdleConnsPerHost (2) bounds each pod
	// The write buffer stays net/http's 4 KB: every pod's connection holds one for as long as it is kept, and
	// at 64 KB a leader of 1 000 pods held 64 MB of them (issue #18). A whole cluster, which is large, goes
	// out in parts (PostParts) that skip the buffer once it is full, and a delta body fits in it.
	client := &http.Client{Transport: t, CheckRedirect: noRedirect}
	return HTTPCaller{Client: client, warm: warm, keep: newKeepPool(client)}
}

// Warm implements Warmer (for an HTTPCaller made by NewHTTPCaller or NewSecureHTTPCaller; others ignore it).
// A pod whose connection is kept (Keep) is not warmed: it has one.
func (h HTTPCaller) Warm(urls []string) {
	if h.warm != nil {
		h.warm.warm(h.keep.unkept(urls))
	}
}

// Keep implements Keeper (for an HTTPCaller made by NewHTTPCaller or NewSecureHTTPCaller; others ignore it).
func (h HTTPCaller) Keep(urls []string) {
	if h.keep != nil {
		h.keep.keep(urls)
	}
}

// KeepWithin sets the pods' idle timeout (Limits.IdleTimeout; zero: DefaultIdleTimeout) that Keep's requests
// must beat: every KeepEvery(idle). Call it before Keep.
func (h HTTPCaller) KeepWithin(idle time.Duration) {
	if h.keep != nil {
		h.keep.mu.Lock()
		h.keep.every = KeepEvery(idle)
		h.keep.mu.Unlock()
	}
}

// CountConns has count told of every connection h opens from now on (for an HTTPCaller made by
// NewHTTPCaller or NewSecureHTTPCaller; others ignore it), warmed ones included: what a phase cost in
// connections and TLS handshakes (DESIGN §12, §13). count runs on the dialing goroutine; it must be quick.
func (h HTTPCaller) CountConns(count func(ConnKind)) {
	if h.warm != nil {
		h.warm.counter.Store(&count)
	}
}

// CloseIdleConnections closes the connections kept alive and those warmed that no request took, and keeps
// none any more (Keep(nil)).
func (h HTTPCaller) CloseIdleConnections() {
	if h.warm != nil {
		h.warm.closeAll()
	}
	if h.keep != nil {
		h.keep.keep(nil)
	}
	if h.Client != nil {
		h.Client.CloseIdleConnections()
	}
}

// noRedirect makes an http.Client hand back a redirect as the reply instead of following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Post implements Caller.
func (h HTTPCaller) Post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	return h.PostParts(ctx, url, body)
}

// PostParts implements PartsCaller.
func (h HTTPCaller) PostParts(ctx context.Context, url string, parts ...[]byte) (int, []byte, error) {
	client, limit := h.Client, h.MaxReply
	switch {
	case client == nil:
		client = &http.Client{CheckRedirect: noRedirect}
	case client.CheckRedirect == nil: // net/http's default follows up to 10 redirects
		c := *client
		c.CheckRedirect = noRedirect
		client = &c
	}
	if limit <= 0 {
		limit = DefaultMaxReply
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("control: POST %s: %w", url, err)
	}
	for _, p := range parts {
		req.ContentLength += int64(len(p))
	}
	req.GetBody = func() (io.ReadCloser, error) { // also for a retry on another connection
		return io.NopCloser(partsReader(slices.Clone(parts))), nil
	}
	if req.ContentLength <= oneWriteBody {
		// net/http writes a body it does not know to be in memory after the headers, flushed on their own: a
		// second write, a second TLS record and a second wake-up of the pod, on every request of a phase. Joined,
		// a small body goes in the headers' write (scale bench, 10-pod hand-over's phase: secured 13.3 → 10.6
		// ms, plain 10.6 → 9.0, in runs minutes apart).
		body := bytes.Join(parts, nil)
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	req.Body, _ = req.GetBody()
	if req.ContentLength == 0 {
		req.Body, req.GetBody = http.NoBody, nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if v := h.bearer.header(); v != "" {
		req.Header["Authorization"] = []string{v} // set here: a RoundTripper would have to clone the request
	}
	defer h.keep.begin(req.URL)() // a kept connection needs no keep request meanwhile (Keep)
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("control: POST %s: %w", url, err)
	}
	defer res.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("control: POST %s: read the reply: %w", url, err)
	}
	if int64(len(reply)) > limit {
		return res.StatusCode, reply[:limit], fmt.Errorf("control: POST %s: %w: over %d bytes", url, ErrReplyTooLarge, limit)
	}
	return res.StatusCode, reply, nil
}
