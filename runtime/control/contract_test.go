package control_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/testkit/callertest"
)

// The contract every network of the leader keeps (testkit/callertest), on the real one: HTTPCaller and
// net/http servers on loopback.
func TestHTTPCaller_KeepsTheCallerContract(t *testing.T) {
	callertest.Run(t, func(t *testing.T) callertest.Network {
		servers := map[string]*httptest.Server{}
		caller := control.NewHTTPCaller()
		t.Cleanup(caller.CloseIdleConnections)
		return callertest.Network{
			Serve: func(h http.Handler) string {
				srv := httptest.NewServer(h)
				t.Cleanup(srv.Close)
				servers[srv.URL] = srv
				return srv.URL
			},
			Close: func(base string) { servers[base].Close() },
			Call:  func(fn func(control.Caller)) { fn(caller) },
		}
	})
}
