package control

import (
	"crypto/tls"
	"net/http"
	"sync"

	"github.com/ochopod/ochopod/runtime/security"
)

// ClientSecurity is what a client of secured pods presents (DESIGN §12).
type ClientSecurity struct {
	// TLS verifies pods that serve HTTPS (and presents the client certificate for mutual TLS); nil: the client
	// can reach only plain-HTTP pods.
	TLS *security.ClientTLS
	// Token returns the bearer secret to send, read at each request so a rotated token file takes effect at
	// once; nil or "": no Authorization header.
	Token func() string
}

// LeaderToken is the ClientSecurity.Token of a leader: the first token of the file with the control scope.
func LeaderToken(f *security.TokenFile) func() string {
	return func() string {
		tok, _ := f.First(security.ScopeControl)
		return tok.Secret()
	}
}

// NewSecureHTTPCaller is NewHTTPCaller with sec applied to its transport; Warm opens HTTPS connections, TLS
// handshake included, through sec.TLS, and Keep keeps them.
func NewSecureHTTPCaller(sec ClientSecurity) HTTPCaller {
	c := NewHTTPCaller()
	client := *c.Client
	t, ok := client.Transport.(*http.Transport)
	if !ok {
		t = http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = c.warm.dialer(false)
	}
	client.Transport = SecureTransport(t, ClientSecurity{TLS: sec.TLS})
	if sec.Token != nil {
		c.bearer = &bearerHeader{token: sec.Token}
	}
	if sec.TLS != nil {
		c.warm.setTLS(sec.TLS.DialContext)
		t.DialTLSContext = c.warm.dialer(true)
	}
	c.Client = &client
	c.keep.client = &client // its keep requests go through the transport the phase's do
	return c
}

// SecureTransport applies sec to t (which it changes): HTTPS through sec.TLS over HTTP/1.1 with connections
// kept alive, and the bearer token on every request. The operator CLI uses it as the leader does.
func SecureTransport(t *http.Transport, sec ClientSecurity) http.RoundTripper {
	if sec.TLS != nil {
		t.DialTLSContext = sec.TLS.DialContext
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	if sec.Token == nil {
		return t
	}
	return bearerTransport{base: t, token: sec.Token}
}

// bearerHeader is the Authorization header of a token source, made again only when the token changed: a leader
// sends it on every request of every phase.
type bearerHeader struct {
	token func() string
	mu    sync.Mutex
	last  string // the secret of value
	value string // "Bearer " + last
}

// header is the Authorization header's value; "" without a token (b nil, or no secret).
func (b *bearerHeader) header() string {
	if b == nil {
		return ""
	}
	secret := b.token()
	if secret == "" {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if secret != b.last {
		b.last, b.value = secret, "Bearer "+secret
	}
	return b.value
}

// bearerTransport adds the Authorization header to every request (clients that do not build their requests
// through HTTPCaller: the operator CLI).
type bearerTransport struct {
	base  http.RoundTripper
	token func() string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	secret := b.token()
	if secret == "" {
		return b.base.RoundTrip(r)
	}
	r = r.Clone(r.Context()) // a RoundTripper must not change the caller's request
	r.Header.Set("Authorization", "Bearer "+secret)
	return b.base.RoundTrip(r)
}
