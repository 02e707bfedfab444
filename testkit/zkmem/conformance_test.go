package zkmem_test

import (
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/testkit/vclock"
	"github.com/ochopod/ochopod/testkit/zkmem"
	"github.com/ochopod/ochopod/testkit/zktest"
)

// harness runs a conformance subtest on a fresh server and virtual clock: faults through the server's API,
// time through the clock.
func harness(chroot string) func(t *testing.T) zktest.Harness {
	return func(t *testing.T) zktest.Harness {
		clk := vclock.New()
		srv := zkmem.New(clk)
		t.Cleanup(func() {
			if err := srv.Check(); err != nil {
				t.Errorf("server check: %v\n%s", err, srv.Dump())
			}
			for _, v := range srv.Violations() {
				t.Errorf("violation: %v", v)
			}
		})
		return zktest.Harness{
			Dialer:         srv.Dialer(),
			Ensemble:       zk.Ensemble{Servers: []string{"zkmem:2181"}, Chroot: chroot},
			SessionTimeout: 10 * time.Second,
			ShortOutage:    9 * time.Second,
			Wait:           time.Second, // events are in the channels before the call returns
			Disconnect: func(t *testing.T, c zk.Conn) {
				if err := srv.Disconnect(c.SessionID()); err != nil {
					t.Fatalf("disconnect: %v", err)
				}
			},
			Reconnect: func(t *testing.T, c zk.Conn) {
				if err := srv.Reconnect(c.SessionID()); err != nil {
					t.Fatalf("reconnect: %v", err)
				}
			},
			Elapse: func(t *testing.T, d time.Duration) { clk.Advance(d) },
		}
	}
}

func TestZkmem_Conformance(t *testing.T) {
	zktest.RunConformance(t, harness(""))
}

func TestZkmem_ConformanceUnderChroot(t *testing.T) {
	zktest.RunConformance(t, harness("/suite/chroot"))
}
