package proc_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ochopod/ochopod/runtime/proc"
)

func TestReaper_ReportsTheExitStatus(t *testing.T) {
	p := spawn(t, proc.Spec{Argv: []string{"exit 3"}, Shell: true})
	got := waitExit(t, p)
	if want := (proc.Exit{Pid: p.Pid(), Status: 3}); got != want || got.Code() != 3 {
		t.Fatalf("exit %+v (code %d), want %+v", got, got.Code(), want)
	}
}

func TestReaper_ReportsASignalDeathAs128PlusN(t *testing.T) {
	tests := []struct {
		name string
		spec proc.Spec
		send syscall.Signal // 0: the process kills itself
		sig  syscall.Signal
	}{
		{"terminated", proc.Spec{Argv: []string{"sleep", "100"}}, syscall.SIGTERM, syscall.SIGTERM},
		{"killed", proc.Spec{Argv: []string{"sleep", "100"}}, syscall.SIGKILL, syscall.SIGKILL},
		{"kills itself", proc.Spec{Argv: []string{"kill -9 $$"}, Shell: true}, 0, syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := spawn(t, tt.spec)
			if tt.send != 0 {
				if err := p.Signal(tt.send); err != nil {
					t.Fatal(err)
				}
			}
			got := waitExit(t, p)
			if got.Signal != tt.sig || got.Status != 0 || got.Code() != 128+int(tt.sig) {
				t.Fatalf("exit %+v code %d, want signal %d code %d", got, got.Code(), tt.sig, 128+int(tt.sig))
			}
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("signalling an exited process: %v", err)
			}
		})
	}
}

