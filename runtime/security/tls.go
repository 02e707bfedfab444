package security

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// TLSFiles names the PEM files of one side of a TLS connection (DESIGN §12).
type TLSFiles struct {
	Cert, Key string // this side's certificate chain and key: the server's, or the client's for mutual TLS
	CA        string // a client verifies servers against this CA (--tls-ca, --zk-tls-ca)
	ClientCA  string // a server requires client certificates signed by this CA (--tls-client-ca)
}

// ServerTLS is the control port's TLS configuration: Cert and Key are required, ClientCA turns mutual TLS on.
// Every handshake uses the files as they are then (looked at at most once a second, like the token file): a
// rotated certificate, key or client CA is served without a restart. The configuration speaks HTTP/1.1 only
// (the leader keeps one connection alive per pod). It issues TLS 1.3 session tickets, so a leader that met the
// pod before resumes (DESIGN §12); crypto/tls checks a resumed client certificate against the client CA of now,
// and the ticket key changes with the files (and daily): a rotation ends the sessions of the old certificates.
func ServerTLS(f TLSFiles, log *slog.Logger) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("TLS: a server needs both a certificate and a key")
	}
	pair, err := openKeyPair(f.Cert, f.Key, log)
	if err != nil {
		return nil, err
	}
	var clientCA *watched[*x509.CertPool]
	if f.ClientCA != "" {
		if clientCA, err = newWatched(f.ClientCA, "TLS client CA", parsePool, log); err != nil {
			return nil, err
		}
		clientCA.recheck = FileRecheck
	}
	// The configuration of the files as they are, built again only when one changed.
	var mu sync.Mutex
	var last *tls.Config
	var lastCert *tls.Certificate
	var lastPool *x509.CertPool
	var built time.Time
	return &tls.Config{
		MinVersion:                  tls.VersionTLS12,
		NextProtos:                  []string{"http/1.1"},
		DynamicRecordSizingDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, err := pair.current()
			if err != nil {
				return nil, err
			}
			var pool *x509.CertPool
			if clientCA != nil {
				if pool, err = clientCA.current(); err != nil {
					return nil, err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if last != nil && cert == lastCert && pool == lastPool && now.Sub(built) < TicketKeyLife {
				return last, nil
			}
			c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, Certificates: []tls.Certificate{*cert},
				DynamicRecordSizingDisabled: true}
			if pool != nil {
				c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
			}
			var key [32]byte
			if _, err := rand.Read(key[:]); err != nil {
				return nil, err
			}
			c.SetSessionTicketKeys([][32]byte{key})
			last, lastCert, lastPool, built = c, cert, pool, now
			return c, nil
		},
	}, nil
}

// ClientTLS is a client's side of TLS: it verifies the server's chain and name against CA (required) as that
// file is at each handshake (looked at at most once a second), and presents Cert and Key when given (mutual
// TLS), likewise re-read. DialContext keeps the TLS 1.3 sessions the servers give it, so meeting a server again
// is a resumption (DESIGN §12): no certificate signed or checked again, the chain checked against the CA of now.
type ClientTLS struct {
	ca       *watched[*x509.CertPool]
	pair     *keyPair // nil without a client certificate
	sessions *sessions
	verified verifiedChains
}

