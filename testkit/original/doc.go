// Package original runs, inside a test, a pod that behaves on the wire as a pod of the original Ochopod
// (Python 2, Kazoo, v1.0.7) does, so that mixed clusters are tested against real ZooKeeper without Python:
//
//   - registration: pods/ and hash ensured with empty data (Kazoo's ensure_path), then the pod node created
//     ephemeral and sequential with no data and filled with its payload (with its seq) by a second write;
//   - leader lock: the Kazoo Lock recipe's contender, <hex uuid>__lock__<seq>, holding no data; the lowest
//     sequence leads, each contender watches its predecessor;
//   - as leader (the original's reactive model): creates snapshot as {} (ephemeral; an existing one is
//     kept), keys its dependencies as depends_on declares them, a wildcard ('*') holding the merged pods of
//     every match; hashes what it read its own way (MD5 of a JSON document of its own, not ours: the
//     original's depends on Python 2's dict order); on a change runs check, on and ok against every pod with
//     {"pods", "dependencies", "key"}, then sets snapshot and hash, with neither fencing nor a cleared hash;
//   - the control API of the original's piped model: check, on, off, ok answer 200; an on while "running"
//     with dependencies other than the last on's counts a restart, as the original tears its process down.
//
// It polls nothing: it follows ZooKeeper watches, and retries a failed configuration after a short timer.
// What it saw that an original pod fails on (a hash node of null data, a body it cannot decode) is kept in
// Violations.
package original
