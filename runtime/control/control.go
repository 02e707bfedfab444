// Package control is the pod's HTTP control API (DESIGN §8): every request is a POST, every reply JSON. It is
// not an actor: each request becomes a message to the pod's actors, awaited with a timeout.
package control

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// Backend is what the server asks.
type Backend interface {
	// Info returns the /info object.
	Info(ctx context.Context) (map[string]any, error)
	// Reset forces a ZooKeeper reset.
	Reset(cause string)
}

// Handler serves the API over b. Requests that take longer than timeout answer 408.
func Handler(b Backend, timeout time.Duration, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /info", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		info, err := b.Info(ctx)
		if err != nil {
			log.Warn("info failed", "err", err)
			writeError(w, http.StatusRequestTimeout, "info: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		b.Reset("requested over HTTP from " + r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]any{})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "only POST is supported")
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the reply"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
