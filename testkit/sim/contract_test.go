package sim

import (
	"testing"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/testkit/callertest"
)

// The contract every network of the leader keeps (testkit/callertest), on the sim's (http.go): the Caller runs
// inside a task, the scheduler runs until it returned.
func TestHTTP_KeepsTheCallerContract(t *testing.T) {
	callertest.Run(t, func(t *testing.T) callertest.Network {
		r := newHTTPRig(t)
		return callertest.InMemory(r.s.listen, r.s.unlisten, func(fn func(control.Caller)) {
			done := false
			r.s.goIO(r.owner, "post", func(*task) { fn(r.s.caller()); done = true })
			for !done && r.s.clk.FireNext() {
			}
			if !done {
				t.Fatal("the call never returned")
			}
		})
	})
}
