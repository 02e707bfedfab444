package sdk

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// referenceCanonical is the canonical form by definition (Hash's doc): the payload decoded into an any and
// written again by encoding/json, or its bytes as a string when it does not decode.
func referenceCanonical(raw []byte) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		v = string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// referenceHash is Hash as every earlier version computed it.
func referenceHash(pods, deps map[string]json.RawMessage) string {
	decode := func(m map[string]json.RawMessage) map[string]any {
		out := map[string]any{}
		for k, raw := range m {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				v = string(raw)
			}
			out[k] = v
		}
		return out
	}
	b, err := json.Marshal(map[string]any{"pods": decode(pods), "dependencies": decode(deps)})
	if err != nil {
		panic(err)
	}
	var out []string
	for _, x := range md5.Sum(b) {
		out = append(out, fmt.Sprintf("%02x", x))
	}
	return strings.Join(out, ":")
}

// Payloads where a shortcut could part from encoding/json: escapes, HTML characters, separators, invalid
// UTF-8, duplicate keys, numbers at float64's edges and past them, nesting, what is not JSON at all.
var canonicalSeeds = []string{
	`{"ip":"10.0.0.1","port":"8080","seq":3,"ports":{"8080":20001},"protocol":2}`,
	`{ "seq" : 1 , "ip" : "1.2.3.4" }`,
	`{"b":1,"a":2,"c":{"z":[1,2,{"y":null,"x":true}],"a":false}}`,
	`{"a":1,"a":2}`, `{"a":{"x":1},"b":0,"a":[3]}`, `{"a":1e999,"a":2}`, `{"a":2,"a":1e999}`,
	`{"\u0061":1,"a":2}`, `{"a\u0000b":1,"a":2,"ab":3}`,
	`"<script>&amp;</script>"`, `"caf\u00e9 ☃ \ud83d\ude00"`, `"\ud800 lone"`, "\"\xff\xfe bad\"", "\"\u2028\u2029\"",
	`"tab\there \"quoted\" back\\slash \/ \b\f\n\r"`, "\"\x7f\"", `"\u001f"`, "\"ok\xe2\x80\xa8\"",
	`0`, `-0`, `-0.0`, `1.0`, `1.5e3`, `1E3`, `123456789012345`, `1234567890123456`, `12345678901234567890`,
	`9007199254740993`, `1e21`, `1e20`, `0.000001`, `0.0000001`, `1e-7`, `5e-324`, `1e-400`, `1e308`, `1e309`,
	`-1.7976931348623157e308`, `[1, 2.50, -3e-2, 4E+2]`, `[]`, `{}`, `[[],[{}]]`, ` true `, `false`, `null`,
	`{"a":`, `not json`, ``, `{"a":1}}`, "{\"a\":1}\n", `[1,2`, `"unterminated`, `01`,
	strings.Repeat(`[`, 300) + strings.Repeat(`]`, 300),
	strings.Repeat(`{"b":1,"a":`, 200) + `0` + strings.Repeat(`}`, 200),
}

func TestAppendCanonical_IsWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range canonicalSeeds {
		got, want := appendCanonical(nil, []byte(s)), referenceCanonical([]byte(s))
		if string(got) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestHash_IsTheHashOfTheDecodedCluster(t *testing.T) {
	pods := map[string]json.RawMessage{}
	for i, s := range canonicalSeeds {
		pods[fmt.Sprintf("key-%02d", i)] = json.RawMessage(s)
	}
	pods["<odd\u2028key>"] = json.RawMessage(`{}`)
	pods["bad\xffkey"] = json.RawMessage(`{}`)
	deps := map[string]json.RawMessage{"db": json.RawMessage(`{"k":{"ip":"10.0.0.2"}}`), "/prod.*": nil}
	for _, c := range []struct {
		name       string
		pods, deps map[string]json.RawMessage
	}{{"nothing", nil, nil}, {"pods", pods, nil}, {"both", pods, deps}, {"deps", nil, deps}} {
		got, err := Hash(c.pods, c.deps)
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceHash(c.pods, c.deps); got != want {
			t.Errorf("%s: %s, want %s", c.name, got, want)
		}
	}
}

func FuzzAppendCanonical(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := appendCanonical(nil, raw), referenceCanonical(raw); string(got) != string(want) {
			t.Fatalf("%q:\n got %s\nwant %s", raw, got, want)
		}
	})
}

// BenchmarkHash is the hash of a cluster as the leader computes it after each read and every pod after each
// configuration, against the decoding it replaced.
// Run: go test -run '^$' -bench Hash -benchmem ./runtime/sdk/
func BenchmarkHash(b *testing.B) {
	for _, way := range []struct {
		name string
		hash func(pods, deps map[string]json.RawMessage)
	}{
		{"canonical", func(pods, deps map[string]json.RawMessage) { _, _ = Hash(pods, deps) }},
		{"decoding", func(pods, deps map[string]json.RawMessage) { referenceHash(pods, deps) }},
	} {
		for _, n := range []int{10, 50, 200, 3700} { // 3 700 pods: a 1 MiB body
			e, err := OpenEnvelope(wireOf(n))
			if err != nil {
				b.Fatal(err)
			}
			pods := map[string]json.RawMessage{}
			for k, raw := range e.pods.all() {
				pods[k] = raw
			}
			b.Run(fmt.Sprintf("%s/pods=%d", way.name, n), func(b *testing.B) {
				for b.Loop() {
					way.hash(pods, nil)
				}
			})
		}
	}
}
