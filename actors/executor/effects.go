package executor

import (
	"log/slog"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// Effect is something the machine asks its behaviour to do. Effects about a process carry its incarnation, and
// so do the completions the behaviour feeds back.
type Effect interface{ isEffect() }

// Spawn: start the process of an incarnation. The behaviour feeds back ExecStarted{Incarnation, Pid or Error},
// and, once it started, ExecExited{Incarnation, Pid, Code, Signal} when it ends.
type Spawn struct {
	Incarnation uint64
	Argv        []string
	Shell       bool
	Dir         string
	Env         []string
	Pipe        bool // forward stdout and stderr line by line into the pod log
}

// Signal: send a signal to the process group of an incarnation (it may reach the group after its leader
// exited).
type Signal struct {
	Incarnation uint64
	Signal      syscall.Signal
}

// StartTimer: after After, feed TimerFired{Name, Epoch} back.
type StartTimer struct {
	Name  v1.Timer
	Epoch uint64
	After time.Duration
}

// StopTimer: cancel the timer of that name, if pending.
type StopTimer struct{ Name v1.Timer }

// Report: send a message to whoever the executor reports to (ExecStarted, ExecExited).
type Report struct{ Msg proto.Message }

// Log: something worth a log line. Machines do not log themselves.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (Spawn) isEffect()      {}
func (Signal) isEffect()     {}
func (StartTimer) isEffect() {}
func (StopTimer) isEffect()  {}
func (Report) isEffect()     {}
func (Log) isEffect()        {}
