package lifecycle_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the tests start (actor systems, callbacks) must be gone at the end. The one exception is
// protoactor's dead-letter throttle, a goroutine of its own that lives one throttle interval (1 s) after a dead
// letter and then ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}
