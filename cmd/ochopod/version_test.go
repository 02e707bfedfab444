package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/version"
)

// --version, -v and the version command print the same line; the bare command prints its help.
func TestVersion_FlagAndCommandPrintOneLine(t *testing.T) {
	want := "ochopod " + version.Get().String() + "\n"
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		var out bytes.Buffer
		root := newRootCommand()
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil || out.String() != want {
			t.Errorf("%v: %q, %v; want %q", args, out.String(), err, want)
		}
	}
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetArgs([]string{})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands:") {
		t.Errorf("bare: %q, %v", out.String(), err)
	}
}
