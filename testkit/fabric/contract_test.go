package fabric_test

import (
	"net/http"
	"testing"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/testkit/callertest"
	"github.com/ochopod/ochopod/testkit/fabric"
)

// The contract every network of the leader keeps (testkit/callertest), on the fabric.
func TestFabric_KeepsTheCallerContract(t *testing.T) {
	callertest.Run(t, func(t *testing.T) callertest.Network {
		f := fabric.New()
		t.Cleanup(f.Close)
		register := func(addr string, h http.Handler) {
			if err := f.Register(addr, h); err != nil {
				t.Fatal(err)
			}
		}
		return callertest.InMemory(register, func(addr string) { f.Unregister(addr) },
			func(fn func(control.Caller)) { fn(f.Caller()) })
	})
}
