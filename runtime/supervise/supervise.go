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

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/runtime/clock"
)

// Policy decides when a crashed child restarts: the supervisor an actor states (actors/host).
type Policy = host.Supervisor

// DefaultPolicy restarts at once, then after 100 ms, 200 ms, ... up to 10 s, forgetting crashes after a minute.
func DefaultPolicy() Policy { return host.DefaultSupervisor() }

// Strategy is a protoactor SupervisorStrategy applying a Policy on a Clock. One Strategy may serve several
// children; it is safe for concurrent use.
type Strategy struct {
	policy  Policy
	clock   clock.Clock
	log     *slog.Logger
	mu      sync.Mutex
	history map[string][]time.Time
	stated  map[string]Policy // children that stated their own policy
}

// NewStrategy builds a restart strategy. log may be nil.
func NewStrategy(p Policy, c clock.Clock, log *slog.Logger) *Strategy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Strategy{policy: p, clock: c, log: log, history: map[string][]time.Time{}, stated: map[string]Policy{}}
}

// State makes p the policy of the child with this id (a host actor's stated supervisor, actors/host);
// other children get the strategy's own. Forget drops it once the child is stopped.
func (s *Strategy) State(child string, p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stated[child] = p
}

// Forget drops what the strategy keeps of a stopped child.
func (s *Strategy) Forget(child string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stated, child)
	delete(s.history, child)
}

var _ actor.SupervisorStrategy = (*Strategy)(nil)

// HandleFailure restarts the failed child after the policy's delay.
func (s *Strategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, _ any) {
	s.mu.Lock()
	p, ok := s.stated[child.Id]
	if !ok {
		p = s.policy
	}
	delay, h := p.Decide(s.history[child.Id], s.clock.Now())
	s.history[child.Id] = h
	s.mu.Unlock()
	s.log.Warn("actor crashed: restarting", "child", child.Id, "reason", reason, "crashes", len(h), "delay", delay)
	if delay <= 0 {
		sup.RestartChildren(child)
		return
	}
	s.clock.AfterFunc(delay, func() { sup.RestartChildren(child) })
}
