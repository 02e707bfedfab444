// Package transcript replays transcript tests (testdata/<name>/*.txt): each line that does not start with
// a space is an input, the indented lines under it are what the machine answered. A test fails when the
// machine answers otherwise; `go test -run <Test> -rewrite` writes the machine's answers instead (then
// read the diff). Lines starting with # are comments and are kept.
package transcript

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the testdata transcripts with the machines' output")

// Step answers one input line, split into fields, with the lines of its effects.
type Step func(fields []string) ([]string, error)

// Test replays every dir/*.txt, each with a fresh Step from newStep.
func Test(t *testing.T, dir string, newStep func() Step) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Replay(string(raw), newStep())
			if err != nil {
				t.Fatal(err)
			}
			if *rewrite {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(raw) {
				t.Errorf("%s differs (go test -run %s -rewrite, then read the diff):\n%s", f, t.Name(), got)
			}
		})
	}
}

// Replay runs a transcript's inputs through step and returns it with the effects under each.
func Replay(text string, step Step) (string, error) {
	var out strings.Builder
	for n, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.HasPrefix(line, " ") {
			continue // an expected effect: made again below
		}
		out.WriteString(line + "\n")
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		effects, err := step(f)
		if err != nil {
			return "", fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
		for _, e := range effects {
			out.WriteString("  " + e + "\n")
		}
	}
	return out.String(), nil
}

// Generation is latest unless args start with #<n> (a late answer of an older generation or incarnation);
// it returns the args after that.
func Generation(args []string, latest uint64) (uint64, []string, error) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "#") {
		return latest, args, nil
	}
	n, err := strconv.ParseUint(args[0][1:], 10, 64)
	return n, args[1:], err
}

// First is n of an optional first=<n> (where a restarted machine's generations start), 0 without it.
func First(args []string) (uint64, error) {
	if len(args) == 0 {
		return 0, nil
	}
	return strconv.ParseUint(strings.TrimPrefix(args[0], "first="), 10, 64)
}
