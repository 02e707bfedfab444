package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

const wire = `{
  "key": "k2",
  "pods": {
    "k3": {"ip": "10.0.0.3", "public": "1.1.1.3", "port": "8080", "ports": {"8080": 31003, "2181": 32003}, "seq": 7},
    "k1": {"ip": "10.0.0.1", "public": "1.1.1.1", "port": "8080", "ports": {"8080": 31001, "2181": 32001}, "seq": 3},
    "k2": {"ip": "10.0.0.2", "public": "1.1.1.2", "port": "8080", "ports": {"8080": 31002}, "seq": 5}
  },
  "dependencies": {
    "db": {"d1": {"ip": "10.1.0.1", "ports": {"5432": 5432}}}
  }
}`

func TestParseCluster_IndexSizeSeqAndOrder(t *testing.T) {
	c, err := ParseCluster([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "k2" || c.Index != 1 || c.Size != 3 || c.Seq != 5 || c.Self().Key != "k2" {
		t.Fatalf("%+v", c)
	}
	var keys []string
	for _, p := range c.Pods {
		keys = append(keys, p.Key)
	}
	if !reflect.DeepEqual(keys, []string{"k1", "k2", "k3"}) {
		t.Fatalf("order %v", keys)
	}
}

func TestParseCluster_RejectsBadBodies(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"pods": {}}`, `{"key": "x", "pods": {"y": {}}}`, `{"key": 1}`,
		`{"key": "x", "pods": {"x": {}, "y": 5}}`, `{"key": "x", "pods": {"x": []}}`, `{"key": "x", "pods": {"x": {}}, "dependencies": {"d": 1}}`,
		`{"key": "x", "pods": {"x": {}}, "dependencies": {"d": {"y": 5}}}`, `{"key": "x", "pods": {"x": {}}, "dependencies": {"d": {"y": []}}}`,
		`{"key": "x", "pods": {"x": {}}} trailing`} {
		if _, err := ParseCluster([]byte(body)); err == nil {
			t.Errorf("accepted %q", body)
		}
	}
}

func TestCluster_Grep(t *testing.T) {
	c, _ := ParseCluster([]byte(wire))
	if got := c.Grep("", 2181, false); !reflect.DeepEqual(got, []string{"10.0.0.1:32001", "10.0.0.3:32003"}) {
		t.Fatalf("own cluster: %v", got)
	}
	if got := c.Grep("", 8080, true); !reflect.DeepEqual(got, []string{"1.1.1.1:31001", "1.1.1.2:31002", "1.1.1.3:31003"}) {
		t.Fatalf("public: %v", got)
	}
	if got := c.Grep("db", 5432, false); !reflect.DeepEqual(got, []string{"10.1.0.1:5432"}) {
		t.Fatalf("dependency: %v", got)
	}
	if got := c.Grep("prod.nothing", 5432, false); len(got) != 0 {
		t.Fatalf("unknown dependency: %v", got)
	}
}

// DESIGN §11: dependencies are keyed as depends_on declares them; a wildcard's entry holds every match's
// pods, and one cluster among them is found by the names in its pods' payloads.
func TestCluster_DependencyAsDeclaredOrByCluster(t *testing.T) {
	c, err := ParseCluster([]byte(`{"key": "w1",
	  "pods": {"w1": {"namespace": "prod", "cluster": "web", "ip": "10.0.0.1"}},
	  "dependencies": {
	    "pbase-*": {
	      "p2": {"namespace": "prod", "cluster": "pbase-2", "ip": "10.2.0.2", "ports": {"80": 30002}},
	      "p1": {"namespace": "prod", "cluster": "pbase-1", "ip": "10.2.0.1", "ports": {"80": 30001}},
	      "p3": {"namespace": "prod", "cluster": "pbase-1", "ip": "10.2.0.3", "ports": {"80": 30003}}},
	    "/test.db": {"t1": {"namespace": "test", "cluster": "db", "ip": "10.3.0.1", "ports": {"80": 30004}}},
	    "cache": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	keys := func(pods []Pod) string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Key)
		}
		return strings.Join(out, ",")
	}
	for name, want := range map[string]string{
		"pbase-*":       "p1,p2,p3", // the entry as declared: every match, merged, by key
		"/test.db":      "t1",
		"cache":         "",      // declared, no pod
		"pbase-1":       "p1,p3", // one match, in this pod's namespace
		"prod.pbase-2":  "p2",    // qualified, as this SDK keyed dependencies before
		"/prod.pbase-1": "p1,p3",
		"test.db":       "t1",
		"db":            "", // prod.db is not among them
		"nothing":       "",
	} {
		if got := keys(c.Dependency(name)); got != want {
			t.Errorf("Dependency(%q) = %q, want %q", name, got, want)
		}
	}
	if got := c.Grep("pbase-*", 80, false); !reflect.DeepEqual(got, []string{"10.2.0.1:30001", "10.2.0.2:30002", "10.2.0.3:30003"}) {
		t.Errorf("grep of the wildcard: %v", got)
	}
	env, err := ClusterEnv(c)
	if err != nil {
		t.Fatal(err)
	}
	var deps map[string][]map[string]any
	if err := json.Unmarshal([]byte(env["OCHOPOD_DEPENDENCIES"]), &deps); err != nil {
		t.Fatal(err)
	}
	if len(deps) != 3 || len(deps["pbase-*"]) != 3 || len(deps["/test.db"]) != 1 || deps["cache"] == nil {
		t.Errorf("OCHOPOD_DEPENDENCIES = %s, want the three entries as declared", env["OCHOPOD_DEPENDENCIES"])
	}
}

