package sdk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"iter"
	"math"
	"sort"
)

// entries are the members of a JSON object as sent (name → raw value), sorted by name, in one block of
// memory. A pod keeps the cluster of its last phases for delta bodies (DESIGN §7); kept as a map of raw
// values, a 1 MiB cluster cost it 1.4 MiB in 3 700 small allocations strewn among the parse's garbage, pages
// the heap could not give back (DESIGN §12: a pod's memory stays within a few bodies).
type entries struct {
	data []byte   // each member: uvarint length, name, uvarint length, value
	at   []uint32 // where each member starts in data, in name order
}

// member is one member of an object, name and value as sent.
type member struct{ name, value []byte }

var errTooLarge = errors.New("cluster: over 4 GiB")

// entriesOf packs the members of m.
func entriesOf(m map[string]json.RawMessage) (entries, error) {
	ms := make([]member, 0, len(m))
	for name, v := range m {
		ms = append(ms, member{[]byte(name), v})
	}
	return pack(ms)
}

// pack sorts ms by name (names are unique) and copies them into entries of their own.
func pack(ms []member) (entries, error) {
	sort.Slice(ms, func(i, j int) bool { return bytes.Compare(ms[i].name, ms[j].name) < 0 })
	size := 0
	for _, m := range ms {
		size += uvarintLen(len(m.name)) + len(m.name) + uvarintLen(len(m.value)) + len(m.value)
	}
	if size > math.MaxUint32 {
		return entries{}, errTooLarge
	}
	t := entries{data: make([]byte, 0, size), at: make([]uint32, len(ms))}
	for i, m := range ms {
		t.at[i] = uint32(len(t.data))
		t.data = binary.AppendUvarint(t.data, uint64(len(m.name)))
		t.data = append(t.data, m.name...)
		t.data = binary.AppendUvarint(t.data, uint64(len(m.value)))
		t.data = append(t.data, m.value...)
	}
	return t, nil
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// Len is how many members there are.
func (t entries) Len() int { return len(t.at) }

// member returns the i-th member in name order; its bytes are the table's, not to be changed.
func (t entries) member(i int) member {
	rest := t.data[t.at[i]:]
	n, w := binary.Uvarint(rest)
	name := rest[w : w+int(n)]
	rest = rest[w+int(n):]
	n, w = binary.Uvarint(rest)
	return member{name, rest[w : w+int(n)]}
}

// get returns the value of the member named name.
func (t entries) get(name string) ([]byte, bool) {
	i := sort.Search(t.Len(), func(i int) bool { return string(t.member(i).name) >= name })
	if i == t.Len() {
		return nil, false
	}
	if m := t.member(i); string(m.name) == name {
		return m.value, true
	}
	return nil, false
}

// all yields the members in name order.
func (t entries) all() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for i := range t.Len() {
			m := t.member(i)
			if !yield(string(m.name), m.value) {
				return
			}
		}
	}
}

// update is t without the members named in drop or set, plus those of set (a nil value is dropped too).
func (t entries) update(set map[string]json.RawMessage, drop []string) (entries, error) {
	gone := make(map[string]bool, len(drop))
	for _, name := range drop {
		gone[name] = true
	}
	ms := make([]member, 0, t.Len()+len(set))
	for i := range t.Len() {
		m := t.member(i)
		if _, replaced := set[string(m.name)]; !replaced && !gone[string(m.name)] {
			ms = append(ms, m)
		}
	}
	for name, v := range set {
		if v != nil {
			ms = append(ms, member{[]byte(name), v})
		}
	}
	return pack(ms)
}

// equal tells whether both hold the same members, byte for byte.
func (t entries) equal(o entries) bool {
	return bytes.Equal(t.data, o.data) // same members, same order, same encoding
}
