package zkserver

import (
	"errors"
	"os"
	"testing"
	"time"
)

// Start launches a standalone ZooKeeper for the test, in a t.TempDir() unless WithDir says otherwise, and stops it
// in t.Cleanup. It fails the test if the server cannot start, and skips it when ZooKeeper is not installed unless
// the CI environment variable is set (in CI a missing ZooKeeper is a broken build, not a reason to skip).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := testConfig(tb, opts)
	began := time.Now()
	s, err := Launch(tb.Context(), cfg)
	if err != nil {
		failLaunch(tb, err)
		return nil
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("zkserver: close %s: %v", s.Addr(), err)
		}
	})
	tb.Logf("zkserver: standalone ZooKeeper serving on %s after %v (dir %s)",
		s.Addr(), time.Since(began).Round(time.Millisecond), s.Dir())
	return s
}

// StartEnsemble launches an n-member ensemble for the test and stops it in t.Cleanup, with the same failure and
// skip rules as Start.
func StartEnsemble(tb testing.TB, n int, opts ...Option) *Ensemble {
	tb.Helper()
	cfg := testConfig(tb, opts)
	began := time.Now()
	e, err := LaunchEnsemble(tb.Context(), n, cfg)
	if err != nil {
		failLaunch(tb, err)
		return nil
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("zkserver: close ensemble: %v", err)
		}
	})
	tb.Logf("zkserver: %d-member ensemble serving on %s after %v (dir %s)",
		n, e.ConnectString(), time.Since(began).Round(time.Millisecond), e.Dir())
	return e
}

func testConfig(tb testing.TB, opts []Option) Config {
	tb.Helper()
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	return cfg
}

// failLaunch skips or fails the test; Skipf and Fatalf do not return.
func failLaunch(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, ErrNoZooKeeper) {
		if os.Getenv("CI") == "" {
			tb.Skipf("skipping: %v", err)
		}
		tb.Fatalf("%v; CI is set, so a missing ZooKeeper fails the test instead of skipping it", err)
	}
	tb.Fatalf("%v", err)
}
