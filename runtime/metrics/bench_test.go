package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
)

// BenchmarkMetrics_Scrape is what one GET /metrics costs a pod (asked for gzip, as Prometheus does), with every
// series of DESIGN §13 present: at one scrape a second, the share of a core it takes.
func BenchmarkMetrics_Scrape(b *testing.B) {
	m := New(clock.Real{})
	m.Feed(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_LEADER})
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_CONFIGURING, Pods: 200})
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_IDLE, Pods: 200, Phases: 1})
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, task := range []string{"check", "on", "ok", "off", "kill", "signal"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/control/"+task, nil))
	}
	handler := m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip") // as Prometheus asks; the pod answers plain text
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkMetrics_FeedAndInstrument is what the metrics add to the events and requests a pod handles
// anyway: one status fed, one control request counted and timed.
func BenchmarkMetrics_FeedAndInstrument(b *testing.B) {
	m := New(clock.Real{})
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	req := httptest.NewRequest(http.MethodPost, "/control/on/60", nil)
	st := &v1.LifecycleStatus{Process: v1.ProcessState_PROCESS_STATE_RUNNING}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		m.Feed(st)
		h.ServeHTTP(w, req)
	}
}
