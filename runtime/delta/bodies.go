package delta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/ochopod/ochopod/runtime/payload"
)

// KeyProtocol is the payload key a pod registers "protocol": 2 under when it reads delta bodies (DESIGN §7).
// The original's pods never send it and ignore it.
const KeyProtocol = "protocol"

// Protocol is the version of the bodies this package makes and sdk.OpenBody reads.
const Protocol = 2

// TakesDeltas tells whether a pod's payload says it reads delta bodies.
func TakesDeltas(p payload.Payload) bool {
	v, ok := p.Int(KeyProtocol)
	return ok && v >= Protocol
}

// version is one cluster as the leader sends it: every payload and dependency entry encoded once.
type version struct {
	pods map[string][]byte // payloads as sent, by key
	deps map[string][]byte // dependency entries ({key: payload}) as sent, by name as declared
	sum  Sum
}

// Tracker is the leader's memory of each pod's base (DESIGN §7): the cluster it last answered 200 to an on
// with. One leader (one model) owns one; it is safe for concurrent use by a phase's requests. A new leader
// starts from a guess (Guess), or empty: its first phase then sends whole clusters.
type Tracker struct {
	mu    sync.Mutex
	bases map[string]*version
}

// NewTracker returns a tracker that knows no base.
func NewTracker() *Tracker { return &Tracker{bases: map[string]*version{}} }

// Guess takes a cluster as it was sent (each pod's payload and each dependency's entry, JSON bytes) for the
// base of each of its pods whose base the tracker does not know. A new leader guesses so from its own pod's
// base (DESIGN §7): every pod the last phase configured answered 200 to an on with that cluster, so its first
// phase sends what changed since, not whole clusters. A pod with another base answers 412 and gets the whole
// cluster in the same step. Guess keeps the maps.
func (t *Tracker) Guess(pods, deps map[string][]byte) {
	if len(pods) == 0 {
		return // no base: nothing configured the pod yet
	}
	v := &version{pods: pods, deps: deps, sum: Of(pods, deps)}
	if v.deps == nil {
		v.deps = map[string][]byte{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range pods {
		if _, ok := t.bases[k]; !ok {
			t.bases[k] = v
		}
	}
}

// Bodies prepares the bodies of one phase's cluster: its pods (each payload as the leader read it) and its
// dependencies (keyed as declared). Pods the cluster no longer holds are forgotten.
func (t *Tracker) Bodies(pods map[string]payload.Payload, deps map[string]map[string]payload.Payload) (*Bodies, error) {
	v := &version{pods: make(map[string][]byte, len(pods)), deps: make(map[string][]byte, len(deps))}
	deltas := map[string]bool{}
	for k, p := range pods {
		raw, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("delta: pod %s: %w", k, err)
		}
		v.pods[k] = raw
		deltas[k] = TakesDeltas(p)
	}
	for name, entry := range deps {
		if entry == nil {
			entry = map[string]payload.Payload{} // {} on the wire, as the original sent
		}
		raw, err := json.Marshal(entry)
		if err != nil {
			return nil, fmt.Errorf("delta: dependency %s: %w", name, err)
		}
		v.deps[name] = raw
	}
	v.sum = Of(v.pods, v.deps)
	t.mu.Lock()
	maps.DeleteFunc(t.bases, func(k string, _ *version) bool { _, ok := v.pods[k]; return !ok })
	t.mu.Unlock()
	return &Bodies{t: t, v: v, deltas: deltas, made: map[string]made{}, refused: map[string]bool{}, prefixes: map[*version][]byte{}}, nil
}

// Bodies are the bodies of one phase's cluster, pod by pod; safe for concurrent use.
type Bodies struct {
	t      *Tracker
	v      *version
	deltas map[string]bool // pods that read delta bodies

	mu       sync.Mutex
	made     map[string]made     // each pod's body, made once: check, on and ok send the same
	refused  map[string]bool     // pods that answered 412 to a delta: whole bodies for the rest of the phase
	prefixes map[*version][]byte // the body up to "key", by base; nil key: whole
	whole    [2][]byte           // the whole body up to "key": [0] plain, [1] with "hash" for protocol 2
}

type made struct {
	body  []byte
	delta bool
}

// Sum names this phase's cluster.
func (b *Bodies) Sum() Sum { return b.v.sum }

// Body is the body of pod key: a delta against its base when it reads deltas, has a base, and did not refuse
// one in this phase; else the whole cluster (with "hash" for a pod that reads deltas, so that it becomes its
// base by that name).
func (b *Bodies) Body(key string) (body []byte, isDelta bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m, ok := b.made[key]; ok {
		return m.body, m.delta, nil
	}
	prefix, isDelta := b.prefix(key)
	k, err := keyPart(key)
	if err != nil {
		return nil, false, err
	}
	body = append(append(make([]byte, 0, len(prefix)+len(k)), prefix...), k...)
	b.made[key] = made{body, isDelta}
	return body, isDelta, nil
}

// Parts is Body in two parts, the body up to "key" (shared by the pods of one base) and the key, never
// joined: a leader of 1 000 pods would hold a copy of the cluster per pod (DESIGN §12). Nothing is kept.
func (b *Bodies) Parts(key string) (parts [][]byte, isDelta bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	prefix, isDelta := b.prefix(key)
	k, err := keyPart(key)
	if err != nil {
		return nil, false, err
	}
	return [][]byte{prefix, k}, isDelta, nil
}

// keyPart ends a body: "key":<key>}.
func keyPart(key string) ([]byte, error) {
	k, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("delta: key: %w", err)
	}
	return append(append([]byte(`"key":`), k...), '}'), nil
}

