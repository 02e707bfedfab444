package main

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/zkserver"
)

// scaleMode is how the scale benchmark runs its pods.
type scaleMode struct {
	name   string
	flags  []string                                   // added to every pod's
	info   func(p *podProcess) (map[string]any, bool) // /info of one pod
	scrape bool                                       // GET /metrics of every pod every second meanwhile
}

// scaleModes are the modes of OCHOPOD_BENCH_MODES: plain (no §12 setting), scraped (plain, with /metrics of
// every pod scraped every second, as Prometheus would: what DESIGN §13's metrics cost) and secured (a token
// file and TLS on the control port: the leader calls every pod over HTTPS with its control token); tokens and
// tls run one of the two alone, to tell their costs apart.
func scaleModes(b *testing.B) []scaleMode {
	names := strings.Split(os.Getenv("OCHOPOD_BENCH_MODES"), ",")
	if os.Getenv("OCHOPOD_BENCH_MODES") == "" {
		names = []string{"plain", "scraped", "secured"}
	}
	var out []scaleMode
	for _, n := range names {
		switch strings.TrimSpace(n) {
		case "plain":
			out = append(out, scaleMode{name: "plain", info: plainInfo})
		case "scraped":
			out = append(out, scaleMode{name: "scraped", info: plainInfo, scrape: true})
		case "tokens":
			f := newSecFiles(b)
			out = append(out, scaleMode{name: "tokens", flags: []string{"--token-file", f.tokens}, info: plainInfo})
		case "tls", "secured":
			f := newSecFiles(b)
			c := f.client(b)
			m := scaleMode{name: strings.TrimSpace(n),
				flags: []string{"--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca},
				info:  func(p *podProcess) (map[string]any, bool) { return infoOver(c, "https", p) },
			}
			if m.name == "secured" {
				m.flags = append(m.flags, "--token-file", f.tokens)
			}
			out = append(out, m)
		default:
			b.Fatalf("OCHOPOD_BENCH_MODES=%q: want plain, scraped, tokens, tls and/or secured", os.Getenv("OCHOPOD_BENCH_MODES"))
		}
	}
	return out
}

// BenchmarkIntegration_InfoLatencySecured is BenchmarkIntegration_InfoLatency on a pod with a token file and
// TLS on its control port: POST /info (open, DESIGN §12) over HTTPS, one at a time on a keep-alive connection.
// Target: p50 under 1 ms.
//
//	go test -run '^$' -bench 'Integration_InfoLatency' -benchtime 2000x ./cmd/ochopod/
func BenchmarkIntegration_InfoLatencySecured(b *testing.B) {
	f := newSecFiles(b)
	srv := zkserver.Start(b)
	p := mdStartPod(b, srv.Addr(), "bench-info-tls", 10*time.Second,
		[]string{"--check-every", "1h", "--log-level", "info", "--token-file", f.tokens, "--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca},
		"sleep", "600")
	tc, err := security.NewClientTLS(security.TLSFiles{CA: f.ca}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: control.SecureTransport(http.DefaultTransport.(*http.Transport).Clone(), control.ClientSecurity{TLS: tc})}
	waitInfoOver(b, c, "https", []*podProcess{p}, 60*time.Second, mdRunning)
	for range 100 { // warm the connection and the pod up
		if _, ok := infoOver(c, "https", p); !ok {
			b.Fatal("/info failed")
		}
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, ok := infoOver(c, "https", p); !ok {
			b.Fatal("/info failed")
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	p50, p99 := took[len(took)/2], took[len(took)*99/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "ms/p50")
	b.ReportMetric(float64(p99.Microseconds())/1000, "ms/p99")
	b.Logf("secured /info over HTTPS (keep-alive): p50 %s, p99 %s over %d requests\n", p50, p99, b.N)
}
