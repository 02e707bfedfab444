package model

import (
	"encoding/json"
	"log/slog"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// Effect is something the machine asks its adapter to do.
type Effect interface{ isEffect() }

// Watch: give the watchers this target set.
type Watch struct{ Set *v1.WatchSet }

// Read: read the pods, the dependencies' snapshots ("null" for a missing one), the hash, and the cluster
// list; complete with ClusterRead.
type Read struct{ Generation uint64 }

// Configure: run the configuration phase (DESIGN §7 steps 1-3) on these pods and dependencies; complete with
// PhaseDone.
type Configure struct {
	Generation   uint64
	HashVersion  int32 // the hash node's version, for the phase's fenced clearing of the hash
	Pods         map[string]json.RawMessage
	Dependencies map[string]json.RawMessage // keyed as depends_on declares them (DESIGN §11)
}

// Write: write the snapshot (these pods) and the hash in one multi fenced by the lock; complete with Written.
// A phase's write appends its History entry in the same multi (nil: a clean cluster's snapshot).
type Write struct {
	Generation  uint64
	Pods        map[string]json.RawMessage
	Hash        string
	HashVersion int32 // compare-and-set: the version the hash node must still have
	History     *HistoryEntry
}

// StartTimer: after After, feed TimerFired{Name, Generation} back.
type StartTimer struct {
	Name       v1.Timer
	Generation uint64
	After      time.Duration
}

// Probe: run the user's probe on this cluster; complete with CallbackDone{callback: "probe"} carrying the
// status (result) or the error.
type Probe struct {
	Generation   uint64
	Pods         map[string]json.RawMessage
	Dependencies map[string]json.RawMessage
}

// History: append this entry (a failed phase's) to the cluster's history node, fenced by the lock (DESIGN
// §13); the adapter fills the leader's key and lock. Nothing completes: a lost entry costs the operator a line,
// not the cluster.
type History struct{ Entry HistoryEntry }

// HistoryEntry is one phase as the machine saw it end; the times come from the adapter's clock (PhaseDone).
type HistoryEntry struct {
	EndedUnixMs int64
	DurationMs  int64
	Hash        string
	Pods        int
	Outcome     string
	Dropped     []string
}

// Publish: make the status known.
type Publish struct{ Status *v1.ModelStatus }

// Configured: make the cluster as last configured known (DESIGN §4 "Custom actors": the event the
// leader-scope custom actors hear), once its snapshot and hash are written. Generation is the phase's that
// configured it (its PhaseID names it to the listeners); 0 for the snapshot of a clean cluster.
type Configured struct {
	Cluster    *v1.ClusterConfigured
	Generation uint64
}

// Log: something worth a log line.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (Watch) isEffect()      {}
func (Read) isEffect()       {}
func (Configure) isEffect()  {}
func (Write) isEffect()      {}
func (StartTimer) isEffect() {}
func (Probe) isEffect()      {}
func (Publish) isEffect()    {}
func (Configured) isEffect() {}
func (History) isEffect()    {}
func (Log) isEffect()        {}
