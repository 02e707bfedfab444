package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
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
	flags  []string     // added to every pod's
	client *http.Client // the benchmark's own, kept alive: /info and /metrics of the pods
	scheme string       // http, https
	scrape bool         // GET /metrics of every pod every second meanwhile
}

// info is POST /info of one pod.
func (m scaleMode) info(p *podProcess) (map[string]any, bool) { return infoOver(m.client, m.scheme, p) }

// metrics reads what p did as leader so far from its /metrics.
func (m scaleMode) metrics(b *testing.B, p *podProcess) leaderMetrics {
	return leaderMetricsOf(b, m.client, m.scheme, p)
}

// leaderMetrics are the counters of a pod's /metrics a leader moves: the connections it opened to pods
// (ochopod_control_client_connections_total, by handshake), and its configuration phases with the time they
// took in all (ochopod_phase_duration_seconds' count and sum: to the nanosecond, where a log line's time
// is to the millisecond, too coarse for a 5 ms phase).
type leaderMetrics struct {
	conns    connCounts
	phases   int
	phaseSum time.Duration
}

// since is what happened between d and m.
func (m leaderMetrics) since(d leaderMetrics) leaderMetrics {
	return leaderMetrics{conns: m.conns.minus(d.conns), phases: m.phases - d.phases, phaseSum: m.phaseSum - d.phaseSum}
}

// clientConns reads ochopod_control_client_connections_total of p's /metrics, by handshake.
func clientConns(t testing.TB, c *http.Client, scheme string, p *podProcess) connCounts {
	return leaderMetricsOf(t, c, scheme, p).conns
}

func leaderMetricsOf(t testing.TB, c *http.Client, scheme string, p *podProcess) leaderMetrics {
	t.Helper()
	res, err := c.Get(fmt.Sprintf("%s://127.0.0.1:%d/metrics", scheme, p.port))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var lm leaderMetrics
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		var err error
		switch {
		case name == "ochopod_phase_duration_seconds_count":
			lm.phases, err = strconv.Atoi(value)
		case name == "ochopod_phase_duration_seconds_sum":
			var s float64
			s, err = strconv.ParseFloat(value, 64)
			lm.phaseSum = time.Duration(s * float64(time.Second))
		case strings.HasPrefix(name, `ochopod_control_client_connections_total{handshake="`):
			var n int
			n, err = strconv.Atoi(value)
			switch strings.TrimSuffix(strings.TrimPrefix(name, `ochopod_control_client_connections_total{handshake="`), `"}`) {
			case "none":
				lm.conns.none = n
			case "full":
				lm.conns.full = n
			case "resumed":
				lm.conns.resumed = n
			}
		}
		if err != nil {
			t.Fatalf("/metrics: %q: %v", sc.Text(), err)
		}
	}
	if err := sc.Err(); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics of port %d: %d %v", p.port, res.StatusCode, err)
	}
	return lm
}

// connCounts are connections a leader opened, by TLS handshake.
type connCounts struct{ none, full, resumed int }

func (c connCounts) minus(d connCounts) connCounts {
	return connCounts{c.none - d.none, c.full - d.full, c.resumed - d.resumed}
}

// String is the plain connections, or the TLS ones: full handshakes + resumed ones ("3+1r").
func (c connCounts) String() string {
	if c.full == 0 && c.resumed == 0 {
		return strconv.Itoa(c.none)
	}
	return fmt.Sprintf("%d+%dr", c.full, c.resumed)
}

// medianConns is the median of each count.
func medianConns(cs []connCounts) connCounts {
	pick := func(f func(connCounts) int) int {
		v := make([]int, len(cs))
		for i, c := range cs {
			v[i] = f(c)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return connCounts{pick(func(c connCounts) int { return c.none }), pick(func(c connCounts) int { return c.full }),
		pick(func(c connCounts) int { return c.resumed })}
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
			out = append(out, scaleMode{name: "plain", client: benchClient, scheme: "http"})
		case "scraped":
			out = append(out, scaleMode{name: "scraped", client: benchClient, scheme: "http", scrape: true})
		case "tokens":
			f := newSecFiles(b)
			out = append(out, scaleMode{name: "tokens", flags: []string{"--token-file", f.tokens}, client: benchClient, scheme: "http"})
		case "tls", "secured":
			f := newSecFiles(b)
			m := scaleMode{name: strings.TrimSpace(n),
				flags:  []string{"--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca},
				client: f.client(b), scheme: "https",
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
