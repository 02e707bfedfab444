// Package delta is both sides of DESIGN §7's delta bodies: the sum that names a cluster (Sum), and the
// leader's part (Tracker, Bodies): which cluster each pod last answered 200 to an on with (its base), and the
// body each pod gets in a phase, whole or only what changed since its base. The pod's part, rebuilding the
// whole cluster from its base and a delta, is sdk.OpenBody.
//
// The sum of a cluster is the sum, modulo 2^256, of one SHA-256 per entry: each pod's payload and each
// dependency's entry, with its kind and name, over the bytes the leader sends. A sum moves by what changed
// (subtract the entries that went, add those that came), so a pod checks a rebuilt cluster in time
// proportional to the delta, not to the cluster.
package delta

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Sum names a cluster's content (see the package doc). The zero Sum is the empty cluster's.
type Sum [sha256.Size]byte

// Kinds of entry.
const (
	KindPod        = 'p' // a pod's payload, named by the pod's key
	KindDependency = 'd' // a dependency's entry ({key: payload}), named as depends_on declares it
)

// Entry is the digest of one entry as sent: kind, name and its JSON bytes.
func Entry(kind byte, name string, raw []byte) Sum {
	h := sha256.New()
	var head [9]byte
	head[0] = kind
	binary.BigEndian.PutUint64(head[1:], uint64(len(name))) // the name's length: no two entries hash alike by moving bytes
	h.Write(head[:])
	h.Write([]byte(name))
	h.Write(raw)
	var s Sum
	h.Sum(s[:0])
	return s
}

// Add returns s + e modulo 2^256.
func (s Sum) Add(e Sum) Sum {
	var carry uint16
	for i := len(s) - 1; i >= 0; i-- {
		v := uint16(s[i]) + uint16(e[i]) + carry
		s[i], carry = byte(v), v>>8
	}
	return s
}

// Sub returns s - e modulo 2^256.
func (s Sum) Sub(e Sum) Sum {
	var borrow int16
	for i := len(s) - 1; i >= 0; i-- {
		v := int16(s[i]) - int16(e[i]) - borrow
		borrow = 0
		if v < 0 {
			v += 256
			borrow = 1
		}
		s[i] = byte(v)
	}
	return s
}

// String is the sum as it goes on the wire: 64 hex digits.
func (s Sum) String() string { return hex.EncodeToString(s[:]) }

// ParseSum reads a sum written by String.
func ParseSum(text string) (Sum, error) {
	var s Sum
	if len(text) != 2*len(s) {
		return s, fmt.Errorf("delta: sum %q: want %d hex digits", text, 2*len(s))
	}
	if _, err := hex.Decode(s[:], []byte(text)); err != nil {
		return s, fmt.Errorf("delta: sum %q: %w", text, err)
	}
	return s, nil
}

// Of is the sum of a whole cluster: pods and dependencies as sent (JSON bytes by key and by name).
func Of[P, D ~[]byte](pods map[string]P, deps map[string]D) Sum {
	var s Sum
	for k, raw := range pods {
		s = s.Add(Entry(KindPod, k, raw))
	}
	for name, raw := range deps {
		s = s.Add(Entry(KindDependency, name, raw))
	}
	return s
}
