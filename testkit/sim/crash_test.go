package sim

import (
	"regexp"
	"strings"
	"testing"
)

// Crashes reach every actor of a pod's tree (issue #14: the crash fault picked the session and what is below
// it only), each followed at once by the decision of the supervisor it states.
func TestSim_CrashesReachEveryActorOfThePod(t *testing.T) {
	decided := regexp.MustCompile(` ([a-z]+)#\d+(\.\d+)? crash restart in `)
	want := []string{"executor", "leader", "lifecycle", "model", "phase", "root", "session", "watchers"}
	seen := map[string]int{}
	for seed := uint64(1); seed <= 60; seed++ {
		res, err := Run(seed, Options{KeepTrace: true})
		if err != nil {
			t.Fatalf("%v\n%s", err, res.Report())
		}
		for i, line := range res.Trace {
			if strings.Contains(line, " fault crash ") && (i+1 >= len(res.Trace) || !decided.MatchString(res.Trace[i+1])) {
				t.Fatalf("seed %d: %q not followed by its supervisor's decision", seed, line)
			}
			if m := decided.FindStringSubmatch(line); m != nil {
				seen[m[1]]++
			}
		}
	}
	for _, k := range want {
		if seen[k] == 0 {
			t.Fatalf("in 60 scenarios no crash of the %s (crashes: %v)", k, seen)
		}
	}
	t.Logf("crashes in 60 scenarios: %v", seen)
}
