package fabric_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/testkit/fabric"
	"github.com/ochopod/ochopod/testkit/probe"
	"github.com/ochopod/ochopod/testkit/vclock"
)

// Every goroutine must be gone at the end. The one exception is protoactor's dead-letter throttle (the
// example runs whole pods), a goroutine of its own that lives one throttle interval (1 s) after a dead letter
// and then ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// wait bounds every wait; nothing in these tests sleeps.
const wait = 10 * time.Second

var _ probe.Idler = (*fabric.Fabric)(nil)

// echo answers 201 with "<method> <path> <content-type> <remote> <body>".
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, strings.Join([]string{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.RemoteAddr, string(body)}, " "))
}

func newFabric(t *testing.T, opts ...fabric.Option) *fabric.Fabric {
	f := fabric.New(opts...)
	t.Cleanup(f.Close)
	return f
}

func register(t *testing.T, f *fabric.Fabric, addr string, h http.Handler) {
	t.Helper()
	if err := f.Register(addr, h); err != nil {
		t.Fatal(err)
	}
}

func TestFabric_RoutesToTheHandlerAtTheAddress(t *testing.T) {
	f := newFabric(t)
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
	register(t, f, "10.0.0.2:80", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "no status written")
	}))
	code, reply, err := f.CallerFrom("10.0.0.9:8080").Post(context.Background(), "http://10.0.0.1:8080/control/on/60", []byte(`{"a":1}`))
	if err != nil || code != http.StatusCreated || string(reply) != `POST /control/on/60 application/json 10.0.0.9:8080 {"a":1}` {
		t.Fatalf("%d %q %v", code, reply, err)
	}
	code, reply, err = f.Caller().Post(context.Background(), "http://10.0.0.1:8080/info", nil)
	if err != nil || !strings.HasSuffix(string(reply), " 0.0.0.0:0 ") {
		t.Fatalf("anonymous caller: %d %q %v", code, reply, err)
	}
	code, reply, err = f.Caller().Post(context.Background(), "http://10.0.0.2/", nil) // no port: 80
	if err != nil || code != http.StatusOK || string(reply) != "no status written" {
		t.Fatalf("port 80: %d %q %v", code, reply, err)
	}
}

func TestFabric_Failures(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		setup func(f *fabric.Fabric)
		from  string
		url   string
		want  []error
	}{
		{"nothing registered: refused", func(*fabric.Fabric) {}, "", "http://10.0.0.9:8080/info",
			[]error{fabric.ErrRefused, syscall.ECONNREFUSED}},
		{"unregistered: refused", func(f *fabric.Fabric) { f.Unregister("10.0.0.1:8080") }, "", "http://10.0.0.1:8080/info",
			[]error{fabric.ErrRefused}},
		{"target partitioned", func(f *fabric.Fabric) { f.Partition("10.0.0.1:8080") }, "", "http://10.0.0.1:8080/info",
			[]error{fabric.ErrPartitioned, syscall.EHOSTUNREACH}},
		{"caller partitioned", func(f *fabric.Fabric) { f.Partition("10.0.0.2:8080") }, "10.0.0.2:8080", "http://10.0.0.1:8080/info",
			[]error{fabric.ErrPartitioned}},
		{"hook fails it", func(f *fabric.Fabric) {
			f.OnRequest(func(_, _, path string) error {
				if path == "/info" {
					return boom
				}
				return nil
			})
		}, "", "http://10.0.0.1:8080/info", []error{boom}},
		{"handler panics", func(f *fabric.Fabric) {
			f.Unregister("10.0.0.1:8080")
			_ = f.Register("10.0.0.1:8080", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") }))
		}, "", "http://10.0.0.1:8080/info", []error{fabric.ErrHandlerPanicked, io.ErrUnexpectedEOF}},
		{"closed", func(f *fabric.Fabric) { f.Close() }, "", "http://10.0.0.1:8080/info", []error{fabric.ErrClosed}},
		{"https", func(*fabric.Fabric) {}, "", "https://10.0.0.1:8080/info", []error{fabric.ErrBadURL}},
		{"no host", func(*fabric.Fabric) {}, "", "/info", []error{fabric.ErrBadURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t)
			register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
			tt.setup(f)
			code, reply, err := f.CallerFrom(tt.from).Post(context.Background(), tt.url, nil)
			if code != 0 || reply != nil || err == nil {
				t.Fatalf("%d %q %v: want an error", code, reply, err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v: not %v", err, w)
				}
			}
		})
	}
}

func TestFabric_HealEndsEveryPartition(t *testing.T) {
	f := newFabric(t)
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
	register(t, f, "10.0.0.2:8080", http.HandlerFunc(echo))
	f.Partition("10.0.0.1:8080")
	f.Partition("10.0.0.2:8080")
	c := f.CallerFrom("10.0.0.1:8080")
	if _, _, err := c.Post(context.Background(), "http://10.0.0.2:8080/", nil); !errors.Is(err, fabric.ErrPartitioned) {
		t.Fatalf("between partitioned addresses: %v", err)
	}
	f.Heal()
	if code, _, err := c.Post(context.Background(), "http://10.0.0.2:8080/", nil); err != nil || code != http.StatusCreated {
		t.Fatalf("after Heal: %d %v", code, err)
	}
}

