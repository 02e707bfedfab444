package sim

import (
	"strconv"
	"time"
)

// sink receives the tokens of one trace line. The hasher and the text builder both implement it, so the
// trace hash is the same whether or not the text is kept.
type sink interface {
	str(string)
	num(int64)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hasher is FNV-1a over the tokens, each followed by a separator byte.
type hasher struct{ h uint64 }

func (h *hasher) str(v string) {
	x := h.h
	for i := 0; i < len(v); i++ {
		x ^= uint64(v[i])
		x *= fnvPrime
	}
	x ^= 0xff
	x *= fnvPrime
	h.h = x
}

func (h *hasher) num(v int64) {
	x := h.h
	u := uint64(v)
	for i := 0; i < 8; i++ {
		x ^= u & 0xff
		x *= fnvPrime
		u >>= 8
	}
	x ^= 0xfe
	x *= fnvPrime
	h.h = x
}

// texter renders the tokens as one line, separated by spaces.
type texter struct{ b []byte }

func (t *texter) sep() {
	if len(t.b) > 0 {
		t.b = append(t.b, ' ')
	}
}

func (t *texter) str(v string) {
	t.sep()
	t.b = append(t.b, v...)
}

func (t *texter) num(v int64) {
	t.sep()
	t.b = strconv.AppendInt(t.b, v, 10)
}

// record is one trace line, kept unformatted in the tail ring until someone asks for the text.
type record struct {
	at   time.Duration
	who  string
	what string
	msg  any    // a message, described by describe; nil for none
	text string // free text (ZooKeeper's trace lines, fault details)
}

func (r record) write(w sink) {
	w.num(int64(r.at / time.Microsecond))
	r.tokens(w)
}

func (r record) tokens(w sink) {
	w.str(r.who)
	w.str(r.what)
	if r.msg != nil {
		describe(w, r.msg)
	}
	if r.text != "" {
		w.str(r.text)
	}
}

// String renders the line: the virtual time in seconds, then the tokens.
func (r record) String() string {
	t := texter{b: strconv.AppendFloat(nil, float64(r.at)/float64(time.Second), 'f', 6, 64)}
	r.tokens(&t)
	return string(t.b)
}

// tracer keeps the hash of every line, the last lines, and with keep every line as text.
type tracer struct {
	h    hasher
	keep bool
	all  []string
	ring []record
	next int
	full bool
}

func newTracer(keep bool, tail int) *tracer {
	return &tracer{h: hasher{h: fnvOffset}, keep: keep, ring: make([]record, tail)}
}

func (t *tracer) add(r record) {
	r.write(&t.h)
	if t.keep {
		t.all = append(t.all, r.String())
	}
	t.ring[t.next] = r
	t.next++
	if t.next == len(t.ring) {
		t.next, t.full = 0, true
	}
}

// lines is the whole trace with keep, else its tail.
func (t *tracer) lines() []string {
	if t.keep {
		return append([]string(nil), t.all...)
	}
	var out []string
	if t.full {
		for _, r := range t.ring[t.next:] {
			out = append(out, r.String())
		}
	}
	for _, r := range t.ring[:t.next] {
		out = append(out, r.String())
	}
	return out
}
