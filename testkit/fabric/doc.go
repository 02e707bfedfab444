// Package fabric is an in-memory HTTP network between pods (DESIGN §10, STYLE 4, 12): whole clusters run in one
// process without sockets. Each pod's control API (control.Handler, or any http.Handler) is registered at the
// "ip:port" the pod advertises in its payload; the leader's control.Caller comes from the fabric and delivers
// each request by calling the handler's ServeHTTP with an httptest.ResponseRecorder.
//
//	f := fabric.New(fabric.WithClock(clk))              // delays run on the virtual clock
//	t.Cleanup(f.Close)
//	if err := f.Register("10.0.0.1:8080", control.Handler(p, nil, control.Settings{}, nil)); err != nil {
//		t.Fatal(err)
//	}
//	model := &pod.ModelConfig{Caller: f.CallerFrom("10.0.0.1:8080")} // the pod's leader posts through the fabric
//	f.Partition("10.0.0.3:8080")                         // requests to or from it fail; f.Heal() ends it
//	f.Delay("10.0.0.2:8080", 5*time.Second)              // requests to it wait 5 s of clock time
//	f.Calls()                                            // every request, in arrival order, with its outcome
//
// # Contract (control.Caller, as HTTPCaller keeps it)
//
//   - Post sends body with POST, Content-Type and Accept application/json, to the handler registered at the
//     URL's host:port (port 80 when the URL has none; only http URLs). It returns the status code and the
//     whole reply body; any status code is a reply, not an error. A handler that writes no status answers 200.
//   - err is set when no complete reply was read, as with the real client, and wraps the cause:
//     ErrRefused (and syscall.ECONNREFUSED) when nothing is registered at the address; ErrPartitioned (and
//     syscall.EHOSTUNREACH) across a partition; the hook's error; ErrHandlerPanicked (and
//     io.ErrUnexpectedEOF) when the handler panicked, which net/http turns into a closed connection;
//     ctx.Err() when ctx ended first; ErrClosed once the fabric is closed; ErrBadURL for a URL it cannot route.
//   - The handler runs on a goroutine of its own with a request whose context is the caller's ctx, so a
//     handler sees the caller give up as it would see a client disconnect. Post returns as soon as ctx ends,
//     without waiting for the handler; the handler's late reply is dropped. Close waits for such handlers.
//   - Each request goes through, in order: the OnRequest hook (from, to, path), the Delay of its target (on
//     the fabric's clock: with a virtual clock it waits until the test advances time; ctx still cuts it short),
//     then the partition and the registration are checked at delivery, so a partition or an Unregister that
//     happens during the delay applies to it. A request already delivered runs to its end.
//
// # Faults
//
// Partition(addrs...) cuts the addresses off: every request to one of them, and every request from one (a
// Caller made by CallerFrom), fails at once with ErrPartitioned. Calls accumulate; Heal lifts every
// partition. The failure is immediate, where a real partition is silence until a timeout; a silent link is
// Delay(addr, d) with d past the caller's timeout. OnRequest installs one hook that sees every request and
// may fail it (its error is returned, wrapped) or act on the world (advance a clock, unregister a pod); it
// runs on the caller's goroutine, with no lock held.
//
// # Determinism
//
// The fabric starts no goroutine but one per delivered request, and reads no time except through its clock
// (clock.Real when none is given). No map order reaches a result. Calls lists requests in the order they
// reached the fabric, numbered from 1: with one caller, or callers the test orders, the same run gives the
// same list; requests made concurrently (a configuration phase posts to every pod at once) arrive in the
// order the Go scheduler picks.
//
// # Quiescence
//
// InFlight reports how many requests are in flight (between arrival and reply, or with a handler still
// running) and a channel closed at the next change of that count; it satisfies probe.Idler, so
// probe.Quiesce and probe.WaitIdle can wait for the fabric to drain. A request waiting on the clock for its
// Delay does not count while it waits: it counts again from the moment the timer fires, inside the clock's
// Advance, so a quiescence check after Advance cannot miss it.
//
// # Where it differs from net/http
//
// No sockets, no connection reuse, no timeouts of its own (ctx is the only bound), no reply size cap (the
// real HTTPCaller caps at control.DefaultMaxReply), no redirects, no TLS. r.RemoteAddr is the caller's
// address (CallerFrom), or "0.0.0.0:0" for an anonymous Caller. Handlers may not hijack the connection or
// use http.ResponseController deadlines (httptest.ResponseRecorder supports neither).
package fabric
