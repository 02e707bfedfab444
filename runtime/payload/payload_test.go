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
