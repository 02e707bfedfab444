package watchers

import (
	"log/slog"
	"time"
)

// Effect is something the machine asks its adapter to do.
type Effect interface{ isEffect() }

// Call is the ZooKeeper call that sets a watch.
type Call int

// The calls the machine uses.
const (
	// CallChildren is ChildrenW. A missing node sets no watch and completes with Exists false, no error.
	CallChildren Call = iota + 1
	// CallExists is ExistsW: a data watch on an existing node, an exist watch on a missing one.
	CallExists
)

func (c Call) String() string {
	switch c {
	case CallChildren:
		return "children"
	case CallExists:
		return "exists"
	}
	return "unknown"
}

// Arm: make Call on Path. Completes with v1.NodeWatched{Generation, Path, Exists, Error}; if a watch was
// set, v1.NodeChanged{Generation, Path, Event} follows when it fires (or "not-watching" when it is lost).
type Arm struct {
	Generation uint64
	Path       string
	Call       Call
}

// Notify: tell the parent v1.Changed{Target{Kind, Path}, Event}.
type Notify struct {
	Kind  string
	Path  string
	Event string
}

// StartTimer: after After, feed v1.TimerFired{Name, Epoch: Generation} back.
type StartTimer struct {
	Name       string
	Generation uint64
	After      time.Duration
}

// Log: something worth a log line (machines do not log, STYLE 14).
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (Arm) isEffect()        {}
func (Notify) isEffect()     {}
func (StartTimer) isEffect() {}
func (Log) isEffect()        {}
