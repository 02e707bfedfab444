package proc

import (
	"bytes"
	"sync"
)

// MaxLine bounds a line held by a LineWriter: a longer run without a newline is handed on in pieces of this size.
const MaxLine = 64 << 10

// LineWriter is an io.Writer that hands each complete line of what it is written, without its "\n" (nor a
// "\r" before it), to a function: the bridge from a process's output to the pod log. A last line without a
// newline is kept until Flush or Close. Safe for concurrent use; emit is called with the writer's lock held,
// one line at a time, so it must not write to the same LineWriter.
type LineWriter struct {
	mu   sync.Mutex
	emit func(line string)
	buf  []byte
}

// NewLineWriter returns a LineWriter that calls emit for each line.
func NewLineWriter(emit func(line string)) *LineWriter {
	return &LineWriter{emit: emit}
}

// Write splits p into lines. It never fails.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= MaxLine {
				w.line(w.buf[:MaxLine])
				w.buf = append(w.buf[:0], w.buf[MaxLine:]...)
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.line(w.buf)
			w.buf = w.buf[:0]
		} else {
			w.line(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush hands on the partial last line, if any. The proc spawner calls it when the output reaches EOF.
func (w *LineWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(w.buf)
		w.buf = w.buf[:0]
	}
	return nil
}

// Close flushes. The writer stays usable.
func (w *LineWriter) Close() error { return w.Flush() }

func (w *LineWriter) line(b []byte) {
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if w.emit != nil {
		w.emit(string(b))
	}
}