// prefix is the body of pod key up to "key", and whether it is a delta; b.mu is held.
func (b *Bodies) prefix(key string) ([]byte, bool) {
	var base *version
	if b.deltas[key] && !b.refused[key] {
		b.t.mu.Lock()
		base = b.t.bases[key]
		b.t.mu.Unlock()
	}
	var prefix []byte
	switch {
	case base != nil:
		if prefix = b.prefixes[base]; prefix == nil {
			prefix = b.deltaPrefix(base)
			b.prefixes[base] = prefix
		}
	case b.deltas[key]:
		prefix = b.wholePrefix(1)
	default:
		prefix = b.wholePrefix(0)
	}
	return prefix, base != nil
}

// Refused records that pod key answered 412 to its delta: its base is not the leader's idea of it, and it
// gets the whole cluster from now on (DESIGN §7: in the same step).
func (b *Bodies) Refused(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refused[key] = true
	delete(b.made, key)
	b.t.mu.Lock()
	delete(b.t.bases, key)
	b.t.mu.Unlock()
}

// Accepted records that pod key answered 200 to on with this phase's cluster: its base from now on.
func (b *Bodies) Accepted(key string) {
	if !b.deltas[key] {
		return
	}
	b.t.mu.Lock()
	defer b.t.mu.Unlock()
	b.t.bases[key] = b.v
}

// wholePrefix is {"pods":{...},"dependencies":{...}, and "hash":"...", with withHash 1.
func (b *Bodies) wholePrefix(withHash int) []byte {
	if p := b.whole[withHash]; p != nil {
		return p
	}
	var buf bytes.Buffer
	buf.WriteString(`{"pods":`)
	writeObject(&buf, b.v.pods, nil)
	buf.WriteString(`,"dependencies":`)
	writeObject(&buf, b.v.deps, nil)
	buf.WriteByte(',')
	if withHash == 1 {
		buf.WriteString(`"hash":"` + b.v.sum.String() + `",`)
	}
	b.whole[withHash] = buf.Bytes()
	return b.whole[withHash]
}

// deltaPrefix is {"base":...,"hash":...,"pods":{added or changed},"gone":[...],"dependencies":{changed}, up
// to the key. A dependency entry the cluster no longer has goes as null.
func (b *Bodies) deltaPrefix(base *version) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"base":"` + base.sum.String() + `","hash":"` + b.v.sum.String() + `","pods":`)
	writeObject(&buf, b.v.pods, func(k string, raw []byte) bool { old, ok := base.pods[k]; return !ok || !bytes.Equal(old, raw) })
	buf.WriteString(`,"gone":`)
	var gone []string
	for k := range base.pods {
		if _, ok := b.v.pods[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	if gone == nil {
		gone = []string{}
	}
	g, _ := json.Marshal(gone) // strings always encode
	buf.Write(g)
	buf.WriteString(`,"dependencies":`)
	changed := map[string][]byte{}
	for name, raw := range b.v.deps {
		if old, ok := base.deps[name]; !ok || !bytes.Equal(old, raw) {
			changed[name] = raw
		}
	}
	for name := range base.deps {
		if _, ok := b.v.deps[name]; !ok {
			changed[name] = []byte("null")
		}
	}
	writeObject(&buf, changed, nil)
	buf.WriteByte(',')
	return buf.Bytes()
}

// writeObject writes the entries of m that keep selects (all with nil) as a JSON object, keys sorted.
func writeObject(buf *bytes.Buffer, m map[string][]byte, keep func(string, []byte) bool) {
	buf.WriteByte('{')
	first := true
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if keep != nil && !keep(k, m[k]) {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(k) // strings always encode
		buf.Write(name)
		buf.WriteByte(':')
		buf.Write(m[k])
	}
	buf.WriteByte('}')
}
