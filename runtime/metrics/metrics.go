// Package metrics is the pod's Prometheus metrics (DESIGN §13), in a registry of their own, every name
// prefixed ochopod_. They are fed from outside the pure machines: the statuses and events the actors publish
// on the actor system's event stream (Feed) and the control server's requests (Instrument). Durations that
// no event carries (a phase, a reconfiguration) are timed here, on the clock port, from the state changes.
package metrics

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
)

// Buckets fit what Ochopod times: a control request in milliseconds to a phase or a reconfiguration that
// waits on a damper, a grace period or a slow callback for minutes.
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// Metrics holds the pod's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg   *prometheus.Registry
	clock clock.Clock

	leader, zkConnected, processRunning, clusterPods prometheus.Gauge
	restarts                                         prometheus.Counter
	checks, requests, phases, clientConns            *prometheus.CounterVec
	requestSeconds                                   *prometheus.HistogramVec
	phaseSeconds, reconfigSeconds, takeoverSeconds   prometheus.Histogram

	mu       sync.Mutex
	lc       lifecycleSeen
	model    modelSeen
	leading  bool
	predGone time.Time // a contender this pod waited on went away: a takeover may follow
}

// lifecycleSeen is the last lifecycle counters seen: the counters grow by the difference.
type lifecycleSeen struct {
	restarts       int32
	passed, failed int64
}

// modelSeen is what the last model status said, and when the open intervals began.
type modelSeen struct {
	state      v1.ModelState
	ok, failed int32
	phaseStart time.Time // entered configuring
	dirty      time.Time // a change was seen (pending), not configured yet
}

// New returns the metrics, registered in a new registry; clk times phases and reconfigurations.
func New(clk clock.Clock) *Metrics {
	if clk == nil {
		clk = clock.Real{}
	}
	m := &Metrics{reg: prometheus.NewRegistry(), clock: clk}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ochopod", Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	histogram := func(name, help string) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "ochopod", Name: name, Help: help, Buckets: Buckets})
		m.reg.MustRegister(h)
		return h
	}
	counters := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ochopod", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.leader = gauge("leader", "1 while this pod leads its cluster.")
	m.zkConnected = gauge("zk_connected", "1 while the ZooKeeper session is connected.")
	m.processRunning = gauge("process_running", "1 while the pod's process runs.")
	m.clusterPods = gauge("cluster_pods", "Pods of the cluster, as the leader last read them (0 on followers).")
	m.restarts = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ochopod", Name: "process_restarts_total", Help: "Restarts of the process after a crash."})
	m.reg.MustRegister(m.restarts)
	m.checks = counters("sanity_checks_total", "Sanity checks, by result (passed, failed).", "result")
	m.requests = counters("control_requests_total", "Control requests (/control/<task>), by task and HTTP code.", "task", "code")
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ochopod", Name: "control_request_duration_seconds", Help: "Time to answer a control request, by task.", Buckets: Buckets,
	}, []string{"task"})
	m.reg.MustRegister(m.requestSeconds)
	m.clientConns = counters("control_client_connections_total",
		"Connections this pod opened to pods' control ports as leader, by TLS handshake (none, full, resumed).", "handshake")
	m.phases = counters("phases_total", "Configuration phases this pod ran as leader, by outcome (ok, failed).", "outcome")
	m.phaseSeconds = histogram("phase_duration_seconds", "Configuration phases, from the first check to snapshot and hash written (or the failure).")
	m.reconfigSeconds = histogram("reconfiguration_seconds", "From a change of the cluster seen by the leader to the cluster configured, damper included.")
	m.takeoverSeconds = histogram("leader_takeover_seconds", "From the predecessor's lock node gone to the lock held.")
	// The outcomes and results exist before the first one happens, so a rate over them starts at zero.
	for _, r := range []string{"passed", "failed"} {
		m.checks.WithLabelValues(r)
	}
	for _, o := range []string{"ok", "failed"} {
		m.phases.WithLabelValues(o)
	}
	for _, h := range handshakes {
		m.clientConns.WithLabelValues(h)
	}
	return m
}

// handshakes are the values of the handshake label of ochopod_control_client_connections_total.
var handshakes = []string{"none", "full", "resumed"}

