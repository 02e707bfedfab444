package sim

// What is left of the adapters' I/O: the session, leader and watchers run as shipped (host.go), and the
// model adapter calls the production functions (model.ReadCluster, model.WriteConfiguration, model.HoldsLock,
// model.ClearHash).

import (
	"log/slog"

	"github.com/ochopod/ochopod/runtime/zk"
)

// noLog discards the production functions' logs: the trace records what matters.
func noLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// unfenced commits a configuration write without the lock check: SkipFence's broken variant.
func unfenced(c zk.Conn, _ string, ops ...zk.Op) error {
	_, err := c.Multi(ops...)
	return err
}
