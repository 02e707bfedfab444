package security

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/ochopod/ochopod/testkit/certs"
)

// BenchmarkHandshake is one TLS handshake between ServerTLS and ClientTLS over a pipe, both sides' CPU
// (cpu-µs/op; GOMAXPROCS=1 keeps the scheduler's spinning out of it): what a new leader and a pod pay once
// per pod before its first phase (DESIGN §12; connections are kept alive after it), system calls aside.
//
//	GOMAXPROCS=1 go test -run '^$' -bench Handshake -benchtime 2000x ./runtime/security/
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
	cpuPerOp(b, func() {
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
	})
}

// BenchmarkMeet is a connection over loopback TCP from ClientTLS to ServerTLS up to the server's first bytes,
// both sides' CPU (cpu-µs/op): full, a handshake with certificates, as a new leader's first one to each pod;
// resumed, the session of an earlier connection resumed (DESIGN §12). For scale: tcp, the same without TLS;
// tls12-full and tls12-resumed, what TLS 1.2 would cost (not used: its resumption skips the key exchange, and
// with it forward secrecy between the connections of one session).
//
//	go test -run '^$' -bench Meet -benchtime 1000x ./runtime/security/
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
	b.Run("tcp", func(b *testing.B) {
		plain := serveLoopback(b, func(c net.Conn) { _, _ = c.Write([]byte("ok")) })
		cpuPerOp(b, func() {
			c, err := net.Dial("tcp", plain)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, resume := range []bool{false, true} {
		b.Run(map[bool]string{false: "full", true: "resumed"}[resume], func(b *testing.B) {
			cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := meet(b, cli, addr); err != nil {
				b.Fatal(err)
			}
			cpuPerOp(b, func() {
				if !resume {
					roots, _ := cli.ca.current()
					cli.sessions.of(roots, addr).Put("", nil)
				}
				if got, err := meet(b, cli, addr); err != nil || got != resume {
					b.Fatalf("resumed = %v, %v", got, err)
				}
			})
		})
	}
	for _, resume := range []bool{false, true} {
		b.Run(map[bool]string{false: "tls12-full", true: "tls12-resumed"}[resume], func(b *testing.B) {
			cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
			if err != nil {
				b.Fatal(err)
			}
			cfg := cli.Config("127.0.0.1")
			cfg.MaxVersion = tls.VersionTLS12
			cache := tls.NewLRUClientSessionCache(1)
			cfg.ClientSessionCache = cache
			once := func() bool {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
					b.Fatal(err)
				}
				return c.ConnectionState().DidResume
			}
			once()
			cpuPerOp(b, func() {
				if !resume {
					cache.Put("127.0.0.1", nil)
				}
				if once() != resume {
					b.Fatalf("resumed = %v", !resume)
				}
			})
		})
	}
}

// cpuPerOp runs op b.N times and reports the CPU time (user and system) this process spent per op: on a shared
// machine the wall time says more about the neighbours.
func cpuPerOp(b *testing.B, op func()) {
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for range b.N {
		op()
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	used := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(used)/1e3/float64(b.N), "cpu-µs/op")
}
