// Package fakeproc is a deterministic proc.Spawner for tests (DESIGN §10): processes that run no program and
// end only when the test says so, with the exit status or signal it chooses, and that record every signal
// they receive.
//
// Contract, and where it differs from the real spawner (proc.Reaper):
//   - Spawn never runs anything. It fails with the error given to FailNext, or, like the real one, for an empty
//     argv; there is no PATH lookup. Pids start at 1000 and increase by one per spawn, never reused.
//   - A process ends by ExitWith(status) or KillWith(sig), or when it receives a signal that ends it: SIGKILL
//     always does; SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and the other signals whose default
//     action terminates do unless the process ignores them (IgnoreSignals, Process.Ignore); signals whose
//     default is to do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) and SIGSTOP, SIGTSTP only get recorded.
//     Ending is synchronous: Done is closed before ExitWith, KillWith or Signal returns. The real spawner
//     learns of an exit later, on its reaper goroutine.
//   - Signals are recorded in order, also those sent after the process ended (the real Signal still reaches
//     the group's remaining members then); signal 0 is not recorded.
//   - There is no process group and no descendant: the output ends with the process. Stdout and Stderr write to
//     the Spec's writers synchronously; when the process ends, writers with a Flush() error method are flushed,
//     as the real spawner does at EOF.
//   - OnSpawn runs a function on each new process before Spawn returns, so a test can make a process exit at
//     once, before its spawner even tracked it.
//
// Everything is safe for concurrent use.
package fakeproc
