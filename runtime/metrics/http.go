package metrics

import (
	"net/http"
	"strconv"
	"strings"
)

// controlTasks are the task labels: anything else is "other", so that a caller cannot grow the label set.
var controlTasks = map[string]bool{"check": true, "on": true, "off": true, "ok": true, "kill": true, "signal": true}

// Instrument counts and times the control requests (/control/<task>[/<timeout>]) next serves, by task and
// code (DESIGN §13). Other paths pass through untouched.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/control/")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		task, _, _ := strings.Cut(rest, "/")
		if !controlTasks[task] {
			task = "other"
		}
		start := m.clock.Now()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.requestSeconds.WithLabelValues(task).Observe(m.clock.Now().Sub(start).Seconds())
		m.requests.WithLabelValues(task, strconv.Itoa(rec.code)).Inc()
	})
}

// recorder keeps the code a handler answered with.
type recorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
