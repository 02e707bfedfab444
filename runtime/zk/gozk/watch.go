package gozk

import (
	gozk "github.com/go-zookeeper/zk"

	"github.com/ochopod/ochopod/runtime/zk"
)

// watch forwards the one event of a library watch channel to the port's channel, translated.
//
// The library puts each event in exactly one buffered channel and closes it, from its receive loop, before
// it handles the server's next message. A goroutine per watch moves the event on; in addition every call
// moves, before it returns, the events that are already there (syncWatches). So when a call returns, every
// watch event the server sent before that call's answer is in its channel: a caller that reads new data sees
// the event about it as ready, which is ZooKeeper's ordering guarantee in channel form.
type watch struct {
	raw  <-chan gozk.Event
	out  chan zk.WatchEvent // buffered: the one send never blocks
	done chan struct{}      // closed once the event is in out
}

// addWatch wraps a channel the library returned for a successful *W call.
func (c *conn) addWatch(raw <-chan gozk.Event) <-chan zk.WatchEvent {
	w := &watch{raw: raw, out: make(chan zk.WatchEvent, 1), done: make(chan struct{})}
	c.mu.Lock()
	if c.loopEnded {
		// The library has ended and fired every watch it had: the event is there, no goroutine needed.
		c.mu.Unlock()
		c.take(w, true)
		return w.out
	}
	c.watches[w] = struct{}{}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.take(w, true)
		c.mu.Lock()
		delete(c.watches, w)
		c.mu.Unlock()
	}()
	return w.out
}

// take moves w's event if there is one (block: wait for it). Exactly one receive gets the event; whoever
// finds the channel closed instead waits until the other has delivered it.
func (c *conn) take(w *watch, block bool) {
	var ev gozk.Event
	var ok bool
	if block {
		ev, ok = <-w.raw
	} else {
		select {
		case ev, ok = <-w.raw:
		default:
			return
		}
	}
	if !ok {
		<-w.done
		return
	}
	w.out <- c.watchEvent(ev)
	close(w.out)
	close(w.done)
}

// syncWatches moves every event already in a library watch channel to its port channel.
func (c *conn) syncWatches() {
	c.mu.Lock()
	if len(c.watches) == 0 {
		c.mu.Unlock()
		return
	}
	ws := make([]*watch, 0, len(c.watches))
	for w := range c.watches {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	for _, w := range ws {
		c.take(w, false)
	}
}

func (c *conn) watchEvent(ev gozk.Event) zk.WatchEvent {
	we := zk.WatchEvent{Path: c.strip(ev.Path)}
	switch ev.Type {
	case gozk.EventNodeCreated:
		we.Type = zk.EventNodeCreated
	case gozk.EventNodeDeleted:
		we.Type = zk.EventNodeDeleted
	case gozk.EventNodeDataChanged:
		we.Type = zk.EventNodeDataChanged
	case gozk.EventNodeChildrenChanged:
		we.Type = zk.EventNodeChildrenChanged
	default: // EventNotWatching: the session expired or the client closed
		we.Type = zk.EventNotWatching
		err := ev.Err
		if err == nil {
			err = errUnknownWatchEvent{ev.Type}
		}
		we.Err = c.mapErr("watch", we.Path, err)
	}
	return we
}

type errUnknownWatchEvent struct{ t gozk.EventType }

func (e errUnknownWatchEvent) Error() string { return "gozk: unexpected watch event " + e.t.String() }
