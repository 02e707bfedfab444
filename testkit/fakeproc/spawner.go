package fakeproc

import (
	"errors"
	"slices"
	"sync"
	"syscall"

	"github.com/ochopod/ochopod/runtime/proc"
)

// FirstPid is the pid of the first process a Spawner starts.
const FirstPid = 1000

// Spawner is a fake proc.Spawner. The zero value is not usable: build one with New.
type Spawner struct {
	mu      sync.Mutex
	next    int
	procs   []*Process
	fail    []error
	ignore  []syscall.Signal
	onSpawn func(*Process)
}

var _ proc.Spawner = (*Spawner)(nil)

// New returns a spawner whose first process gets FirstPid.
func New() *Spawner { return &Spawner{next: FirstPid} }

// Spawn starts a fake process, or fails with the next error queued by FailNext.
func (s *Spawner) Spawn(spec proc.Spec) (proc.Process, error) {
	s.mu.Lock()
	if len(s.fail) > 0 {
		err := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		return nil, err
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		s.mu.Unlock()
		return nil, errors.New("fakeproc: spawn: empty command")
	}
	spec.Argv = slices.Clone(spec.Argv)
	spec.Env = slices.Clone(spec.Env)
	p := newProcess(s.next, spec, s.ignore)
	s.next++
	s.procs = append(s.procs, p)
	hook := s.onSpawn
	s.mu.Unlock()
	if hook != nil {
		hook(p)
	}
	return p, nil
}

// FailNext makes the next Spawn fail with err (queued: n calls fail the next n spawns).
func (s *Spawner) FailNext(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, err)
}

// IgnoreSignals makes the processes spawned from now on survive these signals (SIGKILL cannot be ignored).
// Without arguments, they ignore nothing again.
func (s *Spawner) IgnoreSignals(sigs ...syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignore = slices.Clone(sigs)
}

// OnSpawn runs f on every process spawned from now on, before Spawn returns; nil removes it. f may end the
// process.
func (s *Spawner) OnSpawn(f func(*Process)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSpawn = f
}

// Processes lists every process spawned, in order.
func (s *Spawner) Processes() []*Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.procs)
}

// Last is the process spawned last, nil before the first.
func (s *Spawner) Last() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.procs) == 0 {
		return nil
	}
	return s.procs[len(s.procs)-1]
}

// Running lists the processes that have not ended, in spawn order: what an invariant such as "at most one
// sub-process" checks.
func (s *Spawner) Running() []*Process {
	var out []*Process
	for _, p := range s.Processes() {
		if p.Running() {
			out = append(out, p)
		}
	}
	return out
}
