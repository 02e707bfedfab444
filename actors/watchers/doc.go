// Package watchers is the child of the cluster model (DESIGN §4, §7) that keeps one-shot ZooKeeper watches
// armed on a set of targets and tells its parent v1.Changed{target, kind, event} whenever one of them fires. The
// model is level-triggered (STYLE 7): a Changed only means "read again", never "this is what changed".
//
// # Input and output
//
// v1.WatchSet replaces the target set. Targets still in the set keep their watch; new ones are armed;
// dropped ones are forgotten, and their watches' late events ignored. Kinds (the WatchTarget comments in
// proto/ochopod/v1/model.proto):
//
//	pods      ChildrenW on the path (a cluster's pods/); while the node is missing, ExistsW until it
//	          appears, then ChildrenW again
//	snapshot  ExistsW on the node: a data watch while it exists (fires on set and delete), an exist watch
//	          while it does not (fires on create)
//	clusters  ChildrenW on /ochopod/clusters (zk.Root, also when the path is empty), missing node as pods
//	pod       as snapshot: a pod node still registering, until its payload holds its seq
//
// The parent gets Changed{target, kind, event} with kind (v1.ChangeKind) one of
//
//	armed             a new target's first watch is set: read, so nothing before the watch is missed
//	fired             the watch fired with event (v1.ZkEvent: node created, deleted, data or children
//	                  changed), and it is already set again (see below)
//	lost              the watch was lost without its event (session expired, client closed): retrying
//	failed            a watch could not be set (connection lost...): retrying
//	rearmed           a watch is set again after one of the two above
//
// # Re-arm first, report second
//
// A fired watch is set again before the parent hears of it. The parent's read therefore comes after the
// new watch is in place, and any change after that read fires it: no change falls between two watches. The
// same holds for "armed" and "rearmed". The cost is one ZooKeeper round trip of delay per report.
//
// # States of one target
//
//	                WatchSet adds the target
//	                           │
//	                           ▼
//	       ┌──────────────►  arming  ◄─────────────────┐
//	       │                │  ▲  │                    │
//	       │     watch set: │  └──┘ pods/clusters node │ retry timer
//	       │     report the │       missing: ExistsW;  │ (runtime/backoff
//	       │  pending event │       it appeared:       │  on the clock port)
//	fired: │                ▼       ChildrenW          │
//	re-arm └─────────────  armed                    backoff
//	                        │                          ▲
//	                        └── watch lost ────────────┤ reports "lost" at once
//	               arming ───── call failed ───────────┘ reports "failed" at once
//
// The pending event is "armed" for a new target, "fired" with its event after a fire, "rearmed" after a
// failure or loss.
//
// A target leaves the machine only through a WatchSet that drops it. Retries never stop on their own: a
// session that ended keeps failing until the session actor stops the leader, the model and so this actor;
// the backoff's Max bounds the rate meanwhile. Only events drive the machine: it never polls.
//
// # Epochs
//
// Every arm gets a new generation, unique across targets (STYLE 2). A completion (NodeWatched), an event
// (NodeChanged) or a retry timer (TimerFired) is applied only if its generation is the one its target holds
// now, and in the state that expects it; everything else is stale (a dropped target, an abandoned arm) and
// ignored. A dropped target that comes back in a later set starts anew with a new generation.
//
// # Goroutines
//
// The adapter (actor.go) makes each ZooKeeper call on a goroutine of its own, which reports the outcome to
// the actor's mailbox, then waits for the watch's one event, reports it and ends. So every such goroutine
// ends when its watch fires or when the connection closes (the port delivers EventNotWatching then closes
// the channel); a call that sets no watch ends it at once. The port cannot remove a watch: a dropped target's
// goroutine lingers until its node changes or the session ends, and its report is dropped as stale. Retry
// timers are stopped when the actor stops.
//
// # Restarts
//
// The last WatchSet is kept by the Props (one per model incarnation), outside the actor instance: a crashed
// and restarted watchers actor re-arms every target and reports "armed" for each, so the model reads again
// and nothing is lost (STYLE 7).
package watchers
