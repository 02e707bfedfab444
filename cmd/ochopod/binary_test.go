package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary reaches no method lookup by name (reflect.Value.MethodByName or Method with a computed name,
// text/template's Execute and html/template among them): the linker would keep every exported method of
// every type put in an interface, 2.2 MB of the binary and ~2 MB of every pod's RSS (runtime/tmpl).
func TestBinary_NoMethodLookupByName(t *testing.T) {
	if testing.Short() {
		t.Skip("links the binary")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -dumpdep", "-o", filepath.Join(t.TempDir(), "ochopod"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	deps, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var found []string
	sc := bufio.NewScanner(deps)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "<ReflectMethod>") && len(found) < 5 {
			found = append(found, line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	if len(found) > 0 {
		t.Fatalf("the linker keeps every exported method, because of:\n%s", strings.Join(found, "\n"))
	}
}
