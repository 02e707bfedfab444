package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestHash_IsCanonicalAndReadable(t *testing.T) {
	a, err := Hash(map[string]json.RawMessage{"k1": raw(`{"ip":"1.2.3.4","seq":1}`)}, map[string]json.RawMessage{"ns.db": raw(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Hash(map[string]json.RawMessage{"k1": raw(`{ "seq": 1, "ip": "1.2.3.4" }`)}, map[string]json.RawMessage{"ns.db": raw(`{ }`)})
	if a != b {
		t.Fatalf("same content, different hashes: %s %s", a, b)
	}
	if !regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`).MatchString(a) {
		t.Fatalf("not the colon form: %s", a)
	}
	c, _ := Hash(map[string]json.RawMessage{"k1": raw(`{"ip":"1.2.3.5","seq":1}`)}, map[string]json.RawMessage{"ns.db": raw(`{}`)})
	d, _ := Hash(map[string]json.RawMessage{"k1": raw(`{"ip":"1.2.3.4","seq":1}`)}, nil)
	if c == a || d == a {
		t.Fatal("different content, same hash")
	}
}

func TestResolveDependencies(t *testing.T) {
	clusters := []string{"prod.db", "prod.db-a", "prod.db-b", "prod.web", "test.db", "prod.cache.x"}
	cases := []struct {
		deps []string
		want []string
	}{
		{[]string{"db"}, []string{"prod.db"}},
		{[]string{"/test.db"}, []string{"test.db"}},
		{[]string{"db-*"}, []string{"prod.db-a", "prod.db-b"}},
		{[]string{"/prod.*"}, []string{"prod.cache.x", "prod.db", "prod.db-a", "prod.db-b"}}, // never the own cluster
		{[]string{"nothing-*"}, []string{}},
		{[]string{"db?a"}, []string{"prod.db-a"}},
		{[]string{"db-?"}, []string{"prod.db-a", "prod.db-b"}},
		{[]string{"missing"}, []string{"prod.missing"}}, // named explicitly: a dependency even before it exists
		{[]string{"web", "db", "db"}, []string{"prod.db"}},
	}
	for _, c := range cases {
		got := ResolveDependencies("prod", "prod.web", c.deps, clusters)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.deps, got, c.want)
		}
	}
}

// DESIGN §11: the entries keep the names depends_on gives them; a wildcard's matches are merged under it.
func TestDeclaredDependencies_KeyedAsDeclared(t *testing.T) {
	clusters := []string{"prod.db", "prod.pbase-1", "prod.pbase-2", "prod.web", "test.db"}
	snaps := map[string]json.RawMessage{
		"prod.db":      raw(`{"d1":{"ip":"10.0.0.1"}}`),
		"prod.pbase-1": raw(`{"p1":{"ip":"10.0.1.1"}}`),
		"prod.pbase-2": raw(`{"p2":{"ip":"10.0.1.2"},"p3":{"ip":"10.0.1.3"}}`),
		"test.db":      raw(`{"t1":{"ip":"10.0.2.1"}}`),
	}
	got, err := DeclaredDependencies("prod", "prod.web", []string{"db", "/test.db", "pbase-*", " missing ", "web", "nothing-*", ""}, clusters, snaps)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"db":        `{"d1":{"ip":"10.0.0.1"}}`,
		"/test.db":  `{"t1":{"ip":"10.0.2.1"}}`,
		"pbase-*":   `{"p1":{"ip":"10.0.1.1"},"p2":{"ip":"10.0.1.2"},"p3":{"ip":"10.0.1.3"}}`,
		"missing":   `{}`, // named, not there yet: an empty entry, as the original keeps it
		"web":       `{}`, // the own cluster is never a dependency
		"nothing-*": `{}`,
	}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %v", keysOf(got), want)
	}
	for name, w := range want {
		if !jsonEqual(t, got[name], raw(w)) {
			t.Errorf("%q: %s, want %s", name, got[name], w)
		}
	}
	if _, err := DeclaredDependencies("prod", "prod.web", []string{"db"}, nil, map[string]json.RawMessage{"prod.db": raw(`[1]`)}); err != nil {
		t.Fatalf("one snapshot is passed as it is: %v", err)
	}
	if _, err := DeclaredDependencies("prod", "prod.web", []string{"pbase-*"}, clusters, map[string]json.RawMessage{"prod.pbase-1": raw(`[1]`)}); err == nil {
		t.Fatal("a wildcard merges objects: an array is an error")
	}
}

// Property against a naive oracle: every entry is there, and holds exactly the pods of the clusters that
// entry names (path.Match over the known clusters, own cluster left out).
func TestDeclaredDependencies_MatchesAnOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 17))
	names := []string{"a", "b", "ab", "a-1", "a-2", "b-1"}
	entries := []string{"a", "b", "a-*", "*", "?", "a?", "/x.a", "/x.*", "/y.b", "b-?"}
	for round := range 500 {
		var clusters []string
		snaps := map[string]json.RawMessage{}
		for _, ns := range []string{"x", "y"} {
			for _, n := range names {
				if rng.IntN(2) == 0 {
					continue
				}
				q := ns + "." + n
				clusters = append(clusters, q)
				snaps[q] = raw(fmt.Sprintf(`{"%s-pod":{"cluster":"%s"}}`, q, q))
			}
		}
		var dependsOn []string
		for range 1 + rng.IntN(4) {
			dependsOn = append(dependsOn, entries[rng.IntN(len(entries))])
		}
		got, err := DeclaredDependencies("x", "x.a", dependsOn, clusters, snaps)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range dependsOn {
			pattern := "x." + e
			if strings.HasPrefix(e, "/") {
				pattern = e[1:]
			}
			want := map[string]any{}
			for _, c := range clusters {
				if ok, _ := path.Match(pattern, c); ok && c != "x.a" {
					want[c+"-pod"] = map[string]any{"cluster": c}
				}
			}
			var have map[string]any
			if err := json.Unmarshal(got[e], &have); err != nil {
				t.Fatalf("round %d: %q: %v", round, e, err)
			}
			if !reflect.DeepEqual(have, want) {
				t.Fatalf("round %d, clusters %v, entry %q: %v, want %v", round, clusters, e, have, want)
			}
		}
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
