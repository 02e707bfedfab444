package sdk

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// entries against a map, the naive oracle: what is packed and updated reads back member for member, in name
// order, and two tables are equal exactly when their maps are.
func TestEntries_AreTheirMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomMap := func() map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for range rng.IntN(40) {
			name := fmt.Sprintf("k%d", rng.IntN(60))
			if rng.IntN(8) == 0 {
				name = string(make([]byte, 130+rng.IntN(200))) // lengths of two varint bytes
			}
			m[name] = json.RawMessage(fmt.Sprintf(`{"v":%d}`, rng.IntN(1000)))
		}
		return m
	}
	check := func(t entries, want map[string]json.RawMessage) error {
		if t.Len() != len(want) {
			return fmt.Errorf("%d members, want %d", t.Len(), len(want))
		}
		var names []string
		for name, v := range t.all() {
			names = append(names, name)
			if string(v) != string(want[name]) {
				return fmt.Errorf("%q = %s, want %s", name, v, want[name])
			}
			if got, ok := t.get(name); !ok || string(got) != string(v) {
				return fmt.Errorf("get %q = %s, %v", name, got, ok)
			}
		}
		if !slices.IsSorted(names) {
			return fmt.Errorf("not in name order: %q", names)
		}
		if _, ok := t.get("absent"); ok {
			return fmt.Errorf("found a member never set")
		}
		return nil
	}
	for i := range 300 {
		base := randomMap()
		tb, err := entriesOf(base)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(tb, base); err != nil {
			t.Fatalf("case %d, packed: %v", i, err)
		}
		set, want := randomMap(), maps.Clone(base)
		var drop []string
		for name := range base {
			if rng.IntN(3) == 0 {
				drop = append(drop, name)
				delete(want, name)
			}
		}
		drop = append(drop, "absent")
		maps.Copy(want, set)
		updated, err := tb.update(set, drop)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(updated, want); err != nil {
			t.Fatalf("case %d, updated: %v", i, err)
		}
		if err := check(tb, base); err != nil {
			t.Fatalf("case %d, the base changed with its update: %v", i, err)
		}
		if tb.equal(updated) != maps.EqualFunc(base, want, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Fatalf("case %d: equal = %v", i, tb.equal(updated))
		}
	}
}
