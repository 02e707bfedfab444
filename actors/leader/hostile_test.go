package leader

import (
	"log/slog"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// warnings counts the WARN lines of effects.
func warnings(effects []Effect) int {
	n := 0
	for _, e := range effects {
		if l, ok := e.(Log); ok && l.Level == slog.LevelWarn {
			n++
		}
	}
	return n
}

// DESIGN §12: a node of the lock directory that is not "<hex id>__lock__<10 digits>" (a forged
// "__lock__0000000000" sorts first) holds no place in line: the pod leads, and the node is logged at WARN
// once, not at every listing.
func TestLeader_MalformedContenderDoesNotBlockAndIsWarnedOnce(t *testing.T) {
	m := newTestMachine()
	m.Start()
	m.Handle(input(&v1.ContenderReady{Generation: 1, Path: dir + "/" + b}))
	forged := []string{"__lock__0000000000", "zz__lock__0000000000", "x;y__lock__0000000000"}
	effects := m.Handle(input(&v1.ContendersListed{Generation: 1, Children: append([]string{b}, forged...)}))
	if got := kinds(effects); len(got) < 1 || got[0] != "announce(true)" || warnings(effects) != 1 {
		t.Fatalf("effects %q with %d warnings: want leading and one WARN", got, warnings(effects))
	}
	m.phase = phaseListing // a later listing (a reconnect, a watch event) sees the same nodes
	effects = m.Handle(input(&v1.ContendersListed{Generation: 1, Children: append([]string{b}, forged...)}))
	if got := kinds(effects); len(got) < 1 || got[0] != "announce(true)" || warnings(effects) != 0 {
		t.Fatalf("a second listing: effects %q with %d warnings, want leading and no WARN", got, warnings(effects))
	}
}
