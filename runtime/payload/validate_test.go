package payload

import (
	"errors"
	"testing"
)

func TestValidate_Table(t *testing.T) {
	good := `{"ip":"10.0.0.7","public":"pod-7.example.com.","port":"8080","ports":{"8080":31002},"seq":3}`
	for _, tc := range []struct {
		name    string
		in      string
		nodeSeq int64
		ok      bool
	}{
		{"good, from its node", good, 3, true},
		{"good, re-registered later", good, 9, true},
		{"good, in a body", good, NoNode, true},
		{"ipv6", `{"ip":"::1","port":8080}`, 0, true},
		{"seq later than its node", good, 2, false},
		{"no ip from a node", `{"port":"8080"}`, 0, false},
		{"no port from a node", `{"ip":"10.0.0.1"}`, 0, false},
		{"nothing in a body", `{}`, NoNode, true},
		{"empty public", `{"ip":"10.0.0.1","public":"","port":1}`, 0, true},
		{"shell in ip", `{"ip":"10.9.9.9\"; touch pwned; echo \"","port":"8080"}`, NoNode, false},
		{"space in public", `{"public":"a b"}`, NoNode, false},
		{"zone", `{"ip":"fe80::1%eth0"}`, NoNode, false},
		{"ip not a string", `{"ip":7}`, NoNode, false},
		{"label too long", `{"ip":"` + string(make63('a')) + `a.com"}`, NoNode, false},
		{"hyphen first", `{"ip":"-a.com"}`, NoNode, false},
		{"port 0", `{"port":0}`, NoNode, false},
		{"port 65536", `{"port":"65536"}`, NoNode, false},
		{"port text", `{"port":"http"}`, NoNode, false},
		{"negative host port", `{"seq":"abc","ports":{"x":-1}}`, NoNode, false},
		{"ports not an object", `{"ports":[1]}`, NoNode, false},
		{"host port fraction", `{"ports":{"80":80.5}}`, NoNode, false},
		{"seq text", `{"seq":"abc"}`, NoNode, false},
		{"seq negative", `{"seq":-1}`, NoNode, false},
		{"seq as a numeric string", `{"seq":"4"}`, NoNode, true},
		{"unknown keys are free", `{"custom":"$(rm -rf /)","ip":"a.b"}`, NoNode, true},
	} {
		p, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = Validate(p, tc.nodeSeq)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", tc.name, err)
		}
	}
}

func make63(c byte) []byte {
	b := make([]byte, 63)
	for i := range b {
		b[i] = c
	}
	return b
}

// FuzzParseValidate: whatever bytes a node or a body holds, Parse and Validate answer without panicking, and
// a payload Validate accepts holds only what DESIGN §12 allows in its named keys.
func FuzzParseValidate(f *testing.F) {
	for _, s := range []string{
		`{"ip":"10.0.0.7","public":"pod.example.com","port":"8080","ports":{"8080":31002},"seq":3}`,
		`{"seq":"abc","ports":{"x":-1}}`, `{"ip":"10.9.9.9\"; touch pwned; echo \""}`, `{"ports":{"1":1e300}}`,
		`{"port":"-0"}`, `{"seq":9223372036854775808}`, `null`, `[]`, `{"ip":"` + "\xff" + `"}`,
	} {
		f.Add([]byte(s), int64(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, nodeSeq int64) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		if Validate(p, nodeSeq) != nil {
			return
		}
		for _, key := range []string{KeyIP, KeyPublic} {
			if s, ok := p[key].(string); ok && s != "" && !Host(s) {
				t.Fatalf("%s %q passed", key, s)
			}
		}
		for k, v := range p.Ports() {
			if v < 1 || v > 65535 {
				t.Fatalf("ports[%s] = %d passed", k, v)
			}
		}
		if seq, ok := p.Seq(); ok && (seq < 0 || nodeSeq >= 0 && seq > nodeSeq) {
			t.Fatalf("seq %d passed (node %d)", seq, nodeSeq)
		}
	})
}
