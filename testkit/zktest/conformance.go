package zktest

import (
	"testing"

	"github.com/ochopod/ochopod/runtime/zk"
)

// Subtest is one conformance check.
type Subtest struct {
	Name string
	Run  func(t *testing.T, h Harness)
}

// Subtests lists the conformance checks in the order RunConformance runs them.
func Subtests() []Subtest {
	return []Subtest{
		{"DialReportsConnectedWithSessionID", testDial},
		{"DataAndStatRoundTrip", testDataAndStat},
		{"NilDataIsWrittenAsTheEmptyString", testNoNullData},
		{"SequenceIsTenDigitsPerParentAndMonotonic", testSequence},
		{"ChildrenListing", testChildren},
		{"GetAllKeepsOrderAndErrorsPerPath", testGetAll},
		{"ErrorSentinels", testErrors},
		{"EphemeralRemovedOnClose", testEphemeralOnClose},
		{"EphemeralRemovedOnExpiry", testEphemeralOnExpiry},
		{"WatchesFireOnce", testWatchesFireOnce},
		{"WatchEventBeforeTheDataItReports", testWatchOrder},
		{"MultiIsAtomic", testMulti},
		{"FencedRejectsOnceFenceIsGone", testFenced},
		{"EnsurePathIsIdempotent", testEnsurePath},
		{"ChrootIsolation", testChroot},
		{"ShortDisconnectKeepsSession", testShortDisconnect},
		{"ExpiryFailsCallsAndReportsExpiredOnce", testExpiry},
		{"CloseEndsSession", testClose},
	}
}

// RunConformance runs every subtest, in parallel, each on a Harness that newConn builds for it. If the
// Harness has a chroot, the suite creates it first through a session dialed without one.
func RunConformance(t *testing.T, newConn func(t *testing.T) Harness) {
	for _, st := range Subtests() {
		t.Run(st.Name, func(t *testing.T) {
			t.Parallel()
			h := newConn(t)
			prepare(t, h)
			st.Run(t, h)
		})
	}
}

func prepare(t *testing.T, h Harness) {
	t.Helper()
	if h.Ensemble.Chroot == "" {
		return
	}
	root := dial(t, h, "")
	must(t, "create the chroot", zk.EnsurePath(root, h.Ensemble.Chroot))
	root.Close()
}
