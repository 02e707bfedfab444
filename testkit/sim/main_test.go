package sim

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no scenario leaves a goroutine behind: every I/O task's coroutine is unwound.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
