package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// TLSFiles names the PEM files of one side of a TLS connection (DESIGN §12).
type TLSFiles struct {
	Cert, Key string // this side's certificate chain and key: the server's, or the client's for mutual TLS
	CA        string // a client verifies servers against this CA (--tls-ca, --zk-tls-ca)
	ClientCA  string // a server requires client certificates signed by this CA (--tls-client-ca)
}

// ServerTLS is the control port's TLS configuration: Cert and Key are required, ClientCA turns mutual TLS on.
// Every handshake uses the files as they are then: a rotated certificate, key or client CA is served without a
// restart. The configuration speaks HTTP/1.1 only (the leader keeps one connection alive per pod).
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
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, err := pair.current()
			if err != nil {
				return nil, err
			}
			c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}, Certificates: []tls.Certificate{*cert}}
			if clientCA != nil {
				if c.ClientCAs, err = clientCA.current(); err != nil {
					return nil, err
				}
				c.ClientAuth = tls.RequireAndVerifyClientCert
			}
			return c, nil
		},
	}, nil
}

// ClientTLS is a client's side of TLS: it verifies the server's chain and name against CA (required) as that
// file is at each handshake, and presents Cert and Key when given (mutual TLS), likewise re-read.
type ClientTLS struct {
	ca   *watched[*x509.CertPool]
	pair *keyPair // nil without a client certificate
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
	c := &ClientTLS{ca: ca}
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
		// X25519 alone, not Go's default hybrid X25519MLKEM768: the hybrid makes a handshake cost ~5 times
		// the CPU (BenchmarkHandshake: 4.9 → 1.0 ms on a loaded 2-core VM), and a new leader handshakes with
		// every pod before its first phase. Control traffic is short-lived secrets (rotated tokens) inside the
		// cluster's network, where recording it now to decrypt with a quantum computer later buys little.
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256},
		InsecureSkipVerify: true, // verified by VerifyConnection, below
		VerifyConnection: func(cs tls.ConnectionState) error {
			roots, err := c.ca.current()
			if err != nil {
				return err
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("TLS: the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, DNSName: server, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err = cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}
	if c.pair != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c.pair.current() }
	}
	return cfg
}

// DialContext connects to addr (host:port) over TLS, verifying the server as Config(host) does. It fits
// http.Transport.DialTLSContext and ZooKeeper's dialer.
func (c *ClientTLS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{Config: c.Config(host)}
	return d.DialContext(ctx, network, addr)
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
