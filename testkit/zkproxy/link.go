package zkproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkQueue is how many chunks one direction holds before its reader stops reading, leaving further bytes to
// TCP flow control. It bounds the proxy's memory while paused or delayed.
const chunkQueue = 16

// readBuffer is the largest chunk read at once.
const readBuffer = 32 << 10

// link is one proxied connection: the client's socket and the proxy's socket to the target.
type link struct {
	client, server net.Conn
	done           chan struct{} // closed by close; wakes every goroutine waiting on latency or pause
	once           sync.Once
}

func newLink(client, server net.Conn) *link {
	return &link{client: client, server: server, done: make(chan struct{})}
}

// close tears down both sockets, which also unblocks the readers.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// chunk is data read from one side, to be written to the other no earlier than due.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe forwards src to dst. A reader goroutine timestamps chunks as they arrive so that latency is measured from
// arrival (it does not accumulate behind earlier chunks), and the calling goroutine writes them when due and not
// paused. It returns when src has reached EOF and everything is delivered (the EOF is then passed on as a
// half-close), or when the link is closed.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
	chunks := make(chan chunk, chunkQueue)
	var reader sync.WaitGroup
	reader.Go(func() { p.read(l, src, chunks) })
	defer reader.Wait()

	for c := range chunks {
		if !p.await(l, c.due) {
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			l.close()
			return
		}
	}
	select {
	case <-l.done:
	default:
		if tc, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
	}
}

// read queues what arrives on src until EOF (a clean half-close) or an error (the link is torn down).
func (p *Proxy) read(l *link, src net.Conn, chunks chan<- chunk) {
	defer close(chunks)
	buf := make([]byte, readBuffer)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c := chunk{data: bytes.Clone(buf[:n]), due: time.Now().Add(p.currentLatency())}
			select {
			case chunks <- c:
			case <-l.done:
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				l.close()
			}
			return
		}
	}
}

// await blocks until due has passed and the proxy is not paused. It returns false if the link closed meanwhile.
func (p *Proxy) await(l *link, due time.Time) bool {
	if wait := time.Until(due); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-l.done:
			timer.Stop()
			return false
		}
	}
	for {
		gate := p.pauseGate()
		if gate == nil {
			return true
		}
		select {
		case <-gate:
		case <-l.done:
			return false
		}
	}
}
