package security

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/testkit/certs"
)

// Prime completes a handshake between a pod's server and client configurations, mutual TLS included; a
// client whose CA did not sign the server's certificate says so (the server's side is primed all the same).
func TestPrime_HandshakesWithItself(t *testing.T) {
	_, f, err := certs.NewFiles(t.TempDir(), "pod-1.example", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, of, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mutual, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key, ClientCA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	withCert, err := NewClientTLS(TLSFiles{CA: f.CA, Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := NewClientTLS(TLSFiles{CA: of.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"server and its client": Prime(srv, cli),
		"mutual TLS":            Prime(mutual, withCert),
		"no client":             Prime(srv, nil),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Prime(srv, stranger); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client of another CA: %v, want a certificate error", err)
	}
	if err := Prime(nil, cli); err == nil {
		t.Error("no server configuration: no error")
	}
}

// BenchmarkFirstHandshake is the CPU a fresh process spends on its first TLS handshake as a server
// (server-cpu-µs/op), as a new pod does when the leader first calls it: cold, as it comes; primed, after
// Prime at start. Each op is a process of its own (this test binary, run as a child), met over loopback TCP
// by a client that met it before.
//
//	go test -run '^$' -bench FirstHandshake -benchtime 50x ./runtime/security/
func BenchmarkFirstHandshake(b *testing.B) {
	dir := b.TempDir()
	_, f, err := certs.NewFiles(dir, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"cold", "primed"} {
		b.Run(mode, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				total += firstHandshake(b, cli, dir, mode)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "server-cpu-µs/op")
		})
	}
}

// firstHandshake starts a child serving one TLS connection (primed first, in mode primed), meets it, and
// returns the CPU the child says the handshake cost it.
func firstHandshake(b *testing.B, cli *ClientTLS, dir, mode string) time.Duration {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrime_Child$")
	cmd.Env = append(os.Environ(), "OCHOPOD_PRIME_CHILD="+mode, "OCHOPOD_PRIME_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	addr, ok := childSays(lines, "addr ")
	if !ok {
		b.Fatal("the child gave no address")
	}
	if _, err := meet(b, cli, addr); err != nil {
		b.Fatal(err)
	}
	cpu, ok := childSays(lines, "cpu ")
	if !ok {
		b.Fatal("the child gave no CPU time")
	}
	d, err := time.ParseDuration(cpu)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out)
	return d
}

// childSays is the rest of the child's next line that starts with prefix.
func childSays(lines *bufio.Scanner, prefix string) (string, bool) {
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// TestPrime_Child is BenchmarkFirstHandshake's child: it serves one TLS connection with the files of
// OCHOPOD_PRIME_DIR and prints the CPU its handshake cost. Without the variable it does nothing.
func TestPrime_Child(t *testing.T) {
	mode := os.Getenv("OCHOPOD_PRIME_CHILD")
	if mode == "" {
		t.Skip("run by BenchmarkFirstHandshake")
	}
	dir := os.Getenv("OCHOPOD_PRIME_DIR")
	f := certs.Files{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), CA: filepath.Join(dir, "ca.pem")}
	srv, err := ServerTLS(TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mode == "primed" {
		cli, err := NewClientTLS(TLSFiles{CA: f.CA}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := Prime(srv, cli); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fmt.Printf("addr %s\n", ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := processCPU()
	tc := tls.Server(c, srv)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	_, _ = tc.Write([]byte("ok"))
	fmt.Printf("cpu %s\n", processCPU()-before)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
