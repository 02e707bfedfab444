package delta

import (
	"bytes"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

// Parts joined are Body, whole or delta, and keep nothing (DESIGN §12: the leader holds its cluster once).
func TestBodies_PartsJoinedAreTheBody(t *testing.T) {
	tr := NewTracker()
	pods := map[string]payload.Payload{
		"a":    {"ip": "10.0.0.1", "seq": int64(1), KeyProtocol: int64(Protocol)},
		"b\"x": {"ip": "10.0.0.2", "seq": int64(2)},
	}
	check := func(b *Bodies, wantDelta bool) {
		t.Helper()
		for key := range pods {
			parts, isDelta, err := b.Parts(key)
			if err != nil {
				t.Fatal(err)
			}
			body, bodyDelta, err := b.Body(key)
			if err != nil || !bytes.Equal(bytes.Join(parts, nil), body) || isDelta != bodyDelta {
				t.Fatalf("%s: parts %q (delta %v), body %q (delta %v)", key, parts, isDelta, body, bodyDelta)
			}
			if key == "a" && isDelta != wantDelta {
				t.Fatalf("%s: delta %v, want %v", key, isDelta, wantDelta)
			}
		}
	}
	b, err := tr.Bodies(pods, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(b, false)
	b.Accepted("a")
	pods["c"] = payload.Payload{"ip": "10.0.0.3", "seq": int64(3)}
	if b, err = tr.Bodies(pods, nil); err != nil {
		t.Fatal(err)
	}
	check(b, true)
}
