// Package sim is the deterministic simulation of DESIGN §10 and STYLE 11-12: several Ochopod clusters with
// dependencies, run under random faults from one seed, with invariants checked after every step, then healed
// and required to converge. The same seed always gives the same trace, so any failure replays exactly.
//
//	res, err := sim.Run(42, sim.Options{})            // one scenario; err names the seed and the failure
//	sum := sim.RunMany(1, 10000, sim.Options{})       // many, in parallel; sum.PerSecond
//	fmt.Print(res.Report())                           // seed, failure, topology, the trace's last 50 lines
//
//	go test ./testkit/sim -run TestSim_ManyScenarios -sim.seed=42 -sim.n=100000
//	go test ./testkit/sim -run TestSim_Replay -sim.replay=42    # one seed, whole trace
//	go run ./testkit/sim/cmd/simrun -seed 42 -n 100000          # the same, as a command
//
// # How it runs the actors
//
// protoactor-go schedules actors on goroutines, which no seed can order. So the sim does not run protoactor:
// it is itself a host of the actors' behaviours (actors/host, DESIGN §4 "One actor, two hosts"; host.go),
// on one goroutine. runtime/pod's root, the session, the leader, the model with its phases, the watchers, the
// lifecycle and the executor run as shipped: their behaviours' host calls become sim events (leader.go wires
// the leader's model as runtime/pod does). What protoactor provides is modelled explicitly
// (actor.go): a pid that survives restarts; messages of one sender to one receiver in order; a crash
// suspends the mailbox until the actor is restarted after the delay of the supervisor it states, during
// which its children keep running; a restart runs Restarting on the old incarnation, stops the children and
// starts a new incarnation from scratch, which must rebuild from ZooKeeper (STYLE 7) and receives whatever
// was still on its way to the pid.
//
// Every event sits on one virtual clock (testkit/vclock) ordered by (time, sequence): message deliveries,
// timers, I/O and faults. The seed (math/rand/v2's PCG; no global random source) draws the topology, every
// latency and every fault. A message inside a process takes up to 200 µs; a ZooKeeper call or a control
// request a network latency (mostly under 5 ms, sometimes tens, rarely a few hundred). Messages on one FIFO
// link (one sender to one receiver, one goroutine's reports) keep their order; everything else may be
// reordered by its latencies, which is how the sim picks "the next message in a random pending order where
// reordering is legal".
//
// The pods' control ports are a simulated network (http.go): each pod's address serves an http.Handler, and
// the sim's control.Caller, called inside a task, turns a request into a delivery one network latency later
// and its reply into another event one latency after the handler answered; a closed address refuses, a
// partitioned one loses the request until the caller's context ends. The shipped phase (actors/model
// PhaseProps) sends its requests through it, each from a task of its own with its own request timer; each pod
// answers with the real control handler (runtime/control) over its root and its lifecycle (world.go), whose
// calls into the tree wait for their replies on the virtual clock. It is not testkit/fabric: the fabric runs
// each handler on a goroutine and blocks its caller until the reply or the context's end, where the sim has
// one thread and must yield instead; a hook in the fabric would replace that whole core (dispatch, waiting,
// cancellation), leaving only its routing table shared, and its partitions fail at once where the sim's lose
// the request until the caller's timeout. Both keep control.Caller's contract, one test run on each and on
// the real HTTPCaller (testkit/callertest).
//
// I/O off the actor (host.Context's Go) becomes tasks (task.go): the body runs
// as a coroutine (iter.Pull), and the in-memory ZooKeeper's op hook hands control back to the sim before
// each call, so every ZooKeeper call of every task is an event of its own: other pods' calls, watch and
// session events and faults interleave between the calls of one registration or one read. A task that waits
// for a watch's event (host.Recv) is parked; watch and session events, which zkmem emits synchronously into
// channels, are taken after each event and resume it.
//
// # What is simulated, and what is not
//
// Simulated: ZooKeeper (testkit/zkmem: sessions, ephemeral and sequential nodes, watches, multi, expiry on
// the virtual clock); per pod the root's identity (key, seq), the session, the leader lock, the model and its
// watchers, the lifecycle, the executor and the control handler; the configuration phase as shipped
// (actors/model's phase actor: check with 410 dropping a dead pod, off with full_shutdown, on, ok; in
// parallel or sequential; the guard, the arm and the request timers) with its requests and replies as events
// on the simulated network. Around each pod, the simulated world (world.go): a user lifecycle whose callbacks
// succeed unless a fault says otherwise, its processes (testkit/fakeproc), and what `ochopod run` does
// (deregister and linger once the lifecycle is dead, exit on SIGTERM). Topologies: 2-3 clusters of 1-5 pods,
// dependencies between some (cycles and a wildcard
// included), damper 0, 300 ms or 2 s, session timeout 4 s or 10 s.
//
// Faults (faults.go): a pod killed (its sessions expire one timeout later), leaving (SIGTERM: it
// deregisters) or dying (its sub-process exits 0: the lifecycle dies and answers 410 while the pod lingers),
// its sub-process crashing (the lifecycle restarts it), a pod joining, a pod joining and
// leaving within the damper, a session expired, a client disconnected within the timeout, a partition of
// some pods for up to twice the timeout, an actor crashing anywhere in the pod's tree (root, lifecycle,
// executor, session, leader, model, phase, watchers, custom actors; each restarted by the supervisor it states), a
// ZooKeeper call failing before or after it was applied, a session reset (POST /reset), an operator deleting
// the lock holder's node (also right before a leader's snapshot and hash write: the moment the fence exists
// for; and while a leader that held it restarts after a crash), a model crashing as its snapshot and hash
// write goes out while a pod joins, the write held up a few seconds (stale.go: the moment the hash's
// compare-and-set exists for), a leader crashing as its contender create goes out, the create held up until
// the next incarnation's and its report late (stale.go: two lock nodes of one session, the moment the leader's
// own-node check exists for), a pod whose can_configure fails for a while. On the control ports: a
// partition (requests and replies lost until the leader's timeout), a port refusing connections, a slow pod
// (its replies leave past the leader's per-pod timeout), a stalled pod (its callbacks hang past the
// request's timeout: 408).
//
// Not simulated: protoactor itself (its scheduling, mailboxes, supervision code), the go-zookeeper adapter,
// real processes (fakeproc stands in), net/http's server and client (the sim's Caller and handlers stand
// for them: requests are not encoded as HTTP on a wire), the probe (the sim's pods declare none), bindings and
// specs, several ZooKeeper servers, and zkmem's documented divergences (a call while disconnected fails at
// once; a new dial always connects at once, even for a pod that is partitioned). No actor is a copy of
// production code any more: the sim's own code is the host, the network, ZooKeeper, the processes, time, and
// the world around the pods (world.go).
//
// # Invariants
//
// After every event and fault (invariants.go):
//
//	(a) a cluster's snapshot, hash or history, or a custom actor's node under actors/, is written only by the
//	    session holding the lowest lock contender, and an older holder never writes after a newer one
//	    (checked inside zkmem on every commit)
//	(b) a pod's seq never changes: its session registers with it, its node carries it, every configuration
//	    gives it that seq (and no other pod the same one), from the first configuration on
//	(c) at most one pod per cluster believes it leads while holding a live lock node of its session, and
//	    that node is the lowest contender
//	(d) a pod that believes it leads learns that its lock node is gone within OverlapBound while connected,
//	    and within a third of the session timeout (when the session steps down) plus OverlapBound of being
//	    cut off from ZooKeeper
//	(e) a pod never starts a second process while one runs (world.go), and at convergence the process it
//	    runs is the one its lifecycle knows: none orphaned by a crash of the lifecycle, executor or root;
//	    its lifecycle then also holds the configuration the pod accepted last (none forgotten by a restart)
//
// Then the liveness phase heals every partition and every fault of the pods (what a fault holds already,
// a hanging callback or a late reply, runs to its end), stops the faults (a failure already injected into a
// session's next call still strikes once), replaces a cluster's last pod if none is
// left, runs until nothing is due within three minutes, and requires convergence (liveness.go): every live pod
// registered with its seq; one leader per cluster, holding the lowest lock node, its model idle on the hash
// in ZooKeeper; that hash the hash of the live pods and the dependencies' snapshots, the snapshot their
// payloads; every live pod last configured with exactly the live pods; the history (DESIGN §13) parses, keeps
// at most 100 phases, in order of their ends, each naming a pod of the cluster as leader. zkmem's own
// structural checks and recorded violations must be clean too.
//
// Options.Paused creates every cluster's paused node before any pod starts and deletes it when the liveness
// phase begins: no pod may be configured before, and every cluster must converge after
// (TestSim_PausedClustersWaitThenConverge).
//
// # Virtual scale
//
// Options.Scale (scale.go; issue #18) replaces the drawn topology: 500 clusters of 10 000 pods in all by
// default, each depending on up to three earlier clusters (a DAG; one in twenty on a wildcard block of ten
// instead), dampers of 5 s and 10 s. The pods join within ten seconds of virtual time while a few
// membership faults strike (kill, leave, die, expire), with the invariants checked after every event as
// ever: checkSafety looks only at the clusters the event touched (a leader of theirs ran, an actor of theirs
// was spawned, stopped, crashed or restarted, a commit wrote under them) and those whose (d) deadline runs, and poll tries only the parked tasks of the pods whose
// sessions zkmem just gave an event (zkmem.WithDelivered), so an event costs what it touches, not the
// topology. Then the liveness phase and its convergence check, and per cluster the delay from the last
// change that affects it to its last hash write must stay within two of its dampers (scale.go says what
// "last change" is along a dependency chain). TestSim_Scale runs 50 clusters of 1 000 pods in CI;
// `go run ./testkit/sim/cmd/simrun -scale` the whole size, printing wall time, events and the table.
//
// # Custom actors
//
// Options.Actors are a program's own actors (actors/custom, DESIGN §4), run in every pod where runtime/pod
// runs them, by the same code (custom.Wiring; custom.go): the pod-scope group under the root, the
// leader-scope group under the shipped leader while it holds the lock. They hear the pod's publications
// (host.Props.Events) and are traced by name; the crash fault picks leader-scope ones too. Options.Converged
// checks the program's own invariant once every cluster converged (examples/clustersize/size).
//
// # Broken variants
//
// Options.SkipFence gives the leaders' models a client whose multis drop zk.Fenced's check of the lock node
// (leader.go), so their fenced writes (snapshot and hash, the arm's clearing, the history) land unchecked;
// invariant (a) catches it within a few seeds (TestSim_BrokenFenceIsCaught). Options.NoStepDown drops the session's
// suspend timer, so a leader cut off never steps down; invariant (d) catches it within a few dozen seeds
// (TestSim_NoStepDownIsCaught).
//
// # Former production issues
//
// The failures the simulation found in the production machines, all fixed, are diagnosed (diagnose.go) and
// labelled with the Issue* constants in Result.Issue, so that a fixed bug that comes back is named. The gate
// is strict: TestSim_ManyScenarios fails on every failing scenario, labelled or not. Result.Advisories
// counts completions a restarted actor's new incarnation acted on although its previous incarnation issued
// them (failures too with -sim.strict).
package sim
