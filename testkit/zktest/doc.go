// Package zktest is the conformance suite of the ZooKeeper port (STYLE 5): one body of tests that every
// implementation of zk.Dialer / zk.Conn must pass, the in-memory one (testkit/zkmem) and the real adapter
// (runtime/zk/gozk against a real server) alike. It pins the ZooKeeper behaviour Ochopod relies on (DESIGN §3,
// §5): sequence numbering, ephemeral nodes, one-shot watches and their order, the error sentinels, Multi's
// atomicity and the fencing helper, chroots, and what disconnection and expiry do to a session.
//
// RunConformance takes a function that builds a Harness for each subtest. The Harness gives a dialer and an
// ensemble, the session timeout to use, and the fault primitives the suite needs: cut and restore one
// session's connection, and let time pass for the server. For zkmem these are the server's fault API and the
// virtual clock; for the real server a TCP proxy per session and the wall clock. The suite builds session
// expiry from them (cut, let the timeout pass, restore), so both runs exercise the same scenario.
//
// Subtests call t.Parallel: a Harness must not share mutable state with another subtest's (a fresh zkmem
// server each, or a private chroot on a shared real server).
package zktest
