package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ochopod/ochopod/testkit/certs"
)

// tlsServer serves srv on a loopback address until the test ends: each connection gets "ok" after the
// handshake (and the session ticket with it).
func tlsServer(t testing.TB, srv *tls.Config) string {
	return serveLoopback(t, func(c net.Conn) {
		tc := tls.Server(c, srv)
		if tc.Handshake() == nil {
			_, _ = tc.Write([]byte("ok"))
		}
	})
}

// serveLoopback accepts connections on a loopback address until the test ends, each served by serve (then
// closed), and returns the address.
func serveLoopback(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// meet connects cli to addr, reads the "ok" and returns whether the handshake was a resumption.
func meet(t testing.TB, cli *ClientTLS, addr string) (resumed bool, err error) {
	t.Helper()
	c, err := cli.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		return false, err
	}
	return c.(*tls.Conn).ConnectionState().DidResume, nil
}

// DESIGN §12: a client meeting a server again resumes its TLS session (no certificate signed or checked
// again); two servers on one address each keep their own; a rotation on either side ends the sessions.
func TestSecurity_TLSResumesAndRotationEndsSessions(t *testing.T) {
	instantRecheck(t)
	dir := t.TempDir()
	ca, err := certs.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srvPair, _ := ca.Issue("127.0.0.1")
	srvFiles, err := ca.WriteFiles(dir, "srv-", srvPair)
	if err != nil {
		t.Fatal(err)
	}
	cliPair, _ := ca.Issue("leader")
	cliFiles, _ := ca.WriteFiles(dir, "cli-", cliPair)
	srv, err := ServerTLS(TLSFiles{Cert: srvFiles.Cert, Key: srvFiles.Key, ClientCA: srvFiles.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: cliFiles.CA, Cert: cliFiles.Cert, Key: cliFiles.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := tlsServer(t, srv), tlsServer(t, srv)
	want := func(addr string, resumed bool, why string) {
		t.Helper()
		got, err := meet(t, cli, addr)
		if err != nil {
			t.Fatalf("%s: %v", why, err)
		}
		if got != resumed {
			t.Fatalf("%s: resumed = %v, want %v", why, got, resumed)
		}
	}
	want(a, false, "first meeting of a")
	want(a, true, "second meeting of a")
	want(b, false, "first meeting of b (same name, another address)")
	want(b, true, "second meeting of b")
	want(a, true, "a again, after b")

	// Another server process on a's address would not know a's ticket key: a server of its own key refuses
	// the ticket and the client meets it in full.
	other, err := ServerTLS(TLSFiles{Cert: srvFiles.Cert, Key: srvFiles.Key, ClientCA: srvFiles.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := tlsServer(t, other)
	want(c, false, "first meeting of c")
	want(c, true, "second meeting of c")

	// The server's certificate rotates: its old sessions end.
	rotated, _ := ca.Issue("127.0.0.1")
	if _, err := ca.WriteFiles(dir, "srv-", rotated); err != nil {
		t.Fatal(err)
	}
	want(a, false, "a after its certificate rotated")
	want(a, true, "a after its certificate rotated, again")

	// The client's CA rotates (here to a file holding the same CA): every session of the old CA ends.
	if err := certs.WriteAtomic(cliFiles.CA, append(append([]byte(nil), ca.CertPEM...), '\n')); err != nil {
		t.Fatal(err)
	}
	want(b, false, "b after the client's CA rotated")
	want(b, true, "b after the client's CA rotated, again")

	// The client's CA rotates to another CA: a resumption is no way around verification.
	other2, _ := certs.NewCA("other CA")
	if err := certs.WriteAtomic(cliFiles.CA, other2.CertPEM); err != nil {
		t.Fatal(err)
	}
	if _, err := meet(t, cli, b); err == nil {
		t.Fatal("a server of the old CA was accepted after the client's CA rotated away from it")
	}
}

// A chain remembered as verified stands only for its name, under its roots, within its validity: anything
// else is verified in full (and here fails).
func TestSecurity_TLSVerifiedChainsAreKeyedByNameAndRoots(t *testing.T) {
	_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, srv)
	if _, err := meet(t, cli, addr); err != nil {
		t.Fatal(err)
	}
	roots, _ := cli.ca.current()
	var chain []*x509.Certificate
	cli.verified.mu.Lock()
	for _, e := range cli.verified.last {
		chain = e.certs
	}
	cli.verified.mu.Unlock()
	if len(chain) == 0 {
		t.Fatal("nothing remembered after a verified handshake")
	}
	now := time.Now()
	if err := cli.verified.verify(chain, "127.0.0.1", roots, now); err != nil {
		t.Fatalf("the same chain again: %v", err)
	}
	if err := cli.verified.verify(chain, "10.9.9.9", roots, now); err == nil {
		t.Fatal("a remembered chain verified for another name")
	}
	if err := cli.verified.verify(chain, "127.0.0.1", x509.NewCertPool(), now); err == nil {
		t.Fatal("a remembered chain verified under other roots")
	}
	if err := cli.verified.verify(chain, "127.0.0.1", roots, chain[0].NotAfter.Add(time.Second)); err == nil {
		t.Fatal("a remembered chain verified after it expired")
	}
}

// A client's handshake exchanges keys over P-256, with a key share in its hello that a server of Go's default
// preferences takes as it is (one round trip), and over P-256 again when it resumes.
func TestSecurity_TLSKeyExchangeIsP256(t *testing.T) {
	_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, srv)
	for _, resumed := range []bool{false, true} {
		c, err := cli.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		cs := c.(*tls.Conn).ConnectionState()
		c.Close()
		if cs.DidResume != resumed || cs.CurveID != tls.CurveP256 || cs.HelloRetryRequest {
			t.Fatalf("resumed %v, curve %v, hello retried %v; want resumed %v over P-256, no retry", cs.DidResume, cs.CurveID, cs.HelloRetryRequest, resumed)
		}
	}
}
