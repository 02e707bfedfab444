package security

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// watched is a file parsed into a T, parsed again when the file changes (see the package doc). Safe for
// concurrent use.
type watched[T any] struct {
	path  string
	what  string // what the file is, for messages: "token file"
	parse func([]byte) (T, error)
	log   *slog.Logger
	// recheck is how long a look at the file stays good: 0 stats it at every use. Files read at every request
	// (tokens) use a second: a stat is a system call, a tenth of a secured request's CPU in a phase.
	recheck time.Duration

	mu      sync.Mutex
	checked time.Time // when the file was last stat'ed
	stamp   fileStamp // of the file last read, good or bad
	info    os.FileInfo
	value   T
	loaded  bool  // value holds a good parse
	lastErr error // why the last read failed, nil when it did not
}

// fileStamp tells whether a file changed since it was last read.
type fileStamp struct {
	size  int64
	mtime time.Time
}

func newWatched[T any](path, what string, parse func([]byte) (T, error), log *slog.Logger) (*watched[T], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &watched[T]{path: path, what: what, parse: parse, log: log}
	if _, err := w.current(); err != nil {
		return nil, err
	}
	return w, nil
}

// current returns the file's contents as last parsed successfully, reading the file again first if it
// changed. It fails only when the file never parsed.
func (w *watched[T]) current() (T, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.recheck > 0 && w.loaded {
		now := time.Now()
		if now.Sub(w.checked) < w.recheck {
			return w.value, nil
		}
		w.checked = now
	}
	st, err := os.Stat(w.path)
	if err != nil {
		w.failLocked(fmt.Errorf("%s %s: %w", w.what, w.path, err), nil, fileStamp{})
		return w.resultLocked()
	}
	stamp := fileStamp{size: st.Size(), mtime: st.ModTime()}
	if w.info != nil && os.SameFile(w.info, st) && stamp == w.stamp {
		return w.resultLocked()
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		w.failLocked(fmt.Errorf("%s %s: %w", w.what, w.path, err), st, stamp)
		return w.resultLocked()
	}
	v, err := w.parse(data)
	clear(data) // the file holds secrets: do not leave a copy to the collector
	if err != nil {
		w.failLocked(fmt.Errorf("%s %s: %w", w.what, w.path, err), st, stamp)
		return w.resultLocked()
	}
	if w.loaded {
		w.log.Info("reloaded "+w.what, "path", w.path)
	}
	w.info, w.stamp, w.value, w.loaded, w.lastErr = st, stamp, v, true, nil
	return w.value, nil
}

// failLocked records a failed read; it logs once per change, and only once something was loaded (the first
// failure is the caller's error).
func (w *watched[T]) failLocked(err error, st os.FileInfo, stamp fileStamp) {
	if w.lastErr != nil && w.lastErr.Error() == err.Error() {
		return
	}
	w.info, w.stamp, w.lastErr = st, stamp, err
	if w.loaded {
		w.log.Warn("cannot reload "+w.what+": keeping the last good one", "path", w.path, "err", err)
	}
}

func (w *watched[T]) resultLocked() (T, error) {
	if !w.loaded {
		var zero T
		return zero, w.lastErr
	}
	return w.value, nil
}
