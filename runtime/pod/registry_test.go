package pod_test

import (
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// Issue #18: with pod.LightRegistry (TestMain), making an actor system allocates a few thousand objects, not
// the ~67 000 of protoactor's 32 768-map registry, which were most of a pod's start-up CPU.
func TestLightRegistry_ActorSystemsAreSmall(t *testing.T) {
	quiet := actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	allocs := testing.AllocsPerRun(5, func() {
		s := actor.NewActorSystemWithConfig(quiet)
		s.Shutdown()
	})
	if allocs > 10_000 {
		t.Fatalf("an actor system costs %.0f allocations, want at most 10 000 (the default registry: ~67 000)", allocs)
	}
}
