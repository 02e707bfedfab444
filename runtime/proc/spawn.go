package proc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Spawn starts a process as Spec says, in a process group of its own, killed by the kernel if Ochopod dies
// (Linux: parent-death signal SIGKILL). It returns once the program was executed; an error means no process
// runs. A program that cannot be found wraps exec.ErrNotFound. Spec.Env is the whole environment: nil gives the
// child an empty one (the PATH lookup then falls back to ours).
//
// Output: for a non-nil Spec.Stdout or Spec.Stderr the child writes into a pipe that a goroutine of this
// process copies to the writer until EOF (the process and every descendant holding the pipe have exited).
// Then, if the writer has a `Flush() error` method (LineWriter, bufio.Writer), it is flushed, so a last
// line without a newline is handed on. Writers are never closed: the caller owns them. A writer that fails
// stops receiving, and the pipe is drained so the child never blocks on it. A nil writer is /dev/null, and so
// is stdin.
func (r *Reaper) Spawn(spec Spec) (Process, error) {
	path, argv, err := command(spec)
	if err != nil {
		return nil, err
	}
	std, err := openStdio(spec)
	if err != nil {
		return nil, err
	}
	defer std.closeChildSide()

	r.mu.Lock()
	if r.state != reaperRunning {
		r.mu.Unlock()
		std.closeParentSide()
		return nil, ErrNotRunning
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: std.childFds(),
		Sys:   sysProcAttr(),
	})
	if err != nil {
		r.mu.Unlock()
		std.closeParentSide()
		if spec.Dir != "" {
			return nil, fmt.Errorf("proc: spawn %q in %q: %w", path, spec.Dir, err)
		}
		return nil, fmt.Errorf("proc: spawn %q: %w", path, err)
	}
	p := &process{pid: pid, done: make(chan struct{})}
	r.track(p) // under the lock taken before the fork: the reaper cannot have looked for this pid yet
	r.mu.Unlock()

	std.copy(r, pid, spec.Stdout, spec.Stderr)
	return p, nil
}

// command resolves what to execute: the shell with the joined argv, or argv[0] looked up in the PATH of the
// Spec's environment (ours when it has none).
func command(spec Spec) (path string, argv []string, err error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return "", nil, errors.New("proc: spawn: empty command")
	}
	if spec.Shell {
		return "/bin/sh", []string{"/bin/sh", "-c", strings.Join(spec.Argv, " ")}, nil
	}
	path, err = lookPath(spec.Argv[0], spec.Env, spec.Dir)
	if err != nil {
		return "", nil, err
	}
	return path, spec.Argv, nil
}

// lookPath finds file like a shell would. A name with a slash is taken as is (relative to dir, where the child
// starts); otherwise each absolute directory of PATH is tried in order. Relative PATH entries are skipped, as
// exec.LookPath refuses them too.
func lookPath(file string, env []string, dir string) (string, error) {
	if strings.Contains(file, "/") {
		check := file
		if !filepath.IsAbs(file) && dir != "" {
			check = filepath.Join(dir, file)
		}
		if err := executable(check); err != nil {
			return "", fmt.Errorf("proc: spawn %q: %w", file, err)
		}
		return file, nil
	}
	path := envValue(env, "PATH")
	if path == "" {
		path = os.Getenv("PATH")
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("proc: spawn %q: not in PATH %q: %w", file, path, exec.ErrNotFound)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %w", exec.ErrNotFound, err)
		}
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file: %w", p, fs.ErrPermission)
	}
	return nil
}

// envValue is the value of the last KEY=... of env, like getenv.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// stdio holds the three descriptors of a child being spawned: /dev/null or the write end of a pipe, and our
// read ends.
type stdio struct {
	child  [3]*os.File
	reads  [3]*os.File // reads[1], reads[2]: our ends of the stdout and stderr pipes, or nil
	shared *os.File    // /dev/null, shared by the slots that do not pipe
}

func openStdio(spec Spec) (*stdio, error) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("proc: spawn: %w", err)
	}
	s := &stdio{shared: null}
	s.child[0] = null
	for i, w := range []io.Writer{spec.Stdout, spec.Stderr} {
		slot := i + 1
		if w == nil {
			s.child[slot] = null
			continue
		}
		rd, wr, err := os.Pipe() // close-on-exec: other children do not inherit them
		if err != nil {
			s.closeChildSide()
			s.closeParentSide()
			return nil, fmt.Errorf("proc: spawn: pipe: %w", err)
		}
		s.child[slot], s.reads[slot] = wr, rd
	}
	return s, nil
}

// childFds are the descriptors the child gets as 0, 1, 2. Fd puts them in blocking mode, as the child expects.
func (s *stdio) childFds() []uintptr {
	return []uintptr{s.child[0].Fd(), s.child[1].Fd(), s.child[2].Fd()}
}

// closeChildSide closes our copies of what the child got: after the fork only the child holds the write ends,
// so EOF comes when it (and its descendants) exit.
func (s *stdio) closeChildSide() {
	for i, f := range s.child {
		if f != nil && f != s.shared {
			f.Close()
		}
		s.child[i] = nil
	}
	if s.shared != nil {
		s.shared.Close()
		s.shared = nil
	}
}

func (s *stdio) closeParentSide() {
	for i, f := range s.reads {
		if f != nil {
			f.Close()
			s.reads[i] = nil
		}
	}
}

// copy starts the copy goroutines; each owns its read end and closes it at EOF.
func (s *stdio) copy(r *Reaper, pid int, stdout, stderr io.Writer) {
	for i, w := range []io.Writer{nil, stdout, stderr} {
		if rd := s.reads[i]; rd != nil {
			s.reads[i] = nil
			go pump(r, pid, rd, w)
		}
	}
}

type flusher interface{ Flush() error }

// pump copies one pipe to its writer until EOF, then flushes the writer. It ends at EOF.
func pump(r *Reaper, pid int, rd *os.File, w io.Writer) {
	defer rd.Close()
	if _, err := io.Copy(w, rd); err != nil {
		r.log.Warn("process output lost: its writer failed", "pid", pid, "err", err)
		_, _ = io.Copy(io.Discard, rd)
	}
	if f, ok := w.(flusher); ok {
		if err := f.Flush(); err != nil {
			r.log.Warn("flushing process output", "pid", pid, "err", err)
		}
	}
}
