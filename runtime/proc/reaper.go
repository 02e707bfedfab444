package proc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// ErrNotRunning is returned by Spawn when the reaper is not started or already stopped: nobody would reap the
// child, so it is not started.
var ErrNotRunning = errors.New("proc: reaper not running")

// Reaper is the real Spawner and the program's only waiter for children.
//
// Ownership: the reaper owns one goroutine, started by Start and ended by Close or by the cancellation of
// Start's context. That goroutine alone calls wait4(-1, WNOHANG), after every SIGCHLD and once when it starts
// and once when it stops, looping until no exited child is left. Each status goes to the tracked Process of
// that pid (its Done closes); a status of a pid that is not tracked (an orphan re-parented to us because we
// are PID 1 or a child subreaper) is reaped and dropped.
//
// Spawn/reap race: Spawn holds the reaper's lock from before the fork until the new pid is tracked, and the
// reaper holds the same lock from its wait4 call until it has looked the pid up. A child that exits before
// Spawn returns is therefore still routed to its Process, and a reaped orphan's pid can never be mistaken for
// a child forked in between.
//
// One per program: two reapers would steal each other's statuses, and so would exec.Cmd.Wait or os.Process.Wait
// anywhere in the program. Tests of a package share one reaper (TestMain).
//
// Each spawned process also owns up to two goroutines copying its stdout and stderr pipes; they end at EOF,
// when the process and every descendant holding the pipe have exited. Processes still running when the reaper
// stops are no longer reaped by it and their Done never closes: stop the reaper after the sub-process.
type Reaper struct {
	log *slog.Logger

	mu      sync.Mutex
	state   int // reaperNew, reaperRunning, reaperStopped
	tracked map[int]*process
	cancel  context.CancelFunc
	done    chan struct{} // closed when the goroutine ended
}

const (
	reaperNew = iota
	reaperRunning
	reaperStopped
)

var _ Spawner = (*Reaper)(nil)

// NewReaper returns a reaper that is not running yet; call Start. A nil log discards.
func NewReaper(log *slog.Logger) *Reaper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reaper{log: log.With("actor", "reaper"), tracked: map[int]*process{}, done: make(chan struct{})}
}

// Start subscribes to SIGCHLD, reaps what already exited and starts the reaper goroutine, which runs until ctx
// is done or Close is called. It returns at once; a reaper starts only once.
func (r *Reaper) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != reaperNew {
		return errors.New("proc: reaper already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD) // before the first drain: an exit after it raises a signal we see
	r.state, r.cancel = reaperRunning, cancel
	go r.loop(ctx, sigs)
	return nil
}

// Close stops the reaper goroutine and waits for it to end. It reaps once more on the way out. Safe to call
// more than once, and before Start.
func (r *Reaper) Close() error {
	r.mu.Lock()
	switch r.state {
	case reaperNew:
		r.state = reaperStopped
		close(r.done)
		r.mu.Unlock()
		return nil
	case reaperRunning:
		r.cancel()
	}
	r.mu.Unlock()
	<-r.done
	return nil
}

func (r *Reaper) loop(ctx context.Context, sigs chan os.Signal) {
	defer close(r.done)
	r.reap()
	for {
		select {
		case <-sigs:
			r.reap()
		case <-ctx.Done():
			signal.Stop(sigs)
			r.mu.Lock()
			r.state = reaperStopped
			r.mu.Unlock()
			r.reap()
			r.mu.Lock()
			if n := len(r.tracked); n > 0 {
				r.log.Warn("reaper stopped with processes still running: they will not be reaped", "count", n)
			}
			r.mu.Unlock()
			return
		}
	}
}

// reap collects every exited child, one wait4 at a time, until none is left.
func (r *Reaper) reap() {
	for {
		var ws syscall.WaitStatus
		r.mu.Lock()
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			r.mu.Unlock()
			continue
		}
		if err != nil || pid <= 0 { // ECHILD: no child at all; 0: none exited
			r.mu.Unlock()
			return
		}
		p := r.tracked[pid]
		delete(r.tracked, pid)
		r.mu.Unlock()
		exit := exitOf(pid, ws)
		if p == nil {
			r.log.Debug("reaped an orphan", "pid", pid, "code", exit.Code())
			continue
		}
		r.log.Debug("reaped", "pid", pid, "code", exit.Code())
		p.finish(exit)
	}
}

func exitOf(pid int, ws syscall.WaitStatus) Exit {
	if ws.Signaled() {
		return Exit{Pid: pid, Signal: ws.Signal()}
	}
	return Exit{Pid: pid, Status: ws.ExitStatus()}
}

// track registers a forked child; the caller holds r.mu.
func (r *Reaper) track(p *process) { r.tracked[p.pid] = p }

// process is a child started by the reaper.
type process struct {
	pid  int
	done chan struct{}
	exit Exit // written once, before done closes
}

func (p *process) Pid() int              { return p.pid }
func (p *process) Done() <-chan struct{} { return p.done }

// Exit is how the process ended; the zero Exit before Done is closed.
func (p *process) Exit() Exit {
	select {
	case <-p.done:
		return p.exit
	default:
		return Exit{}
	}
}

// Signal sends sig to the process group. It still reaches the group's remaining members after the leader
// exited; a group with no member left is not an error.
func (p *process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("proc: signal %v to group %d: %w", sig, p.pid, err)
	}
	return nil
}

func (p *process) finish(e Exit) {
	p.exit = e
	close(p.done)
}
