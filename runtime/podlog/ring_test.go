package podlog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestRing_SplitsLinesAndHoldsPartials(t *testing.T) {
	r := NewRing(1024)
	fmt.Fprint(r, "one\ntw")
	fmt.Fprint(r, "o\nthree")
	if got := r.Lines(); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Fatalf("lines %q", got)
	}
	fmt.Fprint(r, "\n")
	if got := r.Lines(); !reflect.DeepEqual(got, []string{"one", "two", "three"}) {
		t.Fatalf("lines %q", got)
	}
}

func TestRing_KeepsTheMostRecentWithinBudget(t *testing.T) {
	r := NewRing(100)
	for i := 0; i < 1000; i++ {
		r.Add(fmt.Sprintf("line %04d", i)) // 10 bytes with the newline
	}
	got := r.Lines()
	if len(got) != 10 || got[len(got)-1] != "line 0999" || got[0] != "line 0990" {
		t.Fatalf("kept %d lines: %q", len(got), got)
	}
}

func TestRing_CutsARunawayLine(t *testing.T) {
	r := NewRing(16)
	fmt.Fprint(r, strings.Repeat("x", 100))
	got := r.Lines()
	if len(got) != 1 || len(got[0]) > 16 {
		t.Fatalf("lines %q", got)
	}
}