func TestFabric_RegisterRejectsBadOrTakenAddresses(t *testing.T) {
	f := newFabric(t)
	for _, addr := range []string{"", "10.0.0.1", ":8080", "10.0.0.1:http", "10.0.0.1:0", "10.0.0.1:70000"} {
		if err := f.Register(addr, http.HandlerFunc(echo)); err == nil {
			t.Errorf("registered %q", addr)
		}
	}
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
	if err := f.Register("10.0.0.1:8080", http.HandlerFunc(echo)); !errors.Is(err, fabric.ErrAddrInUse) {
		t.Fatalf("second register: %v", err)
	}
	if err := f.Register("10.0.0.2:8080", nil); err == nil {
		t.Fatal("nil handler registered")
	}
	if !f.Unregister("10.0.0.1:8080") || f.Unregister("10.0.0.1:8080") {
		t.Fatal("Unregister reports whether there was a handler")
	}
}

// post runs a Post on its own goroutine and delivers its outcome.
type outcome struct {
	code  int
	reply string
	err   error
}

func post(c control.Caller, ctx context.Context, url string) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		code, reply, err := c.Post(ctx, url, nil)
		out <- outcome{code, string(reply), err}
	}()
	return out
}

func receive(t *testing.T, ch <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(wait):
		t.Fatal("the Post did not return")
		return outcome{}
	}
}

// arrivals signals each request's arrival (the hook runs before the delay).
func arrivals(f *fabric.Fabric) <-chan string {
	ch := make(chan string, 16)
	f.OnRequest(func(_, _, path string) error {
		ch <- path
		return nil
	})
	return ch
}

// parked waits until the request that arrived on ch is parked on the clock: it was in flight when the hook
// ran, and stops being in flight only when it parks (or ends).
func parked(t *testing.T, f *fabric.Fabric, ch <-chan string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatal("no request arrived")
	}
	probe.WaitIdle(t, wait, f)
}

func TestFabric_DelayRunsOnTheVirtualClock(t *testing.T) {
	clk := vclock.New()
	f := newFabric(t, fabric.WithClock(clk))
	release := make(chan struct{})
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		echo(w, r)
	}))
	arrived := arrivals(f)
	f.Delay("10.0.0.1:8080", 5*time.Second)
	done := post(f.Caller(), context.Background(), "http://10.0.0.1:8080/slow")

	// The request waits on the clock: not in flight, so the fabric is idle; its timer is pending.
	parked(t, f, arrived)
	if clk.Pending() != 1 {
		t.Fatalf("%d timers pending, want the delay's", clk.Pending())
	}
	clk.Advance(4 * time.Second)
	if n, _ := f.InFlight(); n != 0 {
		t.Fatal("delivered before its delay")
	}
	clk.Advance(time.Second)
	if n, _ := f.InFlight(); n != 1 {
		t.Fatal("not in flight once its timer fired: a quiescence check after Advance would miss it")
	}
	close(release)
	if o := receive(t, done); o.err != nil || o.code != http.StatusCreated {
		t.Fatalf("%+v", o)
	}

	f.Delay("10.0.0.1:8080", 0) // removed: delivered at once, the handler is open now
	if o := receive(t, post(f.Caller(), context.Background(), "http://10.0.0.1:8080/fast")); o.err != nil {
		t.Fatalf("%+v", o)
	}
}

