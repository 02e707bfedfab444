package session

import (
	"log/slog"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// Effect is something the machine asks its adapter to do. Effects that do I/O carry the epoch they were issued
// under, and so do the completions the adapter feeds back.
type Effect interface{ isEffect() }

// AskIdentity: ask the parent for the pod's Identity.
type AskIdentity struct{}

// ReportSeq: tell the parent the seq the first registration assigned.
type ReportSeq struct {
	Key string
	Seq int64
}

// Dial: open a new ZooKeeper client for this epoch and relay its session events.
type Dial struct{ Epoch uint64 }

// Close: close the client of that epoch (the server drops its ephemeral nodes).
type Close struct{ Epoch uint64 }

// Register: ensure the cluster's layout and create the pod's ephemeral-sequential node; without HasSeq, the
// node's own sequence becomes the seq. Completes with RegisterDone.
type Register struct {
	Epoch  uint64
	Key    string
	Seq    int64
	HasSeq bool
}

// Deregister: delete the pod's node (Path may be empty when not registered), close the client, complete with
// DeregisterDone.
type Deregister struct {
	Epoch uint64
	Path  string
}

// StartTimer: after After, feed TimerFired{Name, Epoch} back.
type StartTimer struct {
	Name  v1.Timer
	Epoch uint64
	After time.Duration
}

// StartLeader: spawn the leader child on the client of Epoch.
type StartLeader struct{ Epoch uint64 }

// StopLeader: stop the leader child (and whatever it runs).
type StopLeader struct{}

// Publish: make the status known (event stream, metrics).
type Publish struct{ Status *v1.SessionStatus }

// Stopped: the session is over; answer whoever asked it to stop.
type Stopped struct{}

// Log: something worth a log line. Machines do not log themselves.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (AskIdentity) isEffect() {}
func (ReportSeq) isEffect()   {}
func (Dial) isEffect()        {}
func (Close) isEffect()       {}
func (Register) isEffect()    {}
func (Deregister) isEffect()  {}
func (StartTimer) isEffect()  {}
func (StartLeader) isEffect() {}
func (StopLeader) isEffect()  {}
func (Publish) isEffect()     {}
func (Stopped) isEffect()     {}
func (Log) isEffect()         {}
