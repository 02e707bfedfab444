package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// run calls one user callback as a task of its own, which tells CallbackDone. The task ends when the callback
// returns; its context is cancelled when the incarnation ends or the machine gives the callback up.
func (b *behaviour) run(ctx host.Context, e RunCallback) {
	cctx, cancel := context.WithCancel(b.ctx)
	b.running[e.Epoch] = cancel
	l, log := b.cfg.Lifecycle, ctx.Logger()
	ctx.Go(protocol.Name(e.Name), func(t host.Task) {
		defer cancel()
		done := &v1.CallbackDone{}
		if err := guard(func() error { return invoke(cctx, l, e, done) }, protocol.Name(e.Name), log); err != nil {
			// The machine logs the failure.
			done = &v1.CallbackDone{Failure: protocol.Failure(err), BadCluster: errors.Is(err, sdk.ErrBadCluster)}
		}
		// The cluster is garbage before the machine hears, so that the control server, which gives a large
		// body's memory back shortly after it replied, does not find it still held here (DESIGN §12).
		e.Cluster = nil
		done.Epoch, done.Callback = e.Epoch, e.Name
		t.Tell(done)
	})
}

// guard turns a panic in user code into an error: a broken callback must not take the actor down. The stack
// goes to the log, not into the error (which may end up in an HTTP reply).
func guard(f func() error, name string, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("callback panicked", "callback", name, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%s panicked: %v", name, r)
		}
	}()
	return f()
}

// invoke calls the callback e names on l and fills done with its outcome.
func invoke(ctx context.Context, l sdk.Lifecycle, e RunCallback, done *v1.CallbackDone) error {
	p := sdk.Process{Pid: e.Pid}
	switch e.Name {
	case cbInitialize:
		return call(l, func(i sdk.Initializer) error { return i.Initialize(ctx) })
	case cbCanConfigure:
		return call(l, func(i sdk.CanConfigurer) error { return i.CanConfigure(ctx, e.Cluster) })
	case cbConfigure:
		cmd, err := l.Configure(ctx, e.Cluster)
		if err != nil {
			return fmt.Errorf("configure: %w", err)
		}
		done.Argv, done.Env = cmd.Argv, cmd.Env
		return nil
	case cbConfigured:
		return call(l, func(i sdk.Configurer) error { return i.Configured(ctx, e.Cluster) })
	case cbSanityCheck:
		return call(l, func(i sdk.SanityChecker) error {
			metrics, err := i.SanityCheck(ctx, e.Pid)
			if err != nil {
				return err
			}
			done.Result, err = encode(metrics)
			return err
		})
	case cbTearDown:
		return call(l, func(i sdk.TearDowner) error { return i.TearDown(ctx, p) })
	case cbSignaled:
		return call(l, func(i sdk.Signaler) error {
			v, err := i.Signaled(ctx, e.Payload, p)
			if err != nil {
				return err
			}
			done.Result, err = encode(v)
			return err
		})
	case cbFinalize:
		return call(l, func(i sdk.Finalizer) error { i.Finalize(ctx); return nil })
	}
	return fmt.Errorf("unknown callback %q", e.Name)
}

// call runs f if l implements I; the machine asks only for implemented callbacks, so absence is a no-op.
func call[I any](l sdk.Lifecycle, f func(I) error) error {
	i, ok := l.(I)
	if !ok {
		return nil
	}
	return f(i)
}

// encode writes a callback's result as the JSON of a reply or of the metrics; nothing is {}.
func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the result: %w", err)
	}
	if string(b) == "null" {
		return []byte("{}"), nil
	}
	return b, nil
}
