package control

import (
	"crypto/tls"
	"net"
)

// ConnKind is how a client opened a connection to a pod (DESIGN §12): what it cost.
type ConnKind uint8

// The kinds of ConnKind.
const (
	ConnPlain      ConnKind = iota // TCP alone (http)
	ConnTLSFull                    // TLS with a full handshake: certificates sent, signed and verified
	ConnTLSResumed                 // TLS resuming an earlier session: no certificate, no signature
)

// String names the kind as metrics label it: none, full, resumed (the TLS handshake it took).
func (k ConnKind) String() string {
	switch k {
	case ConnTLSFull:
		return "full"
	case ConnTLSResumed:
		return "resumed"
	}
	return "none"
}

// kindOf tells how conn, just opened, was: a *tls.Conn has completed its handshake (tls.Dialer's do).
func kindOf(conn net.Conn) ConnKind {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return ConnPlain
	}
	if tc.ConnectionState().DidResume {
		return ConnTLSResumed
	}
	return ConnTLSFull
}
