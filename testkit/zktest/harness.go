package zktest

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
)

// Harness is what one conformance subtest needs from the implementation under test.
type Harness struct {
	// Dialer opens the sessions. Every Dial must get a connection of its own, which Disconnect can cut
	// without touching the other sessions.
	Dialer zk.Dialer
	// Ensemble is what the suite dials. Its Chroot, if any, is this subtest's private area: the suite creates
	// it (dialing the same servers without a chroot) and nothing else writes under it.
	Ensemble zk.Ensemble
	// SessionTimeout is the timeout the suite asks for.
	SessionTimeout time.Duration
	// ExpiryMargin is how long past SessionTimeout the server may take to expire a silent session (ZooKeeper
	// checks once per tick; the client notices the loss late). 0 for an exact virtual server.
	ExpiryMargin time.Duration
	// ShortOutage is how long, within the session timeout, a cut connection may stay cut after the client
	// noticed and still be restored in time (the client's own reconnection delay taken into account).
	ShortOutage time.Duration
	// Wait bounds the wait for an event the suite expects: generous for a real server, since every wait
	// ends as soon as the event arrives.
	Wait time.Duration

	// Disconnect cuts the connection of c's session without ending the session: c's client must then report
	// StateDisconnected. Reconnect restores it.
	Disconnect func(t *testing.T, c zk.Conn)
	Reconnect  func(t *testing.T, c zk.Conn)
	// Elapse lets d pass for the server: advance the virtual clock, or sleep.
	Elapse func(t *testing.T, d time.Duration)
}

func (h Harness) wait() time.Duration {
	if h.Wait <= 0 {
		return 10 * time.Second
	}
	return h.Wait
}
