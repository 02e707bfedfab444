package protocol

import (
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Event is what a watch's one-shot channel gave: its event, or not-watching when the channel closed
// without one (zk.Conn's contract when the session ends).
func Event(ev zk.WatchEvent, open bool) v1.ZkEvent {
	if !open {
		return v1.ZkEvent_ZK_EVENT_NOT_WATCHING
	}
	switch ev.Type {
	case zk.EventNodeCreated:
		return v1.ZkEvent_ZK_EVENT_NODE_CREATED
	case zk.EventNodeDeleted:
		return v1.ZkEvent_ZK_EVENT_NODE_DELETED
	case zk.EventNodeDataChanged:
		return v1.ZkEvent_ZK_EVENT_NODE_DATA_CHANGED
	case zk.EventNodeChildrenChanged:
		return v1.ZkEvent_ZK_EVENT_NODE_CHILDREN_CHANGED
	}
	return v1.ZkEvent_ZK_EVENT_NOT_WATCHING
}

// State is a session event's state as the session machine reads it.
func State(s zk.SessionState) v1.ZkState {
	switch s {
	case zk.StateConnecting:
		return v1.ZkState_ZK_STATE_CONNECTING
	case zk.StateConnected:
		return v1.ZkState_ZK_STATE_CONNECTED
	case zk.StateDisconnected:
		return v1.ZkState_ZK_STATE_DISCONNECTED
	case zk.StateExpired:
		return v1.ZkState_ZK_STATE_EXPIRED
	case zk.StateClosed:
		return v1.ZkState_ZK_STATE_CLOSED
	}
	return v1.ZkState_ZK_STATE_UNSPECIFIED
}