func TestReaper_LeavesNoZombie(t *testing.T) {
	p := spawn(t, proc.Spec{Argv: []string{"true"}})
	waitExit(t, p)
	if st := procStat(p.Pid()); st.ok && st.ppid == os.Getpid() {
		t.Fatalf("pid %d still ours in state %c", p.Pid(), st.state)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(p.Pid(), &ws, syscall.WNOHANG, nil); !errors.Is(err, syscall.ECHILD) {
		t.Fatalf("wait4(%d) = %v, want ECHILD (already reaped)", p.Pid(), err)
	}
}

// A child that exits before Spawn has tracked it must still be routed to its Process (the spawn/reap race).
func TestReaper_ImmediateExitsAreNotLost(t *testing.T) {
	const n = 200
	procs := make([]proc.Process, 0, n)
	for range n {
		procs = append(procs, spawn(t, proc.Spec{Argv: []string{"true"}}))
	}
	for _, p := range procs {
		if got := waitExit(t, p); got.Code() != 0 || got.Pid != p.Pid() {
			t.Fatalf("exit %+v of pid %d", got, p.Pid())
		}
	}
}

func TestReaper_ConcurrentSpawnsAreNotLost(t *testing.T) {
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				p, err := reaper.Spawn(proc.Spec{Argv: []string{"exit " + strconv.Itoa((w+i)%7)}, Shell: true})
				if err != nil {
					errs <- err
					return
				}
				<-p.Done()
				if got := p.Exit().Status; got != (w+i)%7 {
					errs <- errors.New("wrong status " + strconv.Itoa(got))
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestReaper_SignalReachesTheWholeGroup(t *testing.T) {
	p := spawn(t, proc.Spec{Argv: []string{"sleep 100 & sleep 100; wait"}, Shell: true})
	killAtEnd(t, p)
	eventually(t, "the shell and both sleeps in the group", func() bool { return len(groupMembers(p.Pid())) == 3 })
	members := groupMembers(p.Pid())
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := waitExit(t, p); got.Signal != syscall.SIGKILL {
		t.Fatalf("shell exit %+v", got)
	}
	// The sleeps die too and, re-parented to this subreaper, are reaped: not even a zombie is left.
	eventually(t, "no member of the group left", func() bool { return len(groupMembers(p.Pid())) == 0 })
	for _, pid := range members {
		if st := procStat(pid); st.ok {
			t.Fatalf("pid %d of the group still there in state %c", pid, st.state)
		}
	}
}

func TestReaper_ReapsOrphansAsSubreaper(t *testing.T) {
	var out lines
	p := spawn(t, proc.Spec{Argv: []string{"sleep 100 & echo $!"}, Shell: true, Stdout: proc.NewLineWriter(out.add)})
	defer func() { _ = p.Signal(syscall.SIGKILL) }() // the orphan is in the shell's group
	waitExit(t, p)
	eventually(t, "the orphan's pid", func() bool { return len(out.all()) == 1 })
	orphan, err := strconv.Atoi(out.all()[0])
	if err != nil {
		t.Fatal(err)
	}
	if st := procStat(orphan); !st.ok || st.ppid != os.Getpid() {
		t.Fatalf("orphan %d: %+v, want re-parented to %d", orphan, st, os.Getpid())
	}
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the orphan reaped", func() bool { return !procStat(orphan).ok })
}

func TestReaper_LooksUpTheSpecsPath(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hello-ochopod")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"hi $WHO from $(pwd)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	var out lines
	p := spawn(t, proc.Spec{
		Argv:   []string{"hello-ochopod"},
		Env:    []string{"PATH=/nonexistent:relative:" + dir, "WHO=pod"},
		Dir:    work,
		Stdout: proc.NewLineWriter(out.add),
	})
	if got := waitExit(t, p); got.Code() != 0 {
		t.Fatalf("exit %+v", got)
	}
	eventually(t, "the script's line", func() bool { return len(out.all()) == 1 })
	if want := "hi pod from " + work; out.all()[0] != want {
		t.Fatalf("got %q, want %q", out.all()[0], want)
	}
	// Without PATH in the spec's environment, ours is used.
	waitExit(t, spawn(t, proc.Spec{Argv: []string{"true"}, Env: []string{"A=1"}}))
}

func TestReaper_MissingProgramIsAClearError(t *testing.T) {
	tests := []struct {
		name string
		spec proc.Spec
		want string
	}{
		{"not in path", proc.Spec{Argv: []string{"no-such-program-ochopod"}, Env: []string{"PATH=/bin:/usr/bin"}}, `"no-such-program-ochopod": not in PATH "/bin:/usr/bin"`},
		{"no such file", proc.Spec{Argv: []string{"/nonexistent/prog"}}, `"/nonexistent/prog"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := reaper.Spawn(tt.spec)
			if err == nil {
				<-p.Done()
				t.Fatal("spawned a missing program")
			}
			if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want exec.ErrNotFound mentioning %s", err, tt.want)
			}
		})
	}
}

func TestReaper_RefusesBadSpecs(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec proc.Spec
		want string
	}{
		{"empty", proc.Spec{}, "empty command"},
		{"not executable", proc.Spec{Argv: []string{plain}}, "not an executable"},
		{"a directory", proc.Spec{Argv: []string{"/bin"}}, "not an executable"},
		{"missing dir", proc.Spec{Argv: []string{"/bin/sh"}, Dir: "/nonexistent"}, `in "/nonexistent"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := reaper.Spawn(tt.spec)
			if err == nil {
				<-p.Done()
				t.Fatal("spawned")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestReaper_OutputArrivesLineByLine(t *testing.T) {
	var out, errs lines
	p := spawn(t, proc.Spec{
		Argv:   []string{`printf 'one\ntwo\r\nthree'; echo oops >&2; echo "$GREETING"`},
		Shell:  true,
		Env:    []string{"GREETING=hello"},
		Stdout: proc.NewLineWriter(out.add),
		Stderr: proc.NewLineWriter(errs.add),
	})
	waitExit(t, p)
	eventually(t, "every line", func() bool { return len(out.all()) == 3 && len(errs.all()) == 1 })
	if want := []string{"one", "two", "threehello"}; !reflect.DeepEqual(out.all(), want) {
		t.Fatalf("stdout %q, want %q", out.all(), want)
	}
	if want := []string{"oops"}; !reflect.DeepEqual(errs.all(), want) {
		t.Fatalf("stderr %q, want %q", errs.all(), want)
	}
}

func TestReaper_FlushesTheLastPartialLineAtEOF(t *testing.T) {
	var out lines
	p := spawn(t, proc.Spec{Argv: []string{"printf", "no newline"}, Stdout: proc.NewLineWriter(out.add)})
	waitExit(t, p)
	eventually(t, "the partial line", func() bool { return len(out.all()) == 1 })
	if out.all()[0] != "no newline" {
		t.Fatalf("got %q", out.all())
	}
}

// errWriter fails every write: the child must not block on a full pipe because of it.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestReaper_AFailingWriterDoesNotBlockTheChild(t *testing.T) {
	p := spawn(t, proc.Spec{Argv: []string{"head -c 1000000 /dev/zero"}, Shell: true, Stdout: errWriter{}})
	if got := waitExit(t, p); got.Code() != 0 {
		t.Fatalf("exit %+v", got)
	}
}

func TestReaper_SpawnNeedsARunningReaper(t *testing.T) {
	r := proc.NewReaper(nil) // never started: it does not touch SIGCHLD, so it cannot disturb the shared one
	if _, err := r.Spawn(proc.Spec{Argv: []string{"true"}}); !errors.Is(err, proc.ErrNotRunning) {
		t.Fatalf("spawn on a new reaper: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("a closed reaper started")
	}
	if _, err := r.Spawn(proc.Spec{Argv: []string{"true"}}); !errors.Is(err, proc.ErrNotRunning) {
		t.Fatalf("spawn on a closed reaper: %v", err)
	}
}