func TestExec_RunsTheCommand(t *testing.T) {
	c, _ := ParseCluster([]byte(wire))
	cmd, err := Exec{Argv: []string{"server", "--flag"}}.Configure(context.Background(), c)
	if err != nil || !reflect.DeepEqual(cmd.Argv, []string{"server", "--flag"}) || len(cmd.Env) != 0 {
		t.Fatalf("%+v, %v", cmd, err) // the runtime adds ClusterEnv to every start
	}
	if cmd, err := (Exec{Argv: []string{"server"}}).Configure(context.Background(), nil); err != nil || cmd.Argv[0] != "server" {
		t.Fatalf("a ClusterBlind lifecycle gets no cluster: %+v, %v", cmd, err)
	}
	if _, err := (Exec{}).Configure(context.Background(), c); err == nil {
		t.Fatal("no command, no error")
	}
}

func TestClusterEnv(t *testing.T) {
	c, _ := ParseCluster([]byte(wire))
	env, err := ClusterEnv(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := Command{Env: env}
	if cmd.Env["OCHOPOD_KEY"] != "k2" || cmd.Env["OCHOPOD_SEQ"] != "5" || cmd.Env["OCHOPOD_INDEX"] != "1" || cmd.Env["OCHOPOD_SIZE"] != "3" {
		t.Fatalf("env %v", cmd.Env)
	}
	var pods []map[string]any
	if err := json.Unmarshal([]byte(cmd.Env["OCHOPOD_PODS"]), &pods); err != nil || len(pods) != 3 || pods[0]["key"] != "k1" || pods[0]["ip"] != "10.0.0.1" {
		t.Fatalf("OCHOPOD_PODS %s (%v)", cmd.Env["OCHOPOD_PODS"], err)
	}
	var deps map[string][]map[string]any
	if err := json.Unmarshal([]byte(cmd.Env["OCHOPOD_DEPENDENCIES"]), &deps); err != nil || len(deps["db"]) != 1 || deps["db"][0]["key"] != "d1" {
		t.Fatalf("OCHOPOD_DEPENDENCIES %s (%v)", cmd.Env["OCHOPOD_DEPENDENCIES"], err)
	}
	if cmd, err := (Exec{Argv: []string{"server"}}).Configure(context.Background(), nil); err != nil || cmd.Argv[0] != "server" {
		t.Fatalf("a ClusterBlind lifecycle gets no cluster: %+v, %v", cmd, err)
	}
	if _, err := (Exec{}).Configure(context.Background(), c); err == nil {
		t.Fatal("no command accepted")
	}
}

func TestEnvelope_ParsesPayloadsOnceAndHandsOutCopies(t *testing.T) {
	e, err := OpenEnvelope([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	if e.Key() != "k2" || !reflect.DeepEqual(e.DependencyNames(), []string{"db"}) {
		t.Fatalf("key %q, dependencies %v", e.Key(), e.DependencyNames())
	}
	a, err := e.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	a.Pods[0].Payload["ip"] = "changed"
	b, _ := e.Cluster()
	if b.Pods[0].Payload.String("ip") != "10.0.0.1" || b.Index != 1 || b.Size != 3 || b.Seq != 5 {
		t.Fatalf("second copy %+v", b)
	}
	if withNull, err := OpenEnvelope([]byte(`{"key": "a", "pods": {"a": null}}`)); err != nil {
		t.Fatal(err)
	} else if c, err := withNull.Cluster(); err != nil || c.Self().Payload == nil {
		t.Fatalf("a null payload: %v, %+v", err, c)
	}
}

// An envelope holds nothing of the body it was opened from: the control server reads the next request into
// the same buffer.
func TestEnvelope_KeepsNothingOfItsBody(t *testing.T) {
	body := []byte(wire)
	e, err := OpenEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	want := e.Environ()
	copy(body, bytes.Repeat([]byte(" "), len(body)))
	if got := e.Environ(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the environment changed with the body's buffer:\n%q\nwas\n%q", got, want)
	}
	if c, err := e.Cluster(); err != nil || c.Self().Payload.String("ip") != "10.0.0.2" {
		t.Fatalf("cluster after the body's buffer changed: %v, %+v", err, c)
	}
}

func TestEnvelope_SameDependencies(t *testing.T) {
	open := func(deps string) *Envelope {
		e, err := OpenEnvelope([]byte(`{"key": "a", "pods": {"a": {}}, "dependencies": ` + deps + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	one := `{"ns.db": {"d1": {"ip": "10.0.0.1", "seq": 1}, "d2": {"seq": 2, "ip": "10.0.0.2"}}}`
	reordered := `{"ns.db": {"d2": {"ip": "10.0.0.2", "seq": 2}, "d1": {"seq": 1, "ip": "10.0.0.1"}}}`
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{one, reordered, true}, // another leader's key order
		{`{}`, `null`, true},
		{one, `{"ns.db": {"d1": {"ip": "10.0.0.1", "seq": 1}}}`, false},
		{one, `{"ns.db": {"d1": {"ip": "10.0.0.9", "seq": 1}, "d2": {"seq": 2, "ip": "10.0.0.2"}}}`, false},
		{`{"ns.db": null}`, `{}`, false},
	} {
		if got := open(tc.a).SameDependencies(open(tc.b)); got != tc.same {
			t.Errorf("%s vs %s: same = %v", tc.a, tc.b, got)
		}
	}
	if open(one).SameDependencies(nil) {
		t.Error("the same dependencies as no configuration at all")
	}
}

// Env splices the payloads as the leader sent them; it says what ClusterEnv says of the parsed cluster: the
// same text for a leader writing compact JSON with sorted keys (ours), the same values for any other.
func TestEnvelopeEnv_IsClusterEnv(t *testing.T) {
	var w Wire
	if err := json.Unmarshal([]byte(wire), &w); err != nil {
		t.Fatal(err)
	}
	w.Pods["k1"]["key"] = "not-k1" // a payload with a key of its own: ours wins
	w.Pods["k3"] = nil
	canonical, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		body     string
		sameText bool
	}{
		{"our leader", string(canonical), true},
		{"another leader", wire, false},
	} {
		e, err := OpenEnvelope([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Env()
		if err != nil {
			t.Fatal(err)
		}
		c, _ := e.Cluster()
		want, err := ClusterEnv(c)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if tc.sameText && got[k] != v {
				t.Errorf("%s: %s = %s, want %s", tc.name, k, got[k], v)
			}
			var a, b any
			if json.Unmarshal([]byte(got[k]), &a) != nil || json.Unmarshal([]byte(v), &b) != nil {
				a, b = got[k], v // not JSON: compare the text
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s: %s = %s, want the values of %s", tc.name, k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d variables, want %d", tc.name, len(got), len(want))
		}
	}
}

func TestEnvelopeEnviron_SortedLines(t *testing.T) {
	e, err := OpenEnvelope([]byte(wire))
	if err != nil {
		t.Fatal(err)
	}
	lines := e.Environ()
	want := []string{"OCHOPOD_DEPENDENCIES=", "OCHOPOD_INDEX=1", "OCHOPOD_KEY=k2", "OCHOPOD_PODS=", "OCHOPOD_SEQ=5", "OCHOPOD_SIZE=3"}
	if len(lines) != len(want) {
		t.Fatalf("%q", lines)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) {
			t.Fatalf("line %d %q, want %q...", i, l, want[i])
		}
	}
	var pods []map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[3], "OCHOPOD_PODS=")), &pods); err != nil || len(pods) != 3 || pods[1]["key"] != "k2" || pods[1]["ip"] != "10.0.0.2" {
		t.Fatalf("OCHOPOD_PODS: %v (%v)", pods, err)
	}
}

// Whatever a caller sends, OpenEnvelope answers an envelope or an error, never a panic; what it accepts,
// ParseCluster and Env accept too.
func FuzzOpenEnvelope(f *testing.F) {
	for _, seed := range []string{wire, `{"key":"a","pods":{"a":null}}`, `{"key":"a","pods":{"a":{}},"dependencies":{"d":{"x":{"key":"y"}}}}`,
		`{"key":"a","pods":{"a":[]}}`, `{"key":"a","pods":{"a": {} }}`, `null`, ``, `{"key":"a","pods":{"a":{"seq":1e400}}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := OpenEnvelope(body)
		if err != nil {
			return
		}
		if _, err := e.Env(); err != nil {
			t.Logf("env: %v", err) // a payload encoding/json cannot hold (1e400): an error, not a panic
		}
		c, err := e.Cluster()
		if err != nil {
			return
		}
		if c.Self().Key != e.Key() {
			t.Fatalf("self %q, key %q", c.Self().Key, e.Key())
		}
		for _, p := range c.Pods { // DESIGN §12: what opens is valid
			if err := payload.Validate(p.Payload, payload.NoNode); err != nil {
				t.Fatalf("pod %q opened but is invalid: %v", p.Key, err)
			}
		}
	})
}

func TestOpenEnvelope_TellsNotJSONFromNotACluster(t *testing.T) {
	for body, notJSON := range map[string]bool{
		`{"pods":`: true, `{"pods":{}} x`: true, `garbage`: true,
		`[]`: false, `{"pods": {}}`: false, `{"key": "x", "pods": {"x": 5}}`: false,
	} {
		_, err := OpenEnvelope([]byte(body))
		if err == nil || errors.Is(err, ErrNotJSON) != notJSON {
			t.Errorf("%q: %v, want an error that is ErrNotJSON: %v", body, err, notJSON)
		}
	}
}

// parseEntry reads a dependency's entry as encoding/json reads it into map[string]payload.Payload: members
// made by decodePayload (not segmentio's own, room for 64) hold the same values, nulls included.
func TestParseEntry_ReadsAsEncodingJSONDoes(t *testing.T) {
	for _, raw := range []string{
		`null`, `{}`, `{"x": null}`,
		`{"x": {"ip": "10.0.0.1", "seq": 3, "ports": {"8080": 20000}}, "y": {"seq": 4.5, "tags": ["a", 1, null], "on": true}}`,
		`{"x": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": 10, "k": 11, "l": 12,
		  "m": 13, "n": 14, "o": 15, "p": 16, "q": 17, "r": 18}}`,
	} {
		var want map[string]payload.Payload
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := parseEntry([]byte(raw))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, %v; want %#v", raw, got, err, want)
		}
	}
	for _, raw := range []string{`[]`, `{"x": []}`, `{"x": "y"}`, `{"x": {"a": }}`} {
		if got, err := parseEntry([]byte(raw)); err == nil {
			t.Errorf("%s: got %#v, no error", raw, got)
		}
	}
}
