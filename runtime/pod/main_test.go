package pod_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/pod"
)

// Every goroutine a pod starts (actors, ZooKeeper clients, watch forwarders, timers) must be gone once the
// tests stopped their pods. The one exception is protoactor's dead-letter throttle, a goroutine of its own that
// lives one throttle interval (1 s) after a dead letter and then ends by itself.
//
// The tests run with the registry `ochopod run` and testkit/farm use (pod.LightRegistry), set before any
// actor system exists.
func TestMain(m *testing.M) {
	pod.LightRegistry()
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}
