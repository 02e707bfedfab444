// Package lifecycle is the pod's lifecycle actor (DESIGN §6, the original's "Piped" model): it runs the control
// requests of §8 one at a time, in order, calls the user's callbacks (runtime/sdk), and supervises the pod's one
// sub-process through its child, the executor (actors/executor).
//
// Like every actor here it is a pure Machine (machine.go, tasks.go, supervision.go; effects.go) and one
// behaviour on the host (actors/host: actor.go, callbacks.go; DESIGN §4), the same code under protoactor in
// production and under the simulation's scheduler. Callbacks run as host tasks, timers are the host's. The machine never calls user code: a callback is an effect,
// its outcome comes back as CallbackDone with the epoch it was issued under; the process is tagged by its
// incarnation; timers by the incarnation (sanity checks) or the restart generation (backoff). Anything from an
// older epoch is dropped.
//
// The process, as LifecycleStatus.process shows it (a start in flight shows as stopped):
//
//	          on: initialize (once), configure (with a cluster), start
//	stopped ───────────────────────────────────────────────────────→ running
//	 │  ↑  ↑                                                            │  │
//	 │  │  └─ exit ≠ 0: a failure; restart with the last configuration ─┘  │ off, kill, checks used up,
//	 │  │                                                                  │ on (strict or dependencies
//	 │  └──────────── exited ──────────── terminating ←────────────────────┘ changed)
//	 │                        (tear_down or SIGTERM; SIGKILL after grace unless soft)
//	 │
//	 └─ kill (finalize once), exit 0, failed configuration ─→ dead: every request answers 410
//
// Rows of DESIGN §6 and where they are:
//
//	check   can_configure(cluster) → 200; 406 if it failed or the body is not a cluster    tasks.go beginCheck
//	on      strict or new dependencies: tear down first; running otherwise: 200            tasks.go beginOn
//	        initialize once, configure with a body, start unless ochopod_start=false
//	        406 and the pod dies if initialize, configure or the start fail
//	off     tear down → 200                                                                tasks.go begin
//	ok      configured(cluster) → 200; 500 if it failed                                    tasks.go beginOK
//	kill    tear down, finalize once, dead → 200                                           tasks.go finalize, die
//	signal  signaled(payload, process) → 200 with its JSON; 500 if it failed               tasks.go begin
//	        supervision: exit 0 → dead; exit ≠ 0 → restart and a failure; sanity checks    supervision.go
//	        and their budget; tear-down: tear_down or SIGTERM, grace, SIGKILL unless soft
//
// Choices where DESIGN §6 and the original leave room:
//   - Unknown tasks answer 400, a dead pod 410 (§8), before anything is queued. Requests queued behind the
//     pod's death get 410.
//   - The pod's own requests (restart after a crash, off when the checks are used up) queue behind the
//     requests already waiting, like the original's; its death (exit 0, failed configuration) goes first.
//   - An on with a body that is not a cluster, or an on before any configuration, answers 406 and the pod
//     lives: it is the caller's error, not the user's. A failed initialize, configure or start kills the pod.
//   - The first restart after a crash is immediate, later consecutive ones back off (Settings.RestartBackoff);
//     a passed sanity check, off or kill forget the crashes. While it waits, the status reads backoff.
//   - The sanity checks run on a schedule of their own, from a configured start (after Settings.CheckStart;
//     0: at once, like the original) until off, kill or a reconfiguration. Crashes and restarts do not move
//     it: a check while the process is down, or after it failed, fails without asking sanity_check, so a
//     process that crashes at once still uses its checks up and turns the pod off (DESIGN §6).
//   - The user's tear_down runs while the executor's grace period runs, so a slow tear_down cannot keep the
//     process past grace; if the process ends first, the tear_down's context is cancelled and the request goes
//     on once it returned (callbacks never overlap). A tear_down that fails falls back to SIGTERM.
//   - LifecycleStatus.exit_code, once dead, is the last process's exit status (0 if none ran), or 1 when the
//     pod died of a failed configuration.
//   - A callback that hangs holds the queue (as in the original); the control API's timeout answers 408 meanwhile.
//   - A request may name its configuration phase (Request.Phase, the leader's ?phase=): off, on and ok of a
//     phase other than the last check's answer 409 and change nothing, so a dead or deposed leader's request
//     delivered late cannot undo a newer phase. Requests without one (an operator, the original's leader) run.
//     A pod's own custom actor's request (Request.Aside) is no step of any phase: its phase is ignored and its
//     check does not count as the last check, so it cannot make the leader's next step answer 409.
//   - With pod-scope custom actors listening (Config.Cluster), each ok of a configuration that ran on a
//     cluster announces it (ClusterConfigured, DESIGN §4), its reply 200 or 500 alike: the leader writes the
//     configuration whatever ok answers. Refused (409) or bodiless oks, and aside ones, announce nothing.
//   - The cluster is opened once per body (sdk.Envelope, the payloads as sent) and parsed anew for each
//     callback that takes it, never kept parsed: a ClusterBlind lifecycle's pods never parse it, and between
//     phases a pod holds at most three clusters as sent (last configuration, delta base, last opened).
package lifecycle
