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
	// Scenarios until every kind crashed (a phase lives a few virtual milliseconds, so its crash is the rarest),
	// within a bound that a kind no fault reaches cannot pass.
	const most = 300
	var seed uint64
	for seed = 1; seed <= most && !allSeen(seen, want); seed++ {
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
			t.Fatalf("in %d scenarios no crash of the %s (crashes: %v)", most, k, seen)
		}
	}
	t.Logf("crashes in %d scenarios: %v", seed-1, seen)
}

func allSeen(seen map[string]int, kinds []string) bool {
	for _, k := range kinds {
		if seen[k] == 0 {
			return false
		}
	}
	return true
}
