// Package executor is the actor that runs the pod's one sub-process (DESIGN §4, §6): it spawns it through the
// proc port, reports its start and its exit, signals its process group and tears it down. What to run and when
// is the lifecycle's business (its parent); the executor only carries it out.
//
// Messages (proto/ochopod/v1/executor.proto). Every message names the process's incarnation, chosen by the
// sender, increasing, starting at 1:
//
//	ExecStart     → ExecStarted{pid} or ExecStarted{error}; refused (ExecStarted{error}) while a process of
//	                any incarnation runs, and for an incarnation not newer than the last one
//	ExecSignal    → the signal goes to the process group; dropped unless that incarnation runs
//	ExecTearDown  → SIGTERM to the group unless term is false; after grace, SIGKILL unless soft; then
//	                ExecExited{torn_down: true, killed: whether the SIGKILL was needed}. Without grace (0) the
//	                SIGKILL follows at once. When the process exited, the rest of its group gets SIGKILL too
//	                (unless soft). For an incarnation that does not run (it exited already, or never started)
//	                the answer is ExecExited{torn_down: true, pid: 0} at once; so a tear-down that crosses an
//	                exit yields two ExecExited of that incarnation: the exit, then the tear-down's answer. A
//	                second tear-down while one is in progress is merged (a SIGTERM not yet sent is sent, a
//	                non-soft one arms the SIGKILL) and answered by the same single ExecExited.
//	exit by itself → ExecExited{torn_down: false} with the code (128 + n when killed by signal n); what the
//	                process left in its group gets SIGKILL, so no child outlives it into the next incarnation
//
// ExecStarted and ExecExited go to Config.ReportTo, by default the actor's parent (the lifecycle), sent with
// the executor as sender.
//
// States of the process (the machine):
//
//	            ExecStart
//	┌──────┐ ───────────────> ┌──────────┐
//	│ idle │                  │ starting │  ExecTearDown: kept, applied once started
//	└──────┘ <─────────────── └──────────┘
//	 ^    ^  ExecStarted{error}    │
//	 │    │                        │ ExecStarted{pid}
//	 │    │                        v
//	 │    │      exit         ┌─────────┐
//	 │    └────────────────── │ running │  ExecSignal: to the group
//	 │  ExecExited{torn_down: └─────────┘
//	 │             false}          │ ExecTearDown: timer "grace", SIGTERM unless term is false
//	 │                             v
//	 │           exit         ┌─────────────┐
//	 └─────────────────────── │ terminating │  "grace" fired: SIGKILL unless soft
//	   ExecExited{torn_down:  └─────────────┘
//	     true, killed}
//
// Purity and epochs (STYLE 1, 2): machine.go does no I/O and reads no clock. Its behaviour on the host
// (actors/host, DESIGN §4; actor.go) feeds back the spawn's
// outcome as ExecStarted, the exit as ExecExited and the grace timer as TimerFired{TIMER_GRACE, epoch:
// incarnation}; completions of another incarnation are dropped.
//
// Ownership (STYLE 15): the spawn runs inside the actor (fork and exec, about a millisecond). One host task per
// started process waits for its exit and tells it to the actor; it ends when the process is reaped or when the
// incarnation ends. The output copies belong to the spawner and end at EOF. When the executor stops or restarts it
// stops its timers; a process still running then (the lifecycle tears it down before it stops the executor,
// so only a crash of the executor or of the lifecycle leaves one) is SIGKILLed with its group and reported
// exited, killed: no process outlives the actor that knows it, as the kernel kills it if Ochopod dies (proc's
// parent-death signal).
package executor