func TestFabric_ContextEndsADelayedRequest(t *testing.T) {
	clk := vclock.New()
	f := newFabric(t, fabric.WithClock(clk))
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
	arrived := arrivals(f)
	f.Delay("10.0.0.1:8080", time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := post(f.Caller(), ctx, "http://10.0.0.1:8080/slow")
	parked(t, f, arrived)
	cancel()
	if o := receive(t, done); !errors.Is(o.err, context.Canceled) {
		t.Fatalf("%+v", o)
	}
	if clk.Pending() != 0 {
		t.Fatal("the delay's timer is still pending")
	}
	probe.WaitIdle(t, wait, f)
}

func TestFabric_PartitionDuringADelayApplies(t *testing.T) {
	clk := vclock.New()
	f := newFabric(t, fabric.WithClock(clk))
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
	arrived := arrivals(f)
	f.Delay("10.0.0.1:8080", time.Second)
	done := post(f.Caller(), context.Background(), "http://10.0.0.1:8080/slow")
	parked(t, f, arrived)
	f.Partition("10.0.0.1:8080")
	clk.Advance(time.Second)
	if o := receive(t, done); !errors.Is(o.err, fabric.ErrPartitioned) {
		t.Fatalf("%+v", o)
	}
}

func TestFabric_ContextEndsARequestWhoseHandlerHangs(t *testing.T) {
	f := newFabric(t)
	release, entered := make(chan struct{}), make(chan struct{})
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // ignores r.Context(): Post must return anyway
		w.WriteHeader(http.StatusTeapot)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := post(f.Caller(), ctx, "http://10.0.0.1:8080/hang")
	within(t, entered)
	if n, _ := f.InFlight(); n != 1 {
		t.Fatalf("in flight %d, want 1", n)
	}
	cancel()
	if o := receive(t, done); !errors.Is(o.err, context.Canceled) || o.code != 0 {
		t.Fatalf("%+v", o)
	}
	// The handler still runs: the request stays in flight until it returns.
	if n, _ := f.InFlight(); n != 1 {
		t.Fatalf("in flight %d after the caller gave up, want 1 (the handler runs)", n)
	}
	close(release)
	probe.WaitIdle(t, wait, f)
	calls := f.Calls()
	if len(calls) != 1 || !calls[0].Done || calls[0].Code != 0 || !errors.Is(calls[0].Err, context.Canceled) {
		t.Fatalf("calls %+v: the late reply must be dropped", calls)
	}
}

func TestFabric_HandlerSeesTheCallerGiveUp(t *testing.T) {
	f := newFabric(t)
	entered := make(chan struct{})
	register(t, f, "10.0.0.1:8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := post(f.Caller(), ctx, "http://10.0.0.1:8080/wait")
	within(t, entered)
	cancel()
	receive(t, done)
	probe.WaitIdle(t, wait, f) // the handler returns on its own
}

// TestFabric_CallsAreDeterministic runs the same script twice: the same calls, in the same order, with the
// same outcomes.
func TestFabric_CallsAreDeterministic(t *testing.T) {
	run := func() []fabric.Call {
		f := newFabric(t)
		register(t, f, "10.0.0.1:8080", http.HandlerFunc(echo))
		register(t, f, "10.0.0.2:8080", http.HandlerFunc(echo))
		var seen []string
		f.OnRequest(func(from, to, path string) error {
			seen = append(seen, from+">"+to+path)
			return nil
		})
		a, b := f.CallerFrom("10.0.0.1:8080"), f.CallerFrom("10.0.0.2:8080")
		_, _, _ = a.Post(context.Background(), "http://10.0.0.2:8080/control/check/5", []byte(`{}`))
		f.Partition("10.0.0.1:8080")
		_, _, _ = b.Post(context.Background(), "http://10.0.0.1:8080/control/on/5", nil)
		f.Heal()
		_, _, _ = b.Post(context.Background(), "http://10.0.0.3:8080/info", nil)
		want := []string{"10.0.0.1:8080>10.0.0.2:8080/control/check/5", "10.0.0.2:8080>10.0.0.1:8080/control/on/5",
			"10.0.0.2:8080>10.0.0.3:8080/info"}
		if !reflect.DeepEqual(seen, want) {
			t.Fatalf("hook saw %q", seen)
		}
		return f.Calls()
	}
	first, second := run(), run()
	if len(first) != 3 {
		t.Fatalf("calls %+v", first)
	}
	for i := range first {
		a, b := first[i], second[i]
		if a.Seq != i+1 || a.Seq != b.Seq || a.From != b.From || a.To != b.To || a.Path != b.Path || a.Code != b.Code ||
			string(a.Reply) != string(b.Reply) || (a.Err == nil) != (b.Err == nil) || (a.Err != nil && a.Err.Error() != b.Err.Error()) {
			t.Fatalf("call %d differs:\n%+v\n%+v", i, a, b)
		}
	}
	if first[0].Code != http.StatusCreated || !errors.Is(first[1].Err, fabric.ErrPartitioned) ||
		!errors.Is(first[2].Err, fabric.ErrRefused) {
		t.Fatalf("outcomes %+v", first)
	}
}

// backend is a control.Backend that answers every task 200 with the task's name.
type backend struct{}

func (backend) Info(context.Context) (map[string]any, error) {
	return map[string]any{"state": "follower"}, nil
}
func (backend) Log() []string { return []string{} }
func (backend) Reset(string)  {}
func (backend) Control(_ context.Context, r control.Request) (int, []byte, error) {
	return http.StatusOK, []byte(`{"task":"` + r.Task.String() + `"}`), nil
}

func TestFabric_CarriesTheControlAPI(t *testing.T) {
	f := newFabric(t)
	register(t, f, "10.0.0.1:8080", control.Handler(backend{}, nil, control.Settings{}, nil))
	c := f.Caller()
	code, reply, err := c.Post(context.Background(), "http://10.0.0.1:8080/control/check/5", []byte(`{"key":"a"}`))
	if err != nil || code != http.StatusOK || string(reply) != `{"task":"TASK_CHECK"}` {
		t.Fatalf("check: %d %s %v", code, reply, err)
	}
	code, _, err = c.Post(context.Background(), "http://10.0.0.1:8080/control/nope", nil)
	if err != nil || code != http.StatusBadRequest {
		t.Fatalf("unknown task: %d %v (a 4xx is a reply, not an error)", code, err)
	}
}

// within waits for ch to be closed, at most wait.
func within(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatal("timed out")
	}
}
