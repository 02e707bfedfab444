package fakeproc

import (
	"io"
	"slices"
	"sync"
	"syscall"

	"github.com/ochopod/ochopod/runtime/proc"
)

// Process is a fake process. It implements proc.Process.
type Process struct {
	pid  int
	spec proc.Spec
	done chan struct{}

	mu      sync.Mutex
	ignored map[syscall.Signal]bool
	signals []syscall.Signal
	exit    proc.Exit
	ended   bool
}

var _ proc.Process = (*Process)(nil)

func newProcess(pid int, spec proc.Spec, ignore []syscall.Signal) *Process {
	p := &Process{pid: pid, spec: spec, done: make(chan struct{}), ignored: map[syscall.Signal]bool{}}
	for _, sig := range ignore {
		p.ignored[sig] = true
	}
	return p
}

// Pid is the fake pid.
func (p *Process) Pid() int { return p.pid }

// Spec is what the process was spawned with.
func (p *Process) Spec() proc.Spec { return p.spec }

// Done is closed once the process ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is how the process ended; the zero Exit while it runs.
func (p *Process) Exit() proc.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Running reports whether the process has not ended.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.ended
}

// Ignore makes the process survive these signals from now on (SIGKILL cannot be ignored).
func (p *Process) Ignore(sigs ...syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sig := range sigs {
		p.ignored[sig] = true
	}
}

// Signals lists the signals sent to the process, in order.
func (p *Process) Signals() []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signals)
}

// Signal records sig and ends the process if sig would (see the package doc). It never fails.
func (p *Process) Signal(sig syscall.Signal) error {
	if sig == 0 {
		return nil
	}
	p.mu.Lock()
	p.signals = append(p.signals, sig)
	ends := !p.ended && terminates(sig) && (sig == syscall.SIGKILL || !p.ignored[sig])
	p.mu.Unlock()
	if ends {
		p.end(proc.Exit{Pid: p.pid, Signal: sig})
	}
	return nil
}

// ExitWith ends the process with an exit status; false if it had already ended.
func (p *Process) ExitWith(status int) bool { return p.end(proc.Exit{Pid: p.pid, Status: status}) }

// KillWith ends the process as if sig killed it, without recording a signal; false if it had already ended.
func (p *Process) KillWith(sig syscall.Signal) bool { return p.end(proc.Exit{Pid: p.pid, Signal: sig}) }

// Stdout writes s to the process's Spec.Stdout (nothing when it is nil or the process ended).
func (p *Process) Stdout(s string) { p.write(p.spec.Stdout, s) }

// Stderr writes s to the process's Spec.Stderr (nothing when it is nil or the process ended).
func (p *Process) Stderr(s string) { p.write(p.spec.Stderr, s) }

func (p *Process) write(w io.Writer, s string) {
	if w == nil || !p.Running() {
		return
	}
	_, _ = io.WriteString(w, s)
}

func (p *Process) end(e proc.Exit) bool {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return false
	}
	p.ended, p.exit = true, e
	p.mu.Unlock()
	for _, w := range []io.Writer{p.spec.Stdout, p.spec.Stderr} {
		if f, ok := w.(interface{ Flush() error }); ok {
			_ = f.Flush()
		}
	}
	close(p.done)
	return true
}

// terminates reports whether a signal's default action ends a process.
func terminates(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGCHLD, syscall.SIGCONT, syscall.SIGURG, syscall.SIGWINCH,
		syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
		return false
	}
	return true
}
