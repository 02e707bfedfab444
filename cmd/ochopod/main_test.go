package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests with a temporary directory of their own (TMPDIR, inherited by every pod they
// start) and removes it at the end: the binary buildBinary builds (about 20 MB), and the cluster files of
// pods the tests SIGKILL, which no pod is left to remove.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ochopod-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temporary directory:", err)
		os.Exit(1)
	}
	if err := os.Setenv("TMPDIR", dir); err != nil {
		fmt.Fprintln(os.Stderr, "TMPDIR:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "removing the temporary directory:", err)
	}
	os.Exit(code)
}
