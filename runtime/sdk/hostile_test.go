package sdk

import (
	"errors"
	"testing"

	"github.com/ochopod/ochopod/runtime/payload"
)

// DESIGN §12: a body whose payloads break the rules does not open, and says which pod; the error is
// ErrBadCluster (the control API's 400) and payload.ErrInvalid.
func TestOpenEnvelope_RejectsInvalidPayloads(t *testing.T) {
	for _, body := range []string{
		`{"key":"k","pods":{"k":{"seq":"abc","ports":{"x":-1}}}}`,
		`{"key":"k","pods":{"k":{"ip":"10.9.9.9\"; touch pwned; echo \""}}}`,
		`{"key":"k","pods":{"k":{"port":"0"}}}`,
		`{"key":"k","pods":{"k":{"public":["a"]}}}`,
		`{"key":"k","pods":{"k":{}},"dependencies":{"ns.db":{"d":{"ip":"$(id)"}}}}`,
		`{"key":"k","pods":{"k":{}},"dependencies":{"ns.db":{"d":null,"e":{"seq":-1}}}}`,
		`{"key":"k","pods":{"k":{}},"dependencies":{"ns.db":{"d":{"ports":{"8080":"x"}}}}}`,
	} {
		_, err := OpenEnvelope([]byte(body))
		if !errors.Is(err, ErrBadCluster) || !errors.Is(err, payload.ErrInvalid) {
			t.Errorf("%s: %v, want ErrBadCluster and payload.ErrInvalid", body, err)
		}
	}
	if _, err := OpenEnvelope([]byte(`{"key":"k","pods":{"k":{"ip":"db-1.prod.example.com","port":"8080","ports":{"8080":31002},"seq":4}}}`)); err != nil {
		t.Fatalf("a valid body: %v", err)
	}
}
