package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes what the tests leave behind: the binary buildBinary built (about 20 MB a run).
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		_ = os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}
