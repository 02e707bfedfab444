package model

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// BenchmarkRunPhase measures the leader's side of a configuration phase (the phase actor on the production host) over 200 pods: check, on and ok to
// each, over HTTP on loopback to servers that read the body and answer 200 (what a pod costs is
// BenchmarkIntegration_PhaseRequestCPU's business).
// Run: go test -run '^$' -bench RunPhase ./actors/model/
func BenchmarkRunPhase(b *testing.B) {
	const n = 200
	pods := map[string]payload.Payload{}
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write([]byte(`{}`))
		}))
		b.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		pods[fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)] = payload.Payload{"application": "", "binding": "local",
			"cluster": "web", "debug": "false", "ip": u.Hostname(), "local": "true", "namespace": "prod", "node": "local",
			"port": "8080", "ports": map[string]any{"8080": u.Port()}, "public": "127.0.0.1", "seq": int64(i), "status": "",
			"task": "", "zk": "127.0.0.1:2181"}
	}
	plan := PhasePlan{Pods: PhasePods(pods), Wire: sdk.Wire{Pods: pods}, Grace: time.Minute, Phase: "bench.1"}
	caller := control.NewHTTPCaller()
	h := newPhaseHost(b, nil)
	for b.Loop() {
		if _, err := h.run(context.Background(), caller, plan); err != nil {
			b.Fatal(err)
		}
	}
}
