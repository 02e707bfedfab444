package delta

import (
	"math/rand/v2"
	"testing"
)

func TestSum_AddThenSubIsIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var a, b Sum
		for i := range a {
			a[i], b[i] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if got := a.Add(b).Sub(b); got != a {
			t.Fatalf("(%s + %s) - b = %s", a, b, got)
		}
		if a.Add(b) != b.Add(a) {
			t.Fatalf("addition does not commute for %s, %s", a, b)
		}
	}
}

func TestSum_CarriesAcrossBytes(t *testing.T) {
	var max, one Sum
	for i := range max {
		max[i] = 0xff
	}
	one[len(one)-1] = 1
	if got := max.Add(one); got != (Sum{}) {
		t.Fatalf("2^256-1 + 1 = %s, want 0", got)
	}
	if got := (Sum{}).Sub(one); got != max {
		t.Fatalf("0 - 1 = %s, want 2^256-1", got)
	}
}

func TestOf_IgnoresOrderAndTellsKindsAndNamesApart(t *testing.T) {
	pods := map[string][]byte{"a": []byte(`{"x":1}`), "b": []byte(`{"x":2}`)}
	want := Entry(KindPod, "a", pods["a"]).Add(Entry(KindPod, "b", pods["b"]))
	if got := Of(pods, map[string][]byte(nil)); got != want {
		t.Fatalf("Of = %s, want %s", got, want)
	}
	if Entry(KindPod, "a", []byte("{}")) == Entry(KindDependency, "a", []byte("{}")) {
		t.Fatal("a pod and a dependency of the same name and bytes sum alike")
	}
	if Entry(KindPod, "ab", []byte("c")) == Entry(KindPod, "a", []byte("bc")) {
		t.Fatal("moving bytes from the name to the value keeps the digest")
	}
}

func TestParseSum_RoundTripsAndRejectsBadText(t *testing.T) {
	s := Entry(KindPod, "k", []byte("{}"))
	got, err := ParseSum(s.String())
	if err != nil || got != s {
		t.Fatalf("ParseSum(%s) = %s, %v", s, got, err)
	}
	for _, bad := range []string{"", "00", s.String() + "0", "zz" + s.String()[2:]} {
		if _, err := ParseSum(bad); err == nil {
			t.Errorf("ParseSum(%q) accepted", bad)
		}
	}
}
