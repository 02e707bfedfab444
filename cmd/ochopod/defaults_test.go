package main

import (
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// --check-start: one --check-every by default (README: why), a spec's check_start next, the flag first; the
// original's behaviour stays reachable with 0. --checks defaults to 3.
func TestSettings_CheckStartAndChecksDefaults(t *testing.T) {
	spec := writeSpec(t, "command: [sleep, \"1\"]\ncheck_start: 0s\n")
	for _, c := range []struct {
		name  string
		args  []string
		start time.Duration
	}{
		{"default: one --check-every", []string{"--check-every", "7s"}, 7 * time.Second},
		{"the spec's", []string{"--check-every", "7s", "--spec", spec}, 0},
		{"the flag over the spec", []string{"--check-every", "7s", "--spec", spec, "--check-start", "2s"}, 2 * time.Second},
		{"the original's", []string{"--check-start", "0", "--checks", "1"}, 0},
	} {
		s := &runSettings{}
		cmd := &cobra.Command{}
		s.register(cmd.Flags())
		if err := cmd.Flags().Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if err := s.loadSpec(cmd.Flags(), nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.validate(nil); err != nil {
			t.Fatal(err)
		}
		if s.checkStart != c.start {
			t.Errorf("%s: check start %s, want %s", c.name, s.checkStart, c.start)
		}
		if want := map[bool]int{true: 1, false: defaultChecks}[c.name == "the original's"]; s.checks != want {
			t.Errorf("%s: checks %d, want %d", c.name, s.checks, want)
		}
	}
}
