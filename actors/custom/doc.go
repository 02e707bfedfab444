// Package custom runs the actors a program adds to its pods (DESIGN §4 "Custom actors"), in the pod's tree
// beside the built-in ones and on the same host, so the simulation (testkit/sim) runs them as it runs the
// session or the leader:
//
//	root
//	├── lifecycle
//	├── custom              the pod-scope actors: they live as long as the pod
//	│   └── custom:<name>
//	└── session
//	    └── leader
//	        ├── custom      the leader-scope actors: started when the pod wins the lock, stopped when it
//	        │   └── custom:<name>   loses it; each gets the fenced write of its own nodes (Nodes)
//	        └── model
//
// An actor is a host.Behaviour made by Actor.New, restarted after a crash as its stated supervisor says. It
// hears the pod's events as protobuf messages (the Events filter), which its group hears from the moment its
// parent spawns it (host.Props.Events) and passes on:
//
//	*v1.RoleChanged        the pod became leader or follower (told after the SessionStatus that shows it)
//	*v1.SessionStatus      the ZooKeeper session's state (DESIGN §5)
//	*v1.ClusterConfigured  on the leader: the cluster as last configured, once snapshot and hash are written
//	*v1.LifecycleStatus    the sub-process's state (DESIGN §6)
//
// An incarnation restarted after a crash is told again the last event of each kind its group heard, so it
// rebuilds its state (STYLE 7); events from before the group's spawn are not replayed (a leader-scope actor
// hears its pod lead, and its term's ClusterConfigured). It asks the lifecycle with a
// *v1.ControlRequest sent with Request to Env.Pod, and gets the *v1.ControlReply (200 for any task of a pod
// without a process).
//
// runtime/pod (pod.Config.Actors) and testkit/sim (sim.Options.Actors) wire them with one code, Wiring.
package custom
