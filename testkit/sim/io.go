package sim

// The adapters' ZooKeeper I/O. Registration, contenders, reading the cluster, writing the configuration and
// the phase's guard are the production functions themselves (session.RegisterPod, leader.FindOrCreateContender,
// model.ReadCluster, model.WriteConfiguration, model.HoldsLock, model.ClearHash); what is left here is the
// watch loop, which in production lives on a goroutine of its own:
//
//	armWatch                 actors/watchers/watch.go, and the Watch effect of actors/leader/actor.go

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/ochopod/ochopod/actors/protocol"
	"github.com/ochopod/ochopod/actors/watchers"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// armWatch is watchers.watch: make the call, report NodeWatched, and if a watch was set, wait for its event.
func armWatch(t *task, c zk.Conn, e watchers.Arm) {
	var (
		exists bool
		ch     <-chan zk.WatchEvent
		err    error
	)
	switch e.Call {
	case watchers.CallChildren:
		_, _, ch, err = c.ChildrenW(e.Path)
		exists = err == nil
		if errors.Is(err, zk.ErrNoNode) {
			err = nil
		}
	case watchers.CallExists:
		exists, _, ch, err = c.ExistsW(e.Path)
	default:
		err = fmt.Errorf("%w: unknown call %d", zk.ErrBadArguments, e.Call)
	}
	out := &v1.NodeWatched{Generation: e.Generation, Path: e.Path, Exists: exists}
	if err != nil {
		out.Failure = protocol.Failure(fmt.Errorf("%s watch on %s: %w", e.Call, e.Path, err))
	}
	t.tell(out)
	if err != nil || ch == nil {
		return
	}
	t.waitWatch(ch, e.Generation, e.Path)
}

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
