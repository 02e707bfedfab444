// Package supervise is the project's restart policy for protoactor children (DESIGN §4): restart a crashed
// child at once the first time, then back off exponentially while it keeps crashing, so that a broken
// ZooKeeper or a crash loop is not hammered. The policy is a pure function; the strategy applies it with the
// clock port, never the wall clock (protoactor's own backoff strategy reads time.Now and sleeps on timers).
package supervise

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/clock"
)

// Policy decides when a crashed child restarts.
type Policy struct {
	Backoff backoff.Policy
	// Window: crashes older than this are forgotten, so a child that ran well for a while restarts at once.
	Window time.Duration
}

// DefaultPolicy restarts at once, then after 100 ms, 200 ms, ... up to 10 s, forgetting crashes after a minute.
func DefaultPolicy() Policy {
	return Policy{Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second}, Window: time.Minute}
}

// Decide returns the delay before restarting a child that crashed at now, given the times of its earlier
// crashes, and the history to keep.
func (p Policy) Decide(history []time.Time, now time.Time) (time.Duration, []time.Time) {
	kept := make([]time.Time, 0, len(history)+1)
	for _, t := range history {
		if p.Window <= 0 || now.Sub(t) < p.Window {
			kept = append(kept, t)
		}
	}
	delay := p.Backoff.Delay(len(kept)) // earlier crashes in the window: 0 → at once
	return delay, append(kept, now)
}

// Strategy is a protoactor SupervisorStrategy applying a Policy on a Clock. One Strategy may serve several
// children; it is safe for concurrent use.
type Strategy struct {
	policy  Policy
	clock   clock.Clock
	log     *slog.Logger
	mu      sync.Mutex
	history map[string][]time.Time
}

// NewStrategy builds a restart strategy. log may be nil.
func NewStrategy(p Policy, c clock.Clock, log *slog.Logger) *Strategy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Strategy{policy: p, clock: c, log: log, history: map[string][]time.Time{}}
}

var _ actor.SupervisorStrategy = (*Strategy)(nil)

// HandleFailure restarts the failed child after the policy's delay.
func (s *Strategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, _ any) {
	s.mu.Lock()
	delay, h := s.policy.Decide(s.history[child.Id], s.clock.Now())
	s.history[child.Id] = h
	s.mu.Unlock()
	s.log.Warn("actor crashed: restarting", "child", child.Id, "reason", reason, "crashes", len(h), "delay", delay)
	if delay <= 0 {
		sup.RestartChildren(child)
		return
	}
	s.clock.AfterFunc(delay, func() { sup.RestartChildren(child) })
}
