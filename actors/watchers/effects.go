package watchers

import (
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
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

// Notify: tell the parent v1.Changed{Target{Kind, Path}, Kind: Change, Event}.
type Notify struct {
	Kind   v1.WatchKind
	Path   string
	Change v1.ChangeKind
	Event  v1.ZkEvent // the event the watch fired with, or not-watching when it was lost
}

// StartTimer: after After, feed v1.TimerFired{Name, Epoch: Generation} back.
type StartTimer struct {
	Name       v1.Timer
	Generation uint64
	After      time.Duration
}

// Log: something worth a log line (machines do not log, STYLE 14).
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

// Message is the v1.Changed the parent gets.
func (e Notify) Message() *v1.Changed {
	return &v1.Changed{Target: &v1.WatchTarget{Kind: e.Kind, Path: e.Path}, Kind: e.Change, Event: e.Event}
}

// Describe renders a Changed as "kind path what" for logs and tests: what is the event a watch fired with,
// else the change ("armed", "rearmed", "failed", "lost").
func Describe(c *v1.Changed) string {
	what := protocol.Name(c.GetKind())
	if c.GetKind() == v1.ChangeKind_CHANGE_KIND_FIRED {
		what = protocol.Name(c.GetEvent())
	}
	return protocol.Name(c.GetTarget().GetKind()) + " " + c.GetTarget().GetPath() + " " + what
}

func (Arm) isEffect()        {}
func (Notify) isEffect()     {}
func (StartTimer) isEffect() {}
func (Log) isEffect()        {}
