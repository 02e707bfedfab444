package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// DESIGN §12: the leader's client never follows a redirect, whatever client it was given: the 307 is the
// reply (the phase fails on it), and the address it names gets nothing.
func TestClient_NeverFollowsARedirect(t *testing.T) {
	var hit atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Add(1) }))
	defer target.Close()
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer pod.Close()
	for name, c := range map[string]HTTPCaller{"zero": {}, "leader's": NewHTTPCaller(), "given": {Client: &http.Client{}}} {
		code, _, err := c.Post(context.Background(), pod.URL+"/control/check/5", []byte(`{"pods":{}}`))
		if err != nil || code != http.StatusTemporaryRedirect {
			t.Errorf("%s: %d %v, want the 307 as the reply", name, code, err)
		}
	}
	if n := hit.Load(); n != 0 {
		t.Fatalf("the redirect's target got %d requests", n)
	}
}

// DESIGN §12: at most 1 MiB of a reply is read.
func TestClient_ReadsAtMostOneMiB(t *testing.T) {
	pod := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 3<<20)))
	}))
	defer pod.Close()
	_, reply, err := NewHTTPCaller().Post(context.Background(), pod.URL, nil)
	if !errors.Is(err, ErrReplyTooLarge) || len(reply) != 1<<20 {
		t.Fatalf("%d bytes, %v: want 1 MiB and ErrReplyTooLarge", len(reply), err)
	}
}