// NewClientTLS reads the files of f (CA, and Cert with Key for mutual TLS).
func NewClientTLS(f TLSFiles, log *slog.Logger) (*ClientTLS, error) {
	if f.CA == "" {
		return nil, errors.New("TLS: a client needs the CA to verify servers with")
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("TLS: a client certificate needs its key, and a key its certificate")
	}
	ca, err := newWatched(f.CA, "TLS CA", parsePool, log)
	if err != nil {
		return nil, err
	}
	ca.recheck = FileRecheck
	c := &ClientTLS{ca: ca, sessions: newSessions(SessionsKept)}
	if f.Cert != "" {
		if c.pair, err = openKeyPair(f.Cert, f.Key, log); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Config is the configuration for a connection to server (a DNS name or an IP address, which the server's
// certificate must hold in its SANs). tls.Config cannot change its roots, and hides an IP address it dialed
// from VerifyConnection, so the chain is verified here against the CA as it is now, for this name.
func (c *ClientTLS) Config(server string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		ServerName: server,
		// P-256 alone, not Go's default hybrid X25519MLKEM768: the hybrid makes a handshake cost ~5 times
		// the CPU (BenchmarkHandshake: 4.9 → 1.0 ms on a loaded 2-core VM), and a new leader handshakes with
		// every pod before its first phase. Control traffic is short-lived secrets (rotated tokens) inside the
		// cluster's network, where recording it now to decrypt with a quantum computer later buys little.
		// P-256 rather than X25519 (the same 128-bit strength; every TLS 1.3 server has it): Go makes a
		// P-256 key from a precomputed table, and a handshake costs both sides 14 % less CPU (340-356 against
		// 402-408 µs, BenchmarkHandshake's pair over a pipe, GOMAXPROCS=1). Go ignores the order of this list
		// and offers a key share for X25519 whenever it is in it, so it is left out.
		CurvePreferences: []tls.CurveID{tls.CurveP256},
		// Full records from the first byte: crypto/tls otherwise sends a connection's first 128 KB in ~1 KB
		// records, a write each, which helps a browser render early and a phase body (~280 bytes a pod) not.
		DynamicRecordSizingDisabled: true,
		InsecureSkipVerify:          true, // verified by VerifyConnection, below
		VerifyConnection: func(cs tls.ConnectionState) error {
			roots, err := c.ca.current()
			if err != nil {
				return err
			}
			return c.verified.verify(cs.PeerCertificates, server, roots, time.Now())
		},
	}
	if c.pair != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c.pair.current() }
	}
	return cfg
}

// DialContext connects to addr (host:port) over TLS, verifying the server as Config(host) does, and resuming
// the session of the last connection to addr when there is one. It fits http.Transport.DialTLSContext and
// ZooKeeper's dialer.
func (c *ClientTLS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := c.Config(host)
	roots, err := c.ca.current()
	if err != nil {
		return nil, err
	}
	// Sessions are kept per address, not per name (crypto/tls's key): pods may share an address, each with
	// its own ticket keys. They are of the CA they were verified against: a new CA starts afresh.
	cache := c.sessions.of(roots, addr)
	cfg.ClientSessionCache = cache
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		err := verify(cs)
		if err != nil && cs.DidResume {
			cache.Put("", nil) // the next attempt meets the server in full
		}
		return err
	}
	d := tls.Dialer{Config: cfg}
	return d.DialContext(ctx, network, addr)
}

// TicketKeyLife is how long a server's session ticket key lives at most (as crypto/tls rotates its own):
// tickets of an older key are refused, and the client meets the server in full.
const TicketKeyLife = 24 * time.Hour

// FileRecheck is how long a look at a TLS file stays good (as TokenRecheck for the token file): a stat at
// every handshake is a system call a pod less, and a rotation is served within a second anyway.
var FileRecheck = time.Second

// SessionsKept bounds the TLS sessions a client keeps: one per server address, for clusters of that many
// pods; past it, the least recently used goes (and the next connection to it is a full handshake).
const SessionsKept = 4096

// sessions are a client's TLS sessions, one per server address, of one CA.
type sessions struct {
	mu    sync.Mutex
	roots *x509.CertPool // the CA the sessions were verified against
	lru   tls.ClientSessionCache
	size  int
}

func newSessions(size int) *sessions { return &sessions{size: size} }

// of returns the cache of addr's session under roots; a CA other than the last one drops every session.
func (s *sessions) of(roots *x509.CertPool, addr string) addrSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lru == nil || s.roots != roots {
		s.lru, s.roots = tls.NewLRUClientSessionCache(s.size), roots
	}
	return addrSession{lru: s.lru, addr: addr}
}

