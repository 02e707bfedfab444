package control

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/certs"
)

const (
	ctlSecret  = "control-secret-0123456789"
	readSecret = "read-secret-0123456789"
	execSecret = "exec-secret-0123456789"
)

func testTokens(t *testing.T) *security.Tokens {
	t.Helper()
	toks, err := security.ParseTokens([]byte(ctlSecret + " leader control\n" + readSecret + " viewer read\n" + execSecret + " ops exec,read\n"))
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// DESIGN §12: each path needs its scope, scopes are independent, /info stays open, and every request that
// needed a token is audited by name, never by secret.
func TestAuth_ScopesAndCodes(t *testing.T) {
	var logs bytes.Buffer
	h := RequireTokens(Handler(&fakeBackend{info: map[string]any{"state": "follower"}, code: 200}, nil, Settings{}, nil),
		testTokens(t), slog.New(slog.NewTextHandler(&logs, nil)))
	for _, tc := range []struct {
		path, secret string
		code         int
	}{
		{"/info", "", 200},
		{"/log", "", 401},
		{"/log", "wrong-secret-0123456789", 401},
		{"/log", readSecret, 200},
		{"/log", ctlSecret, 403},
		{"/log", execSecret, 200},
		{"/control/off", "", 401},
		{"/control/off", readSecret, 403},
		{"/control/off/5", ctlSecret, 200},
		{"/control/kill", "", 401},
		{"/reset", "", 401},
		{"/reset", ctlSecret, 200},
		{"/exec", "", 401},
		{"/exec", ctlSecret, 403},
		{"/exec", execSecret, 400}, // in: the tool is missing
		{"/nowhere", "", 404},
	} {
		hdr := []string{}
		if tc.secret != "" {
			hdr = []string{"Authorization", "Bearer " + tc.secret}
		}
		code, body := do(t, h, http.MethodPost, tc.path, "", hdr...)
		if code != tc.code {
			t.Errorf("%s with %q: %d %v, want %d", tc.path, tc.secret, code, body, tc.code)
		}
		if (code == 401 || code == 403) && errorOf(body) == "" {
			t.Errorf("%s: %d without a JSON error", tc.path, code)
		}
	}
	if strings.Count(logs.String(), "control API audit") != 14 {
		t.Errorf("want one audit line per request that needed a token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "token=viewer path=/control/off code=403") ||
		!strings.Contains(logs.String(), "token=- path=/log code=401") ||
		!strings.Contains(logs.String(), "token=leader path=/reset code=200") {
		t.Errorf("audit lines miss name, path or code:\n%s", logs.String())
	}
	for _, s := range []string{ctlSecret, readSecret, execSecret, "wrong-secret"} {
		if strings.Contains(logs.String(), s) {
			t.Fatalf("a secret is in the log:\n%s", logs.String())
		}
	}
}

func TestAuth_401SaysBearer(t *testing.T) {
	h := RequireTokens(Handler(&fakeBackend{code: 200}, nil, Settings{}, nil), testTokens(t), nil)
	for _, auth := range []string{"", "Basic " + ctlSecret, "Bearer", ctlSecret} {
		req := httptest.NewRequest(http.MethodPost, "/control/kill", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("Authorization %q: %d, WWW-Authenticate %q", auth, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/control/kill", nil)
	req.Header.Set("Authorization", "bearer  "+ctlSecret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == 401 {
		t.Fatal("the scheme is case-insensitive")
	}
}

// The leader's client sends the first control token of the file, read at each request.
func TestAuth_SecureCallerSendsToken(t *testing.T) {
	var secret string
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.WriteHeader(200)
	}))
	defer srv.Close()
	c := NewSecureHTTPCaller(ClientSecurity{Token: func() string { return secret }})
	secret = ctlSecret
	if code, _, err := c.Post(context.Background(), srv.URL+"/control/on", []byte("{}")); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	if h := <-got; h != "Bearer "+ctlSecret {
		t.Fatalf("Authorization = %q", h)
	}
	secret = ""
	if _, _, err := c.Post(context.Background(), srv.URL+"/control/on", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h != "" {
		t.Fatalf("Authorization without a token = %q", h)
	}
}

// heldWriter holds each write until the test lets it go: a log whose reader does not run.
type heldWriter struct {
	entered chan struct{}
	release chan struct{} // one value a write; closed: every write goes
}

func (h heldWriter) Write(p []byte) (int, error) {
	h.entered <- struct{}{}
	<-h.release
	return len(p), nil
}

// DESIGN §12: the audit line is written once the reply is out, so a reply (a phase's) never waits on the log's
// writer: a pipe whose reader, on a busy machine, may not run for a while. Replies refused (401) too; on kept
// connections and on closed ones, in clear and under TLS: the server a pod runs (Limits' Server on its
// Listener).
func TestAuth_TheReplyGoesOutBeforeTheAuditLine(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tls, keep bool
	}{{"kept", false, true}, {"closed", false, false}, {"tls-kept", true, true}, {"tls-closed", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := heldWriter{entered: make(chan struct{}, 8), release: make(chan struct{})}
			h := RequireTokens(Handler(&fakeBackend{info: map[string]any{"state": "follower"}, code: 200}, nil, Settings{}, nil),
				testTokens(t), slog.New(slog.NewTextHandler(w, nil)))
			url, c := serveForAudit(t, h, tc.tls, tc.keep)
			defer close(w.release) // before the server's close (a cleanup), which waits for its connections
			for i, secret := range []string{ctlSecret, "", ctlSecret} {
				req, err := http.NewRequest(http.MethodPost, url+"/control/on/5", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				if secret != "" {
					req.Header.Set("Authorization", "Bearer "+secret)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d: no reply while its audit line is held: %v", i, err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != map[string]int{ctlSecret: 200, "": 401}[secret] {
					t.Fatalf("request %d: %d %q %v", i, res.StatusCode, body, err)
				}
				select {
				case <-w.entered:
				case <-time.After(10 * time.Second):
					t.Fatalf("request %d: no audit line", i)
				}
				w.release <- struct{}{}
			}
		})
	}
}

// serveForAudit serves h as a pod does (Limits' Server on its Listener), under TLS or not, and returns its URL
// and a client that keeps its connections alive or not.
func serveForAudit(t *testing.T, h http.Handler, withTLS, keep bool) (string, *http.Client) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var lim Limits
	ln, tr, scheme := lim.Listener(raw), &http.Transport{DisableKeepAlives: !keep}, "http"
	if withTLS {
		_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		srvTLS, err := security.ServerTLS(security.TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := security.NewClientTLS(security.TLSFiles{CA: f.CA}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ln, tr.TLSClientConfig, scheme = tls.NewListener(ln, srvTLS), cli.Config("127.0.0.1"), "https"
	}
	srv := lim.Server(h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return scheme + "://" + raw.Addr().String(), &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// AfterReply runs its function at once for a request of any other server (no queue on its connection), and
// in order, once each, on a pod's.
func TestAfterReply_AtOnceElsewhereInOrderOnAPodsServer(t *testing.T) {
	ran := ""
	AfterReply(httptest.NewRequest(http.MethodPost, "/control/on", nil), func() { ran += "now" })
	if ran != "now" {
		t.Fatalf("outside a pod's server: %q, want it run at once", ran)
	}
	var mu sync.Mutex
	var order []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		AfterReply(r, func() { mu.Lock(); order = append(order, r.URL.Path+" a"); mu.Unlock() })
		AfterReply(r, func() { mu.Lock(); order = append(order, r.URL.Path+" b"); mu.Unlock() })
		mu.Lock()
		order = append(order, r.URL.Path+" reply")
		mu.Unlock()
	})
	url, c := serveForAudit(t, h, false, true)
	for _, p := range []string{"/1", "/2"} {
		res, err := c.Post(url+p, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	want := []string{"/1 reply", "/1 a", "/1 b", "/2 reply", "/2 a", "/2 b"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(order)
		mu.Unlock()
		// Each request's own order; the two may interleave if the client took a second connection.
		of := func(path string) []string {
			return slices.DeleteFunc(slices.Clone(got), func(s string) bool { return !strings.HasPrefix(s, path+" ") })
		}
		if len(got) == len(want) && slices.Equal(of("/1"), want[:3]) && slices.Equal(of("/2"), want[3:]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ran %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
