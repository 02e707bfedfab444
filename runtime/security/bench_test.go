package security

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/ochopod/ochopod/testkit/certs"
)

// BenchmarkHandshake is one TLS handshake between ServerTLS and ClientTLS over loopback, both sides' CPU: what
// a new leader pays once per pod before its first phase (DESIGN §12; connections are kept alive after it).
//
//	go test -run '^$' -bench Handshake ./runtime/security/
func BenchmarkHandshake(b *testing.B) {
	_, f, err := certs.NewFiles(b.TempDir(), "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := cli.Config("127.0.0.1")
	b.ResetTimer()
	for range b.N {
		a, c := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- tls.Server(a, srv).Handshake() }()
		if err := tls.Client(c, cfg).Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		a.Close()
		c.Close()
	}
}

// BenchmarkMeet is a connection over loopback TCP from ClientTLS to ServerTLS up to the server's first bytes,
// both sides' CPU: full, a handshake with certificates as a new leader's first one to each pod; resumed, the
// session of an earlier connection resumed (DESIGN §12).
//
//	go test -run '^$' -bench Meet ./runtime/security/
func BenchmarkMeet(b *testing.B) {
	_, f, err := certs.NewFiles(b.TempDir(), "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	addr := tlsServer(b, srv)
	for _, resume := range []bool{false, true} {
		name := map[bool]string{false: "full", true: "resumed"}[resume]
		b.Run(name, func(b *testing.B) {
			cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := meet(b, cli, addr); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if !resume {
					roots, _ := cli.ca.current()
					cli.sessions.of(roots, addr).Put("", nil)
				}
				got, err := meet(b, cli, addr)
				if err != nil {
					b.Fatal(err)
				}
				if got != resume {
					b.Fatalf("resumed = %v", got)
				}
			}
		})
	}
}
