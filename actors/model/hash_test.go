package model

import (
	"encoding/json"
	"reflect"
	"regexp"
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
