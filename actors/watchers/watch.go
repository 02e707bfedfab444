package watchers

import (
	"errors"
	"fmt"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// watch carries out one Arm on its own goroutine: it makes the call, reports NodeWatched, and if a watch was
// set waits for the watch's single event and reports NodeChanged. It returns after the call when no watch was
// set (an error, or ChildrenW on a missing node), else when the watch fires or the connection closes: the port
// then delivers EventNotWatching and closes the channel (zk.Conn's contract), so no watch goroutine outlives
// its session.
func watch(t host.Task, c zk.Conn, e Arm) {
	var (
		exists bool
		ch     <-chan zk.WatchEvent
		err    error
	)
	switch e.Call {
	case CallChildren:
		_, _, ch, err = c.ChildrenW(e.Path)
		exists = err == nil
		if errors.Is(err, zk.ErrNoNode) {
			err = nil // not a failure: the machine watches for the node to appear
		}
	case CallExists:
		exists, _, ch, err = c.ExistsW(e.Path)
	default:
		err = fmt.Errorf("%w: unknown call %d", zk.ErrBadArguments, e.Call)
	}
	out := &v1.NodeWatched{Generation: e.Generation, Path: e.Path, Exists: exists}
	if err != nil {
		out.Failure = protocol.Failure(fmt.Errorf("%s watch on %s: %w", e.Call, e.Path, err))
	}
	t.Tell(out)
	if err != nil || ch == nil {
		return
	}
	ev, open := host.Recv(t, ch)
	t.Tell(&v1.NodeChanged{Generation: e.Generation, Path: e.Path, Event: protocol.Event(ev, open)})
}
