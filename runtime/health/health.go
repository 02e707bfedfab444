// Package health serves the GET endpoints of DESIGN §13 on the control port, in front of the control API:
// /healthz (liveness), /readyz (readiness, with the reason on 503), /metrics (Prometheus) and GET /info
// (the same object as POST /info). They are open like /info (§12): the control API's authentication, if
// any, sits behind them, in next.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Backend is what the endpoints ask; runtime/pod.Pod implements it.
type Backend interface {
	// Health fails when the pod's actors do not answer.
	Health(ctx context.Context) error
	// Ready tells whether the pod serves, and why not.
	Ready(ctx context.Context) (ready bool, reason string, err error)
	// Info is the /info object.
	Info(ctx context.Context) (map[string]any, error)
}

// Timeout bounds how long an endpoint waits for the actors: a probe must answer before the kubelet's
// timeout (1 s by default), and an actor that takes longer is not healthy.
const Timeout = 800 * time.Millisecond

// Handler serves the GET endpoints over b and metrics (nil: no /metrics), and hands every other request to
// next.
func Handler(b Backend, metrics http.Handler, next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		if err := b.Health(ctx); err != nil {
			reply(w, http.StatusServiceUnavailable, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		reply(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		ready, reason, err := b.Ready(ctx)
		switch {
		case err != nil:
			reply(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": "the pod does not answer: " + err.Error()})
		case !ready:
			reply(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": reason})
		default:
			reply(w, http.StatusOK, map[string]any{"ready": true})
		}
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*Timeout)
		defer cancel()
		info, err := b.Info(ctx)
		if err != nil {
			reply(w, http.StatusRequestTimeout, map[string]any{"error": "info: " + err.Error()})
			return
		}
		reply(w, http.StatusOK, info)
	})
	paths := []string{"/healthz", "/readyz"}
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
		paths = append(paths, "/metrics")
	}
	for _, path := range paths {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "only GET is supported"})
		})
	}
	mux.Handle("/", next)
	return mux
}

// reply writes v as JSON, as every reply of the control port is (DESIGN §8).
func reply(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the reply"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