// addrSession is a tls.ClientSessionCache of one address: the key crypto/tls gives (the server name) is
// replaced by the address.
type addrSession struct {
	lru  tls.ClientSessionCache
	addr string
}

func (a addrSession) Get(string) (*tls.ClientSessionState, bool) { return a.lru.Get(a.addr) }
func (a addrSession) Put(_ string, cs *tls.ClientSessionState)   { a.lru.Put(a.addr, cs) }

// verifiedChains remembers, per server name, the last chain that verified: the same certificates for the same
// name under the same roots verify the same way while every certificate of the chain is within its validity,
// so a reconnection (a resumption above all) skips the signature checks. Any other chain is verified in full.
type verifiedChains struct {
	mu   sync.Mutex
	last map[string]verifiedChain
}

type verifiedChain struct {
	certs     []*x509.Certificate
	roots     *x509.CertPool
	notBefore time.Time // the latest NotBefore of the verified chain
	notAfter  time.Time // the earliest NotAfter of the verified chain
}

func (v *verifiedChains) verify(certs []*x509.Certificate, server string, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("TLS: the server sent no certificate")
	}
	v.mu.Lock()
	known, ok := v.last[server]
	v.mu.Unlock()
	if ok && known.roots == roots && now.After(known.notBefore) && now.Before(known.notAfter) && sameCerts(known.certs, certs) {
		return nil
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: server, Intermediates: x509.NewCertPool(), CurrentTime: now}
	for _, ic := range certs[1:] {
		opts.Intermediates.AddCert(ic)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return err
	}
	// The window in which every chain found holds: the result stands only inside it.
	e := verifiedChain{certs: certs, roots: roots}
	for _, chain := range chains {
		for _, ct := range chain {
			if e.notBefore.IsZero() || ct.NotBefore.After(e.notBefore) {
				e.notBefore = ct.NotBefore
			}
			if e.notAfter.IsZero() || ct.NotAfter.Before(e.notAfter) {
				e.notAfter = ct.NotAfter
			}
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last = map[string]verifiedChain{}
	}
	if len(v.last) >= SessionsKept {
		clear(v.last) // a bound on memory; the chains verify again
	}
	v.last[server] = e
	return nil
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func parsePool(pem []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	return p, nil
}

// keyPair is a certificate and its key, read again when either file changed.
type keyPair struct {
	cert, key *watched[[]byte]
	mu        sync.Mutex
	certPEM   []byte
	keyPEM    []byte
	pair      *tls.Certificate
}

func openKeyPair(certFile, keyFile string, log *slog.Logger) (*keyPair, error) {
	raw := func(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil }
	cert, err := newWatched(certFile, "TLS certificate", raw, log)
	if err != nil {
		return nil, err
	}
	key, err := newWatched(keyFile, "TLS key", raw, log)
	if err != nil {
		return nil, err
	}
	cert.recheck, key.recheck = FileRecheck, FileRecheck
	k := &keyPair{cert: cert, key: key}
	if _, err := k.current(); err != nil {
		return nil, err
	}
	return k, nil
}

// current returns the pair the files hold now; while a new certificate does not match its key yet (the files
// are replaced one after the other) the last good pair stays in use.
func (k *keyPair) current() (*tls.Certificate, error) {
	certPEM, err := k.cert.current()
	if err != nil {
		return nil, err
	}
	keyPEM, err := k.key.current()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && string(certPEM) == string(k.certPEM) && string(keyPEM) == string(k.keyPEM) {
		return k.pair, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if k.pair != nil {
			return k.pair, nil
		}
		return nil, fmt.Errorf("TLS key pair %s, %s: %w", k.cert.path, k.key.path, err)
	}
	k.certPEM, k.keyPEM, k.pair = certPEM, keyPEM, &pair
	return k.pair, nil
}