// ClientConn counts a connection the leader's control client opened, by its TLS handshake: none, full or
// resumed (control.ConnKind's names; anything else counts as none). Connections kept alive are counted once:
// a phase over warm connections adds nothing (DESIGN §12).
func (m *Metrics) ClientConn(handshake string) {
	if !slices.Contains(handshakes, handshake) {
		handshake = "none"
	}
	m.clientConns.WithLabelValues(handshake).Inc()
}

// Registry is the registry holding the metrics, for tests and for adding a program's own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format, uncompressed: gzip would take 0.2 ms more of the
// pod's one thread per scrape (BenchmarkMetrics_Scrape) to save a few KB on the network.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{DisableCompression: true})
}

// Feed takes one event of the actor system's event stream; other events are ignored. It does not block.
func (m *Metrics) Feed(evt any) {
	switch e := evt.(type) {
	case *v1.SessionStatus:
		m.session(e)
	case *v1.LifecycleStatus:
		m.lifecycle(e)
	case *v1.ModelStatus:
		m.modelStatus(e)
	case *v1.PredecessorGone:
		m.mu.Lock()
		m.predGone = m.clock.Now()
		m.mu.Unlock()
	}
}

func gaugeOf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *Metrics) session(st *v1.SessionStatus) {
	leading := st.GetRole() == v1.Role_ROLE_LEADER
	m.leader.Set(gaugeOf(leading))
	m.zkConnected.Set(gaugeOf(st.GetConnected()))
	m.mu.Lock()
	defer m.mu.Unlock()
	if leading && !m.leading && !m.predGone.IsZero() {
		// Predecessor gone → lock held: a takeover (the first leader of a cluster has no predecessor).
		m.takeoverSeconds.Observe(m.clock.Now().Sub(m.predGone).Seconds())
	}
	if leading != m.leading {
		m.predGone = time.Time{}
	}
	m.leading = leading
	if !leading {
		m.model = modelSeen{} // the next model starts its own counts
		m.clusterPods.Set(0)
	}
}

// grown is how much a cumulative count went up since last seen; a smaller one is a new count from zero (the
// actor that keeps it started again).
func grown[T int32 | int64](now, before T) T {
	if now < before {
		return now
	}
	return now - before
}

func (m *Metrics) lifecycle(st *v1.LifecycleStatus) {
	m.processRunning.Set(gaugeOf(st.GetProcess() == v1.ProcessState_PROCESS_STATE_RUNNING))
	m.mu.Lock()
	restarts := grown(st.GetRestarts(), m.lc.restarts)
	passed, failed := grown(st.GetChecksPassed(), m.lc.passed), grown(st.GetChecksFailed(), m.lc.failed)
	m.lc = lifecycleSeen{restarts: st.GetRestarts(), passed: st.GetChecksPassed(), failed: st.GetChecksFailed()}
	m.mu.Unlock()
	m.restarts.Add(float64(restarts))
	m.checks.WithLabelValues("passed").Add(float64(passed))
	m.checks.WithLabelValues("failed").Add(float64(failed))
}

func (m *Metrics) modelStatus(st *v1.ModelStatus) {
	now := m.clock.Now()
	m.clusterPods.Set(float64(st.GetPods()))
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := &m.model
	ok, failed := grown(st.GetPhases(), seen.ok), grown(st.GetPhasesFailed(), seen.failed)
	seen.ok, seen.failed = st.GetPhases(), st.GetPhasesFailed()
	state := st.GetState()
	configuring := state == v1.ModelState_MODEL_STATE_CONFIGURING
	if seen.state == v1.ModelState_MODEL_STATE_CONFIGURING && !configuring && !seen.phaseStart.IsZero() {
		m.phaseSeconds.Observe(now.Sub(seen.phaseStart).Seconds())
		seen.phaseStart = time.Time{}
	}
	if configuring && seen.phaseStart.IsZero() {
		seen.phaseStart = now
	}
	if ok > 0 && !seen.dirty.IsZero() {
		m.reconfigSeconds.Observe(now.Sub(seen.dirty).Seconds())
		seen.dirty = time.Time{}
	}
	switch {
	case state == v1.ModelState_MODEL_STATE_IDLE:
		seen.dirty = time.Time{} // configured, or the change reverted within the damper
	case seen.dirty.IsZero():
		seen.dirty = now
	}
	seen.state = state
	m.phases.WithLabelValues("ok").Add(float64(ok))
	m.phases.WithLabelValues("failed").Add(float64(failed))
}
