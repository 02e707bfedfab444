package control

import (
	"bytes"
	"runtime/debug"
)

// bodyBuffers keeps the buffers request bodies are read into, for the next requests. A leader sends every pod
// its whole cluster three times a phase (~56 KB at 200 pods); a fresh buffer each time is memory the process
// has not touched yet or gave back to the kernel since, and filling it costs a page fault every 4 KB (~20 µs
// each in a VM), more than reading the body. Unlike a sync.Pool, the buffers outlive garbage collections: a
// pod's phases come minutes apart.
type bodyBuffers struct{ free chan *bytes.Buffer }

const (
	keptBuffers   = 4         // requests a pod serves at once, at most, in a phase: the leader's one, plus a tool's
	keptBufferCap = 256 << 10 // larger buffers (clusters of ~900 pods or more) go to the collector
)

func newBodyBuffers() bodyBuffers { return bodyBuffers{free: make(chan *bytes.Buffer, keptBuffers)} }

// get returns an empty buffer that can hold size bytes without growing.
func (p bodyBuffers) get(size int) *bytes.Buffer {
	select {
	case b := <-p.free:
		b.Grow(size)
		return b
	default:
		return bytes.NewBuffer(make([]byte, 0, size))
	}
}

// put hands a buffer back once nobody reads its bytes any more.
func (p bodyBuffers) put(b *bytes.Buffer) {
	if b.Cap() > keptBufferCap {
		return
	}
	b.Reset()
	select {
	case p.free <- b:
	default:
	}
}

// giveBack returns the memory of a request with a large body to the kernel once it is answered (DESIGN §12:
// memory per request stays proportional to the body). A phase of a 1 MiB body allocates 5 times the body to
// open it, and 20 times more for each callback that takes it parsed; the collector would keep that as the
// process's heap until the next collection, minutes away on an idle pod (a pod kept +7 MB without a spec,
// +43 MB with one, against +1.4 and +2 MB with it). A collection of a pod's small heap takes a millisecond
// or two, once per such request (clusters of ~900 pods and more).
func giveBack() { debug.FreeOSMemory() }
