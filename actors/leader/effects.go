package leader

import (
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"log/slog"
	"time"
)

// Effect is something the machine asks its adapter to do.
type Effect interface{ isEffect() }

// EnsureContender: find this pod's contender node of the current session under coordinator/ or create one;
// delete ours left by older sessions. Completes with ContenderReady.
type EnsureContender struct{ Generation uint64 }

// ListContenders: read coordinator/. Completes with ContendersListed.
type ListContenders struct{ Generation uint64 }

// Watch: set an exists-watch on Path. Completes with NodeWatched, then NodeChanged when the watch fires.
type Watch struct {
	Generation uint64
	Path       string
}

// StartWorker: spawn what the leader runs (the cluster model), fenced by LockPath.
type StartWorker struct {
	LockPath   string
	Generation uint64
}

// StopWorker: stop what the leader runs.
type StopWorker struct{}

// Announce: tell the parent (the session) that leadership changed.
type Announce struct {
	Leader     bool
	LockPath   string
	Generation uint64
}

// Touch: write our contender node's data again, unchanged (the pod's key): the contender behind us, whose
// watch fires, lists the line again and learns that it is next (DESIGN §12 "kept connections"). Nothing
// comes back.
type Touch struct {
	Generation uint64
	Path       string
}

// Position: tell the pod's root where our contender stands in the lock's line (v1.InLine): it keeps
// connections to the pods while it leads or is next (DESIGN §12 "kept connections"). Given when it changes.
type Position struct{ Leading, Next bool }

// StartTimer: after After, feed TimerFired{Name, Generation} back.
type StartTimer struct {
	Name       v1.Timer
	Generation uint64
	After      time.Duration
}

// Log: something worth a log line.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (EnsureContender) isEffect() {}
func (ListContenders) isEffect()  {}
func (Watch) isEffect()           {}
func (StartWorker) isEffect()     {}
func (StopWorker) isEffect()      {}
func (Announce) isEffect()        {}
func (Position) isEffect()        {}
func (Touch) isEffect()           {}
func (StartTimer) isEffect()      {}
func (Log) isEffect()             {}
