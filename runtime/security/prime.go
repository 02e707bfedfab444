package security

import (
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// PrimeTimeout bounds Prime's handshake: it runs over memory, so only a starved process gets near it.
const PrimeTimeout = 5 * time.Second

// Prime runs one TLS handshake between server and client (a pod's own control-port configuration and its
// client) over an in-memory pipe. A process's first handshake pays for crypto's one-time set-up (the
// self-test of each algorithm, key tables): as a server, 470-580 µs of CPU instead of 345-355 µs
// (BenchmarkFirstHandshake). A new pod's first handshake is the leader's, inside a configuration phase that
// waits for the pod's reply: the pod pays for the set-up at start instead, off that path.
//
// The client verifies the server's certificate, under its first name, as a leader would verify the pod; the
// error says why it did not (a certificate that does not hold its own name, a CA that did not sign it), and
// the server's side is primed anyway. Without a client, a throwaway one that verifies nothing primes the
// server's side alone: nothing crosses a network, and nothing of the handshake is kept.
func Prime(server *tls.Config, client *ClientTLS) error {
	if server == nil {
		return errors.New("TLS prime: no server configuration")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true} // over a pipe, to ourselves
	if client != nil {
		cfg = client.Config(ownName(server))
	}
	a, b := net.Pipe()
	deadline := time.Now().Add(PrimeTimeout)
	_ = a.SetDeadline(deadline)
	_ = b.SetDeadline(deadline)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = tls.Server(b, server).Handshake()
		b.Close()
	}()
	err := tls.Client(a, cfg).Handshake()
	a.Close() // a server that still writes (its session ticket) gets an error and returns
	<-served
	return err
}

// ownName is the first name of the server's certificate: a DNS name, else an IP address; "" when it has
// none (or the configuration gives no certificate without a client's hello).
func ownName(server *tls.Config) string {
	cfg := server
	if server.GetConfigForClient != nil {
		c, err := server.GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil || c == nil {
			return ""
		}
		cfg = c
	}
	if len(cfg.Certificates) == 0 || cfg.Certificates[0].Leaf == nil {
		return ""
	}
	leaf := cfg.Certificates[0].Leaf
	switch {
	case len(leaf.DNSNames) > 0:
		return leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		return leaf.IPAddresses[0].String()
	}
	return ""
}
