package spec

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/proc"
)

// Runtime is what a spec needs from the program to run its hooks, probe and tools, and to render.
type Runtime struct {
	// Spawner starts every process (the program's one reaper: nothing here waits for a child itself).
	Spawner proc.Spawner
	// Env is the pod's environment, KEY=VALUE: the base of the hooks' and tools' environment, and .Env and
	// env in templates.
	Env []string
	// Dir is the working directory of the hooks and tools, and the base of relative template paths: the
	// process's cwd setting; "" for Ochopod's own.
	Dir string
	// Argv, when not empty, replaces the spec's command, as is (not a template): `ochopod run -- command`.
	Argv []string
	// Clock times the hooks out; nil: the wall clock.
	Clock clock.Clock
	// Logger receives the hooks' standard error, at debug level; nil discards.
	Logger *slog.Logger
}

func (rt Runtime) clock() clock.Clock {
	if rt.Clock == nil {
		return clock.Real{}
	}
	return rt.Clock
}

func (rt Runtime) logger() *slog.Logger {
	if rt.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rt.Logger
}

// maxOutput caps what is kept of a hook's or tool's output; the rest is read and dropped.
const maxOutput = 1 << 20

// outputWait bounds the wait for a process's output after it exited: a descendant that left the process's
// group (a daemon) may hold the pipe open for ever; what came by then is used.
const outputWait = time.Second

// killWait bounds the wait for the reaper's report after a SIGKILL.
const killWait = 5 * time.Second

// wait reports whether done closed within d.
func wait(c clock.Clock, done <-chan struct{}, d time.Duration) bool {
	expired, stop := deadline(c, d)
	defer stop()
	select {
	case <-done:
		return true
	case <-expired:
		return false
	}
}

// deadline is a channel closed d from now; stop releases the timer.
func deadline(c clock.Clock, d time.Duration) (<-chan struct{}, func()) {
	expired := make(chan struct{})
	t := c.AfterFunc(d, func() { close(expired) })
	return expired, func() { t.Stop() }
}

// outcome is how a process run by run ended.
type outcome struct {
	exit     proc.Exit
	stdout   []byte
	stderr   []byte
	timedOut bool // killed because of the timeout (or the context)
}

// run spawns spec and waits until the process exits, killing its group with SIGKILL when timeout passes or ctx
// is done first. It returns once the process is reaped and its output copied (waiting at most outputWait for
// the copy after the exit). The process is never waited for here: the spawner's reaper does that, and
// closes Done.
func run(ctx context.Context, rt Runtime, spec proc.Spec, timeout time.Duration) (outcome, error) {
	out, errs := &buffer{}, &buffer{}
	stdout, stderr := &stream{buf: out, eof: make(chan struct{})}, &stream{buf: errs, eof: make(chan struct{})}
	spec.Stdout, spec.Stderr = stdout, stderr
	p, err := rt.Spawner.Spawn(spec)
	if err != nil {
		return outcome{}, err
	}
	expired, stop := deadline(rt.clock(), timeout)
	defer stop()

	var o outcome
	select {
	case <-p.Done():
	case <-expired:
		o.timedOut = true
	case <-ctx.Done():
		o.timedOut = true
	}
	if o.timedOut {
		if err := p.Signal(syscall.SIGKILL); err != nil {
			return outcome{}, err
		}
		// SIGKILL cannot be caught: the reaper reports the exit at once, unless it stopped (the program ends).
		if !wait(rt.clock(), p.Done(), killWait) {
			return outcome{}, fmt.Errorf("pid %d was not reaped %s after SIGKILL", p.Pid(), killWait)
		}
	}
	o.exit = p.Exit()

	copied, stopCopy := deadline(rt.clock(), outputWait)
	defer stopCopy()
	for _, s := range []*stream{stdout, stderr} {
		select {
		case <-s.eof:
		case <-copied:
		}
	}
	o.stdout, o.stderr = out.bytes(), errs.bytes()
	return o, nil
}

// failure describes a process that did not succeed, for an error: how it ended and its last words.
func (o outcome) failure(timeout time.Duration) string {
	why := fmt.Sprintf("exit status %d", o.exit.Code())
	if o.timedOut {
		why = fmt.Sprintf("killed after its timeout (%s)", timeout)
	}
	if last := lastLine(o.stderr); last != "" {
		why += ": " + last
	}
	return why
}

// lastLine is the last line of output that is not blank.
func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\r\n\t "), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// lines splits output into lines without their endings; no output is no line.
func lines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// buffer keeps up to maxOutput bytes; the pipes' copy goroutines write into it concurrently with its reader.
type buffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	cut bool
}

func (b *buffer) write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.b.Len(); room < len(p) {
		p, b.cut = p[:max(room, 0)], true
	}
	b.b.Write(p)
}

func (b *buffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// stream is one pipe's writer: the spawner flushes it once at EOF, which tells run the output is complete.
type stream struct {
	buf  *buffer
	eof  chan struct{}
	once sync.Once
}

func (s *stream) Write(p []byte) (int, error) {
	s.buf.write(p)
	return len(p), nil // never fails, or the spawner would stop copying and the EOF would not be seen
}

// Flush is called by the spawner's copy once the pipe reached EOF.
func (s *stream) Flush() error {
	s.once.Do(func() { close(s.eof) })
	return nil
}
