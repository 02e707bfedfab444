// Package podlog keeps the pod's most recent log lines in memory for GET-less tools: POST /log answers them
// (DESIGN §8). The pod's slog output and its sub-process's piped output both go through a Ring.
package podlog

import (
	"bytes"
	"strings"
	"sync"
)

// DefaultBytes is how much a Ring keeps by default: comfortably more than the 32 KB DESIGN §8 asks for.
const DefaultBytes = 256 << 10

// Ring is an io.Writer keeping the last lines written, up to a byte budget. Partial lines are held until
// their newline. Safe for concurrent use.
type Ring struct {
	mu      sync.Mutex
	max     int
	size    int
	lines   []string // oldest first; lines[head:] are live
	head    int
	partial bytes.Buffer
}

// NewRing keeps at most maxBytes of lines (DefaultBytes if maxBytes <= 0). A single line longer than the
// budget is cut to it.
func NewRing(maxBytes int) *Ring {
	if maxBytes <= 0 {
		maxBytes = DefaultBytes
	}
	return &Ring{max: maxBytes}
}

// Write appends p, split into lines.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.partial.Write(p)
			if r.partial.Len() > r.max { // a runaway line: keep its start, as a line of its own
				r.addLocked(r.partial.String())
				r.partial.Reset()
			}
			break
		}
		r.partial.Write(p[:i])
		r.addLocked(r.partial.String())
		r.partial.Reset()
		p = p[i+1:]
	}
	return n, nil
}

// Add appends one line (a trailing newline is dropped).
func (r *Ring) Add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(strings.TrimSuffix(line, "\n"))
}

func (r *Ring) addLocked(line string) {
	if len(line) >= r.max { // with its newline, the line must fit the budget
		line = line[:r.max-1]
	}
	r.lines = append(r.lines, line)
	r.size += len(line) + 1
	for r.size > r.max && r.head < len(r.lines) {
		r.size -= len(r.lines[r.head]) + 1
		r.lines[r.head] = ""
		r.head++
	}
	if r.head > len(r.lines)/2 && r.head > 64 { // compact now and then, amortised O(1)
		r.lines = append([]string(nil), r.lines[r.head:]...)
		r.head = 0
	}
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.lines[r.head:]...)
}
