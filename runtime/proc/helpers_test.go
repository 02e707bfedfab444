package proc_test

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/proc"
)

const waitLong = 10 * time.Second

// stat is what /proc/<pid>/stat says of a process; ok is false once it is gone (reaped).
type stat struct {
	state      byte
	ppid, pgid int
	ok         bool
}

func procStat(pid int) stat {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(s) {
		return stat{}
	}
	f := strings.Fields(s[i+2:]) // state ppid pgrp ...
	if len(f) < 3 {
		return stat{}
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return stat{state: f[0][0], ppid: ppid, pgid: pgid, ok: true}
}

// groupMembers lists the processes of a group, zombies included.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st := procStat(pid); st.ok && st.pgid == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes (integration tests only).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func spawn(t testing.TB, spec proc.Spec) proc.Process {
	t.Helper()
	p, err := reaper.Spawn(spec)
	if err != nil {
		t.Fatalf("spawn %q: %v", spec.Argv, err)
	}
	return p
}

func waitExit(t testing.TB, p proc.Process) proc.Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(waitLong):
		t.Fatalf("pid %d did not exit", p.Pid())
		return proc.Exit{}
	}
}

// killAtEnd makes sure a test leaves no process behind, even when it fails half-way.
func killAtEnd(t testing.TB, p proc.Process) {
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		select {
		case <-p.Done():
		case <-time.After(waitLong):
			t.Errorf("pid %d survived SIGKILL", p.Pid())
		}
	})
}

// lines collects what a LineWriter hands on.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}
