package model

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/sdk"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/certs"
)

// BenchmarkRunPhaseSecurity is BenchmarkRunPhase plain and secured side by side (DESIGN §12: the leader's
// client sends its control token over HTTPS, kept alive; the pods' servers check the token), for 3, 10, 50
// and 200 pods. Both sides run in this process: the figure is the phase's whole CPU, pods' side included.
// Run: go test -run '^$' -bench RunPhaseSecurity ./actors/model/
func BenchmarkRunPhaseSecurity(b *testing.B) {
	dir := b.TempDir()
	_, f, err := certs.NewFiles(dir, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	const secret = "bench-control-secret-0123456789"
	tokenFile := dir + "/tokens"
	if err := os.WriteFile(tokenFile, []byte(secret+" leader control\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	tokens, err := security.OpenTokenFile(tokenFile, nil)
	if err != nil {
		b.Fatal(err)
	}
	srvTLS, err := security.ServerTLS(security.TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	cliTLS, err := security.NewClientTLS(security.TLSFiles{CA: f.CA}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{3, 10, 50, 200} {
		for _, secured := range []bool{false, true} {
			mode := map[bool]string{false: "plain", true: "secured"}[secured]
			b.Run("pods="+strconv.Itoa(n)+"/"+mode, func(b *testing.B) {
				var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					_, _ = w.Write([]byte(`{}`))
				})
				caller := control.NewHTTPCaller()
				if secured {
					h = control.RequireTokens(h, tokens, nil)
					caller = control.NewSecureHTTPCaller(control.ClientSecurity{TLS: cliTLS, Token: control.LeaderToken(tokens)})
				}
				pods := map[string]payload.Payload{}
				for i := range n {
					srv := httptest.NewUnstartedServer(h)
					p := payload.Payload{"application": "", "binding": "local", "cluster": "web", "debug": "false",
						"local": "true", "namespace": "prod", "node": "local", "port": "8080", "public": "127.0.0.1",
						"seq": int64(i), "status": "", "task": "", "zk": "127.0.0.1:2181"}
					if secured {
						srv.TLS = srvTLS
						srv.StartTLS()
						p[payload.KeyScheme] = "https"
					} else {
						srv.Start()
					}
					b.Cleanup(srv.Close)
					u, _ := url.Parse(srv.URL)
					p["ip"], p["ports"] = u.Hostname(), map[string]any{"8080": u.Port()}
					pods[fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)] = p
				}
				plan := PhasePlan{Pods: PhasePods(pods), Wire: sdk.Wire{Pods: pods}, Grace: time.Minute, Phase: "bench.1"}
				if _, err := RunPhase(context.Background(), caller, plan); err != nil { // connect (and handshake) once
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := RunPhase(context.Background(), caller, plan); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/phase")
			})
		}
	}
}

// cpuTime is the CPU time (user and system) this process used so far: on a shared machine the wall time of a
// phase says more about the neighbours than about the phase.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
