package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

type fakeBackend struct {
	info   map[string]any
	err    error
	resets []string
}

func (f *fakeBackend) Info(context.Context) (map[string]any, error) { return f.info, f.err }
func (f *fakeBackend) Reset(cause string)                           { f.resets = append(f.resets, cause) }

func do(t *testing.T, h http.Handler, method, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, rec.Body.String(), err)
	}
	return rec.Code, body
}

func TestHandler_InfoResetAndErrors(t *testing.T) {
	b := &fakeBackend{info: map[string]any{"state": "leader"}}
	h := Handler(b, time.Second, nil)
	if code, body := do(t, h, "POST", "/info"); code != 200 || body["state"] != "leader" {
		t.Fatalf("info: %d %v", code, body)
	}
	if code, _ := do(t, h, "POST", "/reset"); code != 200 || len(b.resets) != 1 {
		t.Fatalf("reset: %d %v", code, b.resets)
	}
	if code, body := do(t, h, "GET", "/info"); code != 405 || body["error"] == nil {
		t.Fatalf("GET info: %d %v", code, body)
	}
	if code, body := do(t, h, "POST", "/nope"); code != 404 || body["error"] == nil {
		t.Fatalf("unknown path: %d %v", code, body)
	}
	b.err = errors.New("actor did not answer")
	if code, body := do(t, h, "POST", "/info"); code != 408 || body["error"] == nil {
		t.Fatalf("failing info: %d %v", code, body)
	}
}
