package control

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ochopod/ochopod/runtime/security"
	"github.com/ochopod/ochopod/testkit/certs"
)

// The leader's HTTPS client keeps its connection to a pod alive: one handshake, however many requests.
func TestSecureCaller_KeepsTheTLSConnectionAlive(t *testing.T) {
	_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := security.ServerTLS(security.TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+ctlSecret {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	}))
	srv.TLS = srvTLS
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	cli, err := security.NewClientTLS(security.TLSFiles{CA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSecureHTTPCaller(ClientSecurity{TLS: cli, Token: func() string { return ctlSecret }})
	for range 20 {
		code, _, err := c.Post(context.Background(), srv.URL+"/control/on", []byte(`{"pods":{}}`))
		if err != nil || code != 200 {
			t.Fatalf("POST: %d %v", code, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 20 requests, want 1", n)
	}
}

// A leader that meets a pod again after their connection closed (a quiet minute: the pod's idle timeout)
// resumes its TLS session instead of a full handshake (DESIGN §12).
func TestSecureCaller_ResumesTheTLSSession(t *testing.T) {
	_, f, err := certs.NewFiles(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := security.ServerTLS(security.TLSFiles{Cert: f.Cert, Key: f.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resumed := make(chan bool, 3)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resumed <- r.TLS.DidResume
		w.WriteHeader(200)
	}))
	srv.TLS = srvTLS
	srv.StartTLS()
	defer srv.Close()
	cli, err := security.NewClientTLS(security.TLSFiles{CA: f.CA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSecureHTTPCaller(ClientSecurity{TLS: cli})
	for i, want := range []bool{false, true, true} {
		if code, _, err := c.Post(context.Background(), srv.URL+"/info", nil); err != nil || code != 200 {
			t.Fatalf("POST %d: %d %v", i, code, err)
		}
		if got := <-resumed; got != want {
			t.Fatalf("connection %d: resumed = %v, want %v", i, got, want)
		}
		c.Client.CloseIdleConnections()
	}
}
