package main

import (
	"runtime"
	"testing"
)

func TestTuneRuntime_OneThreadUnlessTheOperatorChose(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	tuneRuntime(func(name string) string {
		if name == "GOMAXPROCS" {
			return "2"
		}
		return ""
	})
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("GOMAXPROCS set by the operator: got %d, want it left at 2", got)
	}
	tuneRuntime(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Fatalf("GOMAXPROCS unset: got %d, want 1", got)
	}
}
