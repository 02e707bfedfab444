package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// backend answers as it is told; the real one (runtime/pod) is exercised by cmd/ochopod's integration tests.
type backend struct {
	health error
	ready  bool
	reason string
}

func (b backend) Health(context.Context) error { return b.health }
func (b backend) Ready(context.Context) (bool, string, error) {
	return b.ready, b.reason, nil
}
func (b backend) Info(context.Context) (map[string]any, error) {
	return map[string]any{"process": "running"}, nil
}

func TestHealth_Endpoints(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ochopod_leader 1\n")) })
	for _, c := range []struct {
		name         string
		b            backend
		method, path string
		code         int
		want         map[string]any
	}{
		{"alive", backend{}, http.MethodGet, "/healthz", 200, map[string]any{"ok": true}},
		{"actors stuck", backend{health: errors.New("lifecycle: timeout")}, http.MethodGet, "/healthz", 503, map[string]any{"ok": false, "error": "lifecycle: timeout"}},
		{"ready", backend{ready: true}, http.MethodGet, "/readyz", 200, map[string]any{"ready": true}},
		{"not ready", backend{reason: "the process is backoff"}, http.MethodGet, "/readyz", 503, map[string]any{"ready": false, "reason": "the process is backoff"}},
		{"GET /info", backend{}, http.MethodGet, "/info", 200, map[string]any{"process": "running"}},
		{"HEAD /healthz", backend{}, http.MethodHead, "/healthz", 200, nil},
		{"POST /healthz", backend{}, http.MethodPost, "/healthz", 405, map[string]any{"error": "only GET is supported"}},
		{"POST /info goes on", backend{}, http.MethodPost, "/info", 418, nil},
		{"anything else goes on", backend{}, http.MethodPost, "/control/on", 418, nil},
	} {
		rec := httptest.NewRecorder()
		Handler(c.b, metrics, next).ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.code)
			continue
		}
		if c.want == nil {
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %q (%s): not JSON", c.name, rec.Body, rec.Header().Get("Content-Type"))
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", c.name, k, got[k], v)
			}
		}
	}
	rec := httptest.NewRecorder()
	Handler(backend{}, metrics, next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || rec.Body.String() != "ochopod_leader 1\n" {
		t.Errorf("/metrics: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	Handler(backend{}, nil, next).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("/metrics without metrics: %d, want the request passed on", rec.Code)
	}
}
