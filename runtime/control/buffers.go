package control

import (
	"bytes"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ochopod/ochopod/runtime/clock"
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

// memoryReturn returns the memory of requests with a large body to the kernel once they are answered and the
// pod is quiet (DESIGN §12: memory per request stays proportional to the body). A phase of a 1 MiB body
// allocates 5 times the body to open it, and 15-20 times more for each callback that takes it parsed; the
// collector would keep that as the process's heap until the next collection, minutes away on an idle pod (a
// pod kept +7 MB without a spec, +43 MB with one, against +2 and +2.5 MB with it).
//
// One return (debug.FreeOSMemory: a collection of the pod's small heap, 1-2 ms) giveBackAfter after the last
// such request, none while one is handled, rather than one right after each reply: what was freed after a
// return stays with the process, and the runtime frees the work buffers of its collections in the background,
// after them; a return right after each reply left 0.5-2 MB more one phase in ten or twenty
// (TestIntegration_HostileMiBBodyKeepsMemoryBounded, GODEBUG=gctrace=1: 4 runs in 40 over its bound).
type memoryReturn struct {
	clock clock.Clock
	free  func()

	mu    sync.Mutex
	busy  int         // large requests being handled
	timer clock.Timer // the return, when asked for and not done
}

// giveBackAfter is how long after its last large request a pod returns the memory: past the other requests
// of the phase (3 in all, milliseconds apart) and the runtime's own work after their collections.
const giveBackAfter = 100 * time.Millisecond

func newMemoryReturn(c clock.Clock) *memoryReturn {
	return &memoryReturn{clock: c, free: debug.FreeOSMemory}
}

// hold puts the return off while a large request is handled: a collection in its midst would find its garbage
// still live, and one more would be needed after it.
func (m *memoryReturn) hold() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// soon ends a hold: the return comes giveBackAfter from the end of the last large request.
func (m *memoryReturn) soon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy--; m.busy == 0 {
		m.timer = m.clock.AfterFunc(giveBackAfter, m.free)
	}
}
