package model

import (
	"context"
	"crypto/tls"
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
	srvTLS, cliFiles, tokens := benchSecurity(b)
	cliTLS, err := security.NewClientTLS(cliFiles, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{3, 10, 50, 200} {
		for _, secured := range []bool{false, true} {
			mode := map[bool]string{false: "plain", true: "secured"}[secured]
			b.Run("pods="+strconv.Itoa(n)+"/"+mode, func(b *testing.B) {
				h := newPhaseHost(b, nil)
				caller := control.NewHTTPCaller()
				if secured {
					caller = control.NewSecureHTTPCaller(control.ClientSecurity{TLS: cliTLS, Token: control.LeaderToken(tokens)})
				}
				plan := benchPods(b, n, secured, srvTLS, tokens)
				if _, err := h.run(context.Background(), caller, plan); err != nil { // connect (and handshake) once
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := h.run(context.Background(), caller, plan); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/phase")
			})
		}
	}
}

// BenchmarkRunPhaseFirstContact is a phase of a leader that has no connection to its pods yet, as a new
// leader's first one after a hand-over (DESIGN §12): plain connects to every pod; full adds a TLS handshake
// with certificates to each; resumed resumes each pod's TLS session of an earlier connection (the client's
// sessions outlive its connections). Both sides run in this process.
// Run: go test -run '^$' -bench RunPhaseFirstContact ./actors/model/
func BenchmarkRunPhaseFirstContact(b *testing.B) {
	srvTLS, cliFiles, tokens := benchSecurity(b)
	for _, n := range []int{10, 50} {
		for _, mode := range []string{"plain", "full", "resumed"} {
			b.Run("pods="+strconv.Itoa(n)+"/"+mode, func(b *testing.B) {
				h := newPhaseHost(b, nil)
				plan := benchPods(b, n, mode != "plain", srvTLS, tokens)
				shared, err := security.NewClientTLS(cliFiles, nil)
				if err != nil {
					b.Fatal(err)
				}
				newCaller := func() control.HTTPCaller {
					switch mode {
					case "plain":
						return control.NewHTTPCaller()
					case "full":
						fresh, err := security.NewClientTLS(cliFiles, nil) // no session of before
						if err != nil {
							b.Fatal(err)
						}
						return control.NewSecureHTTPCaller(control.ClientSecurity{TLS: fresh, Token: control.LeaderToken(tokens)})
					}
					return control.NewSecureHTTPCaller(control.ClientSecurity{TLS: shared, Token: control.LeaderToken(tokens)})
				}
				phase := func() {
					c := newCaller()
					if _, err := h.run(context.Background(), c, plan); err != nil {
						b.Fatal(err)
					}
					c.Client.CloseIdleConnections()
				}
				phase() // resumed: the sessions to resume
				cpu0 := cpuTime()
				for b.Loop() {
					phase()
				}
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/phase")
			})
		}
	}
}

// benchSecurity is the server side's TLS, the client side's files and the tokens of a secured bench.
func benchSecurity(b *testing.B) (*tls.Config, security.TLSFiles, *security.TokenFile) {
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
	return srvTLS, security.TLSFiles{CA: f.CA}, tokens
}

// benchPods starts n pods' control servers (HTTPS behind the tokens when secured) until the bench ends, and
// returns the plan of a phase over them.
func benchPods(b *testing.B, n int, secured bool, srvTLS *tls.Config, tokens *security.TokenFile) PhasePlan {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{}`))
	})
	if secured {
		h = control.RequireTokens(h, tokens, nil)
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
	return PhasePlan{Pods: PhasePods(pods), Wire: sdk.Wire{Pods: pods}, Grace: time.Minute, Phase: "bench.1"}
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
