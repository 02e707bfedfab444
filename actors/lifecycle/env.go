package lifecycle

import (
	"maps"
	"slices"
	"strings"
)

// environ builds a process's environment: base, then extra (the runtime's variables), then overrides
// (configure's), a later value replacing an earlier one in place. Overrides go in key order, so the result is
// the same for the same inputs.
func environ(base, extra []string, overrides map[string]string) []string {
	out := make([]string, 0, len(base)+len(extra)+len(overrides))
	at := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
			return
		}
		at[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range base {
		set(kv)
	}
	for _, kv := range extra {
		set(kv)
	}
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		set(k + "=" + overrides[k])
	}
	return out
}
