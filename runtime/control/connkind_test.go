package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// drained is what ch holds now.
func drained(ch chan ConnKind) []ConnKind {
	var out []ConnKind
	for {
		select {
		case k := <-ch:
			out = append(out, k)
		default:
			return out
		}
	}
}

// DESIGN §12, §13: CountConns hears of every connection the caller opens, and how (a full TLS handshake, a
// resumed one, plain TCP), warmed ones included; requests on a kept-alive connection open nothing. Phases
// after the first thus cost no handshake: what the scale bench's conns column shows.
func TestCountConns_EveryConnectionOnceByHandshake(t *testing.T) {
	srvFiles, cliFiles := warmFiles(t)
	for _, secure := range []bool{true, false} {
		t.Run(map[bool]string{true: "https", false: "http"}[secure], func(t *testing.T) {
			c, srv, first, again := NewHTTPCaller(), newWarmServer(t, nil, nil), ConnPlain, ConnPlain
			if secure {
				c, srv, first, again = secureCaller(t, cliFiles), newWarmServer(t, &srvFiles, nil), ConnTLSFull, ConnTLSResumed
			}
			t.Cleanup(c.CloseIdleConnections)
			kinds := make(chan ConnKind, 10)
			c.CountConns(func(k ConnKind) { kinds <- k })
			postOK(t, c, srv.URL, 5) // a phase, and the phases after it: one connection
			if got := drained(kinds); !slices.Equal(got, []ConnKind{first}) {
				t.Fatalf("5 requests: connections %v, want [%v]", got, first)
			}
			c.CloseIdleConnections() // the pod's idle timeout, say
			opened := make(chan struct{}, 1)
			c.warm.opened = func() { opened <- struct{}{} }
			c.Warm([]string{srv.URL})
			waitFor(t, opened, "warmed connection open")
			postOK(t, c, srv.URL, 3)
			if got := drained(kinds); !slices.Equal(got, []ConnKind{again}) {
				t.Fatalf("after a warm-up and 3 more requests: connections %v, want [%v]", got, again)
			}
			if n := srv.conns.Load(); n != 2 {
				t.Fatalf("the server saw %d connections, the counter 2", n)
			}
		})
	}
}

func TestConnKind_String(t *testing.T) {
	for k, want := range map[ConnKind]string{ConnPlain: "none", ConnTLSFull: "full", ConnTLSResumed: "resumed", 9: "none"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", k, got, want)
		}
	}
}

// The leader's token costs a request no clone of it (DESIGN §12): HTTPCaller sets the header on the request it
// builds, where a RoundTripper (the CLI's bearerTransport) has to clone every request: 9 allocations more.
func TestSecureCaller_TheTokenCostsNoClone(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+ctlSecret {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	token := func() string { return ctlSecret }
	allocs := func(c HTTPCaller) float64 {
		t.Cleanup(c.CloseIdleConnections)
		post := func() {
			if code, _, err := c.Post(context.Background(), srv.URL+"/control/check/60", []byte(`{}`)); err != nil || code != 200 {
				t.Fatalf("POST: %d %v", code, err)
			}
		}
		post() // the connection
		return testing.AllocsPerRun(200, post)
	}
	cloning := NewHTTPCaller()
	cloning.Client.Transport = SecureTransport(cloning.Client.Transport.(*http.Transport), ClientSecurity{Token: token})
	leader, cli := allocs(NewSecureHTTPCaller(ClientSecurity{Token: token})), allocs(cloning)
	if leader > cli-5 {
		t.Fatalf("a leader's request allocates %.1f times, one through a RoundTripper that clones it %.1f: want 5 fewer", leader, cli)
	}
}
