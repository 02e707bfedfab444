package sim

// The adapters' ZooKeeper I/O. Registration, contenders, reading the cluster, writing the configuration and
// the phase's guard are the production functions themselves (session.RegisterPod, leader.FindOrCreateContender,
// model.ReadCluster, model.WriteConfiguration, model.HoldsLock, model.ClearHash), and the watchers run as
// shipped (host.go); what is left here is the leader's watch, which in production lives on a goroutine of
// its own (the Watch effect of actors/leader/actor.go).

import (
	"log/slog"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// existsWatch is the leader adapter's Watch effect: ExistsW, NodeWatched, then NodeChanged when it fires.
func existsWatch(t *task, c zk.Conn, gen uint64, p string) {
	ok, _, ch, err := c.ExistsW(p)
	t.tell(&v1.NodeWatched{Generation: gen, Path: p, Exists: ok, Failure: protocol.Failure(err)})
	if err != nil {
		return
	}
	t.waitWatch(ch, gen, p)
}

// noLog discards the production functions' logs: the trace records what matters.
func noLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// unfenced commits a configuration write without the lock check: SkipFence's broken variant.
func unfenced(c zk.Conn, _ string, ops ...zk.Op) error {
	_, err := c.Multi(ops...)
	return err
}
