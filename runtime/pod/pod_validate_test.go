package pod

import (
	"errors"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

// A program whose pod no leader would configure hears it from Start (DESIGN §12), not from a silent cluster.
func TestPod_OwnPayloadIsValidatedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    payload.Payload
		ok   bool
	}{
		{"complete", payload.Payload{"ip": "127.0.0.1", "port": "8080", "ports": map[string]any{"8080": 31002}}, true},
		{"a seq given is the session's to write", payload.Payload{"ip": "10.0.0.7", "port": 8080, "seq": 12}, true},
		{"no port", payload.Payload{"ip": "127.0.0.1"}, false},
		{"no ip", payload.Payload{"port": "8080"}, false},
		{"a port out of range", payload.Payload{"ip": "127.0.0.1", "port": "8080", "ports": map[string]any{"8080": 70000}}, false},
		{"an ip that is a shell command", payload.Payload{"ip": `1.2.3.4"; touch pwned`, "port": "8080"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validOwnPayload(tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("validOwnPayload(%v) = %v, want ok=%v", tc.p, err, tc.ok)
			}
			if err != nil && !errors.Is(err, payload.ErrInvalid) {
				t.Fatalf("%v does not wrap payload.ErrInvalid", err)
			}
		})
	}
}
