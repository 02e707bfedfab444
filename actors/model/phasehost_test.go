package model

import (
	"context"
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/protohost"
)

// phaseHost runs phase actors (PhaseProps) on the production host (runtime/protohost), each under a parent
// that hands its PhaseDone to the test: the phase as the model runs it, with the host's tasks and timers.
type phaseHost struct {
	sys *actor.ActorSystem
	clk clock.Clock // the timers' clock; nil: the wall clock
}

func newPhaseHost(tb testing.TB, clk clock.Clock) *phaseHost {
	quiet := slog.New(slog.DiscardHandler)
	h := &phaseHost{clk: clk, sys: actor.NewActorSystemWithConfig(actor.Configure(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet })))}
	tb.Cleanup(h.sys.Shutdown)
	return h
}

// runPhase runs one phase on a host of its own.
func runPhase(tb testing.TB, ctx context.Context, c control.Caller, plan PhasePlan) ([]string, error) {
	return newPhaseHost(tb, nil).run(ctx, c, plan)
}

// run runs one phase to its end and returns the dropped pods and the failure. ctx ending first stops the
// actor, as the model stopping does, and run returns ctx's cause once it stopped.
func (h *phaseHost) run(ctx context.Context, c control.Caller, plan PhasePlan) ([]string, error) {
	done := make(chan *v1.PhaseDone, 1)
	props := protohost.Props(PhaseProps(PhaseConfig{Plan: plan, Caller: c, Generation: 7}), protohost.Env{Clock: h.clk})
	parent := h.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &phaseParent{props: props, done: done} }))
	defer func() { _ = h.sys.Root.StopFuture(parent).Wait() }()
	select {
	case d := <-done:
		if d.GetGeneration() != 7 {
			return nil, protocol.Err(protocol.Other("PhaseDone of another generation"))
		}
		return d.GetDropped(), protocol.Err(d.GetFailure())
	case <-ctx.Done():
		_ = h.sys.Root.StopFuture(parent).Wait()
		return nil, context.Cause(ctx)
	}
}

type phaseParent struct {
	props *actor.Props
	done  chan<- *v1.PhaseDone
}

func (p *phaseParent) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.Spawn(p.props)
	case *v1.PhaseDone:
		select {
		case p.done <- msg:
		default: // a second PhaseDone: the test sees one
		}
	}
}
