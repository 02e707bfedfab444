package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// scrape serves /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, m *Metrics) Scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	fams, err := ParseText(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, rec.Body.String())
	}
	for name := range fams {
		if !strings.HasPrefix(name, "ochopod_") {
			t.Errorf("metric %s is not prefixed ochopod_ (DESIGN §13)", name)
		}
	}
	return fams
}

func TestMetrics_FedFromTheActorsEvents(t *testing.T) {
	clk := vclock.New()
	m := New(clk)
	// A takeover: the predecessor's node goes, 20 ms later this pod leads.
	m.Feed(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_FOLLOWER})
	m.Feed(&v1.PredecessorGone{Path: "/ochopod/clusters/ns.c/coordinator/x__lock__0000000001"})
	clk.Advance(20 * time.Millisecond)
	m.Feed(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_LEADER})
	m.Feed(&v1.LifecycleStatus{Process: v1.ProcessState_PROCESS_STATE_RUNNING, Restarts: 2, ChecksPassed: 3, ChecksFailed: 1})
	m.Feed(&v1.LifecycleStatus{Process: v1.ProcessState_PROCESS_STATE_BACKOFF, Restarts: 3, ChecksPassed: 3, ChecksFailed: 2})
	// A change seen, 2 s of damper, a phase of 500 ms that configures 4 pods.
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_PENDING, Pods: 4})
	clk.Advance(2 * time.Second)
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_CONFIGURING, Pods: 4})
	clk.Advance(500 * time.Millisecond)
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_IDLE, Pods: 4, Phases: 1})
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_CONFIGURING, Pods: 4, Phases: 1})
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_PENDING, Pods: 4, Phases: 1, PhasesFailed: 1})

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ochopod_leader", nil, 1},
		{"ochopod_zk_connected", nil, 1},
		{"ochopod_process_running", nil, 0},
		{"ochopod_process_restarts_total", nil, 3},
		{"ochopod_sanity_checks_total", []string{"result", "passed"}, 3},
		{"ochopod_sanity_checks_total", []string{"result", "failed"}, 2},
		{"ochopod_cluster_pods", nil, 4},
		{"ochopod_phases_total", []string{"outcome", "ok"}, 1},
		{"ochopod_phases_total", []string{"outcome", "failed"}, 1},
		{"ochopod_phase_duration_seconds", nil, 2},
		{"ochopod_reconfiguration_seconds", nil, 1},
		{"ochopod_leader_takeover_seconds", nil, 1},
	} {
		if got := fams.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["ochopod_reconfiguration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() != 2.5 {
		t.Errorf("reconfiguration took %vs, want 2.5 (damper and phase)", h.GetSampleSum())
	}

	if got := fams["ochopod_leader_takeover_seconds"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 0.02 {
		t.Errorf("takeover took %vs, want 0.02", got)
	}

	// Losing the lead: no pods counted, and a new model's counts start from zero without going backwards
	// (no predecessor gone this time: no takeover).
	m.Feed(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_FOLLOWER})
	m.Feed(&v1.SessionStatus{Connected: true, Role: v1.Role_ROLE_LEADER})
	m.Feed(&v1.ModelStatus{State: v1.ModelState_MODEL_STATE_IDLE, Pods: 3, Phases: 1})
	fams = scrape(t, m)
	if got := fams.Value("ochopod_phases_total", "outcome", "ok"); got != 2 {
		t.Errorf("phases ok after a new model's first phase = %v, want 2", got)
	}
	if got := fams.Value("ochopod_leader_takeover_seconds"); got != 1 {
		t.Errorf("takeovers %v, want 1", got)
	}
}

func TestMetrics_InstrumentCountsControlRequestsByTaskAndCode(t *testing.T) {
	m := New(vclock.New())
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "kill") {
			w.WriteHeader(http.StatusGone)
		}
		_, _ = w.Write([]byte("{}"))
	}))
	for _, path := range []string{"/control/on/60", "/control/on", "/control/kill", "/control/bogus-" + strings.Repeat("x", 50), "/info"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
	}
	fams := scrape(t, m)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"task", "on", "code", "200"}, 2},
		{[]string{"task", "kill", "code", "410"}, 1},
		{[]string{"task", "other", "code", "200"}, 1},
	} {
		if got := fams.Value("ochopod_control_requests_total", c.labels...); got != c.want {
			t.Errorf("requests%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := fams.Value("ochopod_control_request_duration_seconds", "task", "on"); got != 2 {
		t.Errorf("timed on requests = %v, want 2", got)
	}
}

// DESIGN §12, §13: the leader's connections to pods, by TLS handshake; the three series exist from the start
// (a rate starts at zero), and a label nobody knows counts as none rather than growing the label set.
func TestMetrics_ClientConnsByHandshake(t *testing.T) {
	m := New(vclock.New())
	if got := scrape(t, m).Value("ochopod_control_client_connections_total", "handshake", "full"); got != 0 {
		t.Fatalf("full = %v before any connection, want 0", got)
	}
	for _, h := range []string{"full", "full", "resumed", "none", "bogus"} {
		m.ClientConn(h)
	}
	fams := scrape(t, m)
	for h, want := range map[string]float64{"full": 2, "resumed": 1, "none": 2, "bogus": -1} {
		if got := fams.Value("ochopod_control_client_connections_total", "handshake", h); got != want {
			t.Errorf("%s = %v, want %v (-1: no such series)", h, got, want)
		}
	}
}
