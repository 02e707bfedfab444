package control

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// slowBackend answers /info at once and holds a control task for hold.
type slowBackend struct{ hold time.Duration }

func (slowBackend) Info(context.Context) (map[string]any, error) {
	return map[string]any{"state": "ok"}, nil
}
func (slowBackend) Log() []string { return nil }
func (slowBackend) Reset(string)  {}
func (b slowBackend) Control(ctx context.Context, _ Request) (int, []byte, error) {
	select {
	case <-time.After(b.hold):
		return http.StatusOK, []byte(`{}`), nil
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

func serveLimited(t *testing.T, l Limits, b Backend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(Handler(b, nil, Settings{}, nil))
	go func() { _ = srv.Serve(l.Listener(ln)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// DESIGN §12: a body that trickles is cut at the body deadline, /info answers meanwhile, and a task that
// takes longer than the deadline once its body is in still gets its reply.
func TestLimits_SlowBodyIsCutAndLongTasksAreNot(t *testing.T) {
	const body = 300 * time.Millisecond
	addr := serveLimited(t, Limits{BodyTimeout: body}, slowBackend{hold: 3 * body})

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /control/on HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	res, err := http.Post("http://"+addr+"/info", "application/json", nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/info while a body trickles: %v %v", res, err)
	}
	res.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // the test's own bound
	_, _ = io.Copy(io.Discard, conn)                           // until the server closes it
	if took := time.Since(start); took > body+5*time.Second {
		t.Fatalf("the trickling connection lived %v, deadline %v", took, body)
	}

	res, err = http.Post("http://"+addr+"/control/on/10", "application/json", strings.NewReader(`{}`))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("a task longer than the body deadline: %v %v", res, err)
	}
	res.Body.Close()
}

// The cap on open connections: past it, a connection waits in the listen queue until one closes.
func TestLimits_CapOnConnections(t *testing.T) {
	addr := serveLimited(t, Limits{MaxConns: 2, HeaderTimeout: time.Minute}, slowBackend{})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts it; the server does not read it yet
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(third).ReadString('\n')
		got <- line
	}()
	// Make sure both slots are taken (each held connection is served) before freeing one.
	for _, c := range held[:1] {
		fmt.Fprintf(c, "POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
		if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.Contains(line, "200") {
			t.Fatalf("a held connection: %q", line)
		}
	}
	select {
	case line := <-got:
		t.Fatalf("the third connection was served past the cap: %q", line)
	default:
	}
	held[0].Close()
	held[1].Close()
	select {
	case line := <-got:
		if !strings.Contains(line, "200") {
			t.Fatalf("the third connection: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the third connection was never served")
	}
}
