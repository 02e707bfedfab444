package proc_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/proc"
)

// DESIGN §12: a real spawn whose environment string is over the kernel's 128 KiB fails with E2BIG, which
// LackOfResources tells from a missing program (that one is the configuration's fault).
func TestLackOfResources_TellsE2BIGFromAMissingProgram(t *testing.T) {
	_, err := reaper.Spawn(proc.Spec{Argv: []string{"true"}, Env: []string{"OCHOPOD_PODS=" + strings.Repeat("x", 130<<10)}})
	if err == nil || !proc.LackOfResources(err) {
		t.Fatalf("a 130 KiB variable: %v, want an E2BIG that LackOfResources tells", err)
	}
	_, err = reaper.Spawn(proc.Spec{Argv: []string{"/no/such/program"}})
	if err == nil || proc.LackOfResources(err) || !errors.Is(err, exec.ErrNotFound) && !strings.Contains(fmt.Sprint(err), "no such file") {
		t.Fatalf("a missing program: %v, want an error LackOfResources does not take", err)
	}
}
