package fakeproc_test

import (
	"errors"
	"reflect"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/proc"
	"github.com/ochopod/ochopod/testkit/fakeproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestFakeproc_SignalsEndOrAreIgnored(t *testing.T) {
	tests := []struct {
		name   string
		ignore []syscall.Signal
		send   []syscall.Signal
		exit   proc.Exit // the zero Exit: still running
	}{
		{"term ends", nil, []syscall.Signal{syscall.SIGTERM}, proc.Exit{Pid: 1000, Signal: syscall.SIGTERM}},
		{"term ignored", []syscall.Signal{syscall.SIGTERM}, []syscall.Signal{syscall.SIGTERM}, proc.Exit{}},
		{"kill cannot be ignored", []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, proc.Exit{Pid: 1000, Signal: syscall.SIGKILL}},
		{"harmless signals", nil, []syscall.Signal{syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGSTOP, syscall.SIGCONT}, proc.Exit{}},
		{"only the first ending counts", nil, []syscall.Signal{syscall.SIGINT, syscall.SIGKILL}, proc.Exit{Pid: 1000, Signal: syscall.SIGINT}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakeproc.New()
			s.IgnoreSignals(tt.ignore...)
			pp, err := s.Spawn(proc.Spec{Argv: []string{"x"}})
			if err != nil {
				t.Fatal(err)
			}
			p := pp.(*fakeproc.Process)
			for _, sig := range tt.send {
				if err := p.Signal(sig); err != nil {
					t.Fatal(err)
				}
			}
			p.Signal(0)
			if got := p.Exit(); got != tt.exit {
				t.Fatalf("exit %+v, want %+v", got, tt.exit)
			}
			if closed(p.Done()) != (tt.exit != proc.Exit{}) || p.Running() != (tt.exit == proc.Exit{}) {
				t.Fatalf("done %v running %v", closed(p.Done()), p.Running())
			}
			if !reflect.DeepEqual(p.Signals(), tt.send) {
				t.Fatalf("signals %v, want %v", p.Signals(), tt.send)
			}
		})
	}
}

func TestFakeproc_ExitOnDemand(t *testing.T) {
	s := fakeproc.New()
	a, _ := s.Spawn(proc.Spec{Argv: []string{"a"}})
	b, _ := s.Spawn(proc.Spec{Argv: []string{"b"}})
	if a.Pid() != fakeproc.FirstPid || b.Pid() != fakeproc.FirstPid+1 || s.Last() != b {
		t.Fatalf("pids %d %d", a.Pid(), b.Pid())
	}
	pa := a.(*fakeproc.Process)
	if !pa.ExitWith(3) || pa.ExitWith(4) || pa.KillWith(syscall.SIGKILL) {
		t.Fatal("a process ended twice")
	}
	if got := a.Exit(); got.Code() != 3 || !closed(a.Done()) {
		t.Fatalf("exit %+v", got)
	}
	b.(*fakeproc.Process).KillWith(syscall.SIGSEGV)
	if got := b.Exit(); got.Code() != 128+int(syscall.SIGSEGV) {
		t.Fatalf("exit %+v", got)
	}
	if len(s.Running()) != 0 || len(s.Processes()) != 2 {
		t.Fatalf("running %d of %d", len(s.Running()), len(s.Processes()))
	}
}

func TestFakeproc_SpawnFailures(t *testing.T) {
	s := fakeproc.New()
	boom := errors.New("boom")
	s.FailNext(boom)
	if _, err := s.Spawn(proc.Spec{Argv: []string{"x"}}); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if _, err := s.Spawn(proc.Spec{}); err == nil {
		t.Fatal("empty argv spawned")
	}
	if _, err := s.Spawn(proc.Spec{Argv: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if s.Last().Pid() != fakeproc.FirstPid {
		t.Fatal("a failed spawn used a pid")
	}
}

func TestFakeproc_OutputIsFlushedAtExit(t *testing.T) {
	var got []string
	w := proc.NewLineWriter(func(l string) { got = append(got, l) })
	s := fakeproc.New()
	pp, _ := s.Spawn(proc.Spec{Argv: []string{"x"}, Stdout: w})
	p := pp.(*fakeproc.Process)
	p.Stdout("one\ntw")
	p.Stderr("dropped: no writer\n")
	p.Stdout("o")
	p.ExitWith(0)
	p.Stdout("after the end\n")
	if want := []string{"one", "two"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
}

func TestFakeproc_OnSpawnCanEndTheProcessAtOnce(t *testing.T) {
	s := fakeproc.New()
	s.OnSpawn(func(p *fakeproc.Process) { p.ExitWith(7) })
	p, err := s.Spawn(proc.Spec{Argv: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if !closed(p.Done()) || p.Exit().Status != 7 {
		t.Fatalf("exit %+v", p.Exit())
	}
	if env := s.Last().Spec().Argv; !reflect.DeepEqual(env, []string{"x"}) {
		t.Fatalf("spec %v", env)
	}
}
