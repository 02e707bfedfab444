// Package proc is Ochopod's port to processes: spawn one, learn of its exit without polling, signal its group.
// The real Spawner (NewReaper) owns every exit status of the program: a single reaper is the only caller of
// wait4, so it can also reap orphans when Ochopod runs as PID 1 or as a child subreaper. Nothing else in the
// program may wait for children (no exec.Cmd.Run/Wait): spawn through this port instead.
package proc

import (
	"io"
	"syscall"
)

// Spec describes a process to start.
type Spec struct {
	Argv  []string // program and arguments; the program is looked up in PATH
	Shell bool     // run strings.Join(Argv, " ") through /bin/sh -c
	Dir   string   // working directory; "" for the current one
	Env   []string // the whole environment, KEY=VALUE
	// Stdout and Stderr receive the process's output; nil discards it. The spawner copies through pipes, so
	// writers may be slow; the copy ends when the process and every child holding the pipe exited.
	Stdout io.Writer
	Stderr io.Writer
}

// Exit is how a process ended.
type Exit struct {
	Pid    int
	Status int            // the exit status, when it exited
	Signal syscall.Signal // the signal that killed it, 0 if it exited
}

// Code is the shell convention: the exit status, or 128 + the signal.
func (e Exit) Code() int {
	if e.Signal != 0 {
		return 128 + int(e.Signal)
	}
	return e.Status
}

// Process is a started process.
//
// Contract: it runs in a process group of its own (its pid is the group id), so Signal reaches its children
// too. Done is closed once the process exited and was reaped; Exit is valid from then on. A process started
// by a Spawner never becomes a zombie, and never outlives the Ochopod process that started it when that
// process is killed (the kernel's parent-death signal).
type Process interface {
	Pid() int
	// Signal sends sig to the process group; signalling a process that already exited is not an error.
	Signal(sig syscall.Signal) error
	Done() <-chan struct{}
	Exit() Exit
}

// Spawner starts processes. Safe for concurrent use.
type Spawner interface {
	Spawn(spec Spec) (Process, error)
}
