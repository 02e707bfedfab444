package payload

import (
	"testing"
)

func TestParse_RejectsWhatIsNotAnObject(t *testing.T) {
	for _, in := range []string{"", "null", "[]", "42", `"x"`, "{", `{"a":1} {}`, "\x00\xff"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) accepted garbage", in)
		}
	}
}

func TestParse_KeepsUnknownKeysAndIntegers(t *testing.T) {
	p, err := Parse([]byte(`{"seq": 12, "ports": {"8080": 31002}, "custom": {"deep": [1, 2.5]}, "port": "8080"}`))
	if err != nil {
		t.Fatal(err)
	}
	if seq, ok := p.Seq(); !ok || seq != 12 {
		t.Fatalf("seq = %v %v", seq, ok)
	}
	if got := p.Ports()["8080"]; got != 31002 {
		t.Fatalf("ports[8080] = %d", got)
	}
	if p.String(KeyPort) != "8080" {
		t.Fatalf("port = %q", p.String(KeyPort))
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"custom":{"deep":[1,2.5]},"port":"8080","ports":{"8080":31002},"seq":12}`
	if string(b) != want {
		t.Fatalf("round trip:\n got %s\nwant %s", b, want)
	}
}

func TestWith_DoesNotMutateTheOriginal(t *testing.T) {
	p := Payload{"a": "1"}
	q := p.With(KeySeq, int64(3))
	if _, ok := p[KeySeq]; ok {
		t.Fatal("With mutated its receiver")
	}
	if seq, _ := q.Seq(); seq != 3 {
		t.Fatalf("seq = %d", seq)
	}
}

func TestDeepClone_SharesNothingMutable(t *testing.T) {
	p, err := Parse([]byte(`{"ports":{"8080":20000},"tags":["a",{"b":1}],"ip":"10.0.0.1","n":null}`))
	if err != nil {
		t.Fatal(err)
	}
	q := p.DeepClone()
	q["ports"].(map[string]any)["8080"] = int64(1)
	q["tags"].([]any)[0] = "z"
	q["tags"].([]any)[1].(map[string]any)["b"] = "changed"
	q["ip"] = "changed"
	want := `{"ip":"10.0.0.1","n":null,"ports":{"8080":20000},"tags":["a",{"b":1}]}`
	if got, _ := p.Marshal(); string(got) != want {
		t.Fatalf("the original changed with its clone: %s", got)
	}
	if Payload(nil).DeepClone() != nil {
		t.Fatal("a nil payload cloned to a non-nil one")
	}
}
