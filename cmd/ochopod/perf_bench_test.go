package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchPerf records the CPU of the processes pids (perf record -g, user and kernel stacks, wall-clock
// timestamps) from now until stop, into $OCHOPOD_BENCH_PERF/<name>.data, when OCHOPOD_BENCH_PERF names a
// directory: the profiles of the pods during the scale benchmark's rounds (a join: all of them, the leader
// included; a hand-over: all but the leader that leaves), for `perf report -i`. stop writes
// the phase's window (from the leader's log) into <name>.window, "<began> <ended>" in Unix nanoseconds, so
// that the samples of the phase alone can be told apart (`perf script -F time`). Without it, stop does nothing.
func benchPerf(b *testing.B, name string, pids ...int) (stop func(phase [2]time.Time)) {
	dir := os.Getenv("OCHOPOD_BENCH_PERF")
	if dir == "" || len(pids) == 0 {
		return func([2]time.Time) {}
	}
	list := make([]string, len(pids))
	for i, p := range pids {
		list[i] = strconv.Itoa(p)
	}
	cmd := exec.Command("perf", "record", "-q", "-F", "4000", "-g", "-k", "CLOCK_REALTIME", "-o", filepath.Join(dir, name+".data"), "-p", strings.Join(list, ","))
	if err := cmd.Start(); err != nil {
		b.Fatalf("perf record: %v", err)
	}
	// perf gives no sign that it is attached; it takes ~100 ms to. A diagnostic's set-up, not a wait for the
	// benchmark's condition: the figures of a profiled run are not the benchmark's anyway.
	time.Sleep(500 * time.Millisecond)
	return func(phase [2]time.Time) {
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			fmt.Printf("perf record %s: %v\n", name, err)
		}
		window := fmt.Sprintf("%d %d\n", phase[0].UnixNano(), phase[1].UnixNano())
		if err := os.WriteFile(filepath.Join(dir, name+".window"), []byte(window), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
