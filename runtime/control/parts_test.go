package control

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A body in parts arrives whole, with its length, over a kept-alive connection and after a retry alike.
func TestClient_PostPartsSendsTheBodyWhole(t *testing.T) {
	got := make(chan string, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d, body %d bytes", r.ContentLength, len(b))
		}
		got <- string(b)
	}))
	defer srv.Close()
	c := NewHTTPCaller()
	for _, parts := range [][][]byte{{[]byte(`{"pods":{},`), []byte(`"key":"a"}`)}, {[]byte(`{}`)}, {nil, []byte(`{"x":1}`), nil}} {
		want := ""
		for _, p := range parts {
			want += string(p)
		}
		if code, _, err := c.PostParts(context.Background(), srv.URL, parts...); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
		if body := <-got; body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
}
