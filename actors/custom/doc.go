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
//	*v1.ClusterConfigured  the cluster as configured, with its pods and dependencies: one per configuration
//	*v1.LifecycleStatus    the sub-process's state (DESIGN §6)
//
// ClusterConfigured comes from two places, and each scope hears one of them (EventsOf), so no actor hears
// a configuration twice:
//
//	pod scope     every pod's own (source pod): published when the pod ran the phase's ok (DESIGN §7 step 3),
//	              by its lifecycle, or by its root in a pod without a process; the cluster the ok carried, as
//	              the pod was configured with it. Followers and the leader's pod alike. Before the leader
//	              writes snapshot and hash; its hash is the one written unless the phase dropped dead pods.
//	leader scope  the leader model's (source leader): once snapshot and hash are written (step 4), which is
//	              the moment to act on a configuration the cluster now records; also when a new leader takes
//	              over a clean cluster (no phase ran, no pod heard one).
//
// Both name the phase (ClusterConfigured.phase, as the pods got it in ?phase=): one per configuration. A phase
// retried after a failed write configures the pods again, and is heard again, under a new name. A pod that
// the phase's ok never reached (the leader ignores ok's replies, DESIGN §7) is not told of that
// configuration, as its configured() callback is not called.
//
// An incarnation restarted after a crash is told again the last event of each kind its group heard, so it
// rebuilds its state (STYLE 7); events from before the group's spawn are not replayed (a leader-scope actor
// hears its pod lead, and its term's ClusterConfigured). It asks the lifecycle with a
// *v1.ControlRequest sent with Request to Env.Pod, and gets the *v1.ControlReply (200 for any task of a pod
// without a process). Its requests go aside (ControlRequest.aside, set by the host its behaviour sees): no
// step of a leader's phase, so its check cannot make the phase's next off, on or ok answer 409, it names no
// phase, and its ok announces no configuration.
//
// runtime/pod (pod.Config.Actors) and testkit/sim (sim.Options.Actors) wire them with one code, Wiring.
package custom
