// Package control is the pod's HTTP control API (DESIGN §8), compatible with the original's paths, JSON shapes
// and status codes. Every request is a POST and every reply JSON; errors are {"error": "..."}. It is not an
// actor: each request becomes a message to the pod's actors (through Backend), awaited with a timeout.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/clock"
)

// Backend is what the server asks.
type Backend interface {
	// Info returns the /info object.
	Info(ctx context.Context) (map[string]any, error)
	// Log returns the pod's most recent log lines, oldest first.
	Log() []string
	// Reset forces a ZooKeeper reset.
	Reset(cause string)
	// Control runs a lifecycle task and returns its HTTP code and JSON body. It returns ErrTimeout when the
	// task did not finish within req.Timeout (the lifecycle still runs it). req.Body is lent: once Control
	// returned without an error the server reuses its bytes, so a backend that keeps them keeps a copy.
	Control(ctx context.Context, req Request) (int, []byte, error)
}

// Request is one /control/<task> call.
type Request struct {
	Task    v1.Task
	Body    []byte
	Phase   string // ?phase=: the leader's configuration phase, "" from anyone else
	Timeout time.Duration
}

// PhaseParam is the query parameter that names a request's configuration phase. The original's pods route
// on the path alone and ignore it.
const PhaseParam = "phase"

// ErrTimeout is returned by Backend.Control when a task was not done in time: the reply is 408.
var ErrTimeout = errors.New("control: the task did not finish in time")

// Tool is a command the pod registered for /exec (DESIGN §8). It gets the arguments after the tool's name and
// returns its exit code and output lines.
type Tool func(ctx context.Context, args []string) (code int, stdout []string, err error)

// Settings tune the server.
type Settings struct {
	// DefaultTimeout applies to /control/<task> without a timeout, and bounds /info and /exec (60 s if zero).
	DefaultTimeout time.Duration
	// MaxTimeout caps the timeout a caller may ask for (1 h if zero).
	MaxTimeout time.Duration
	// MaxBody caps request bodies; larger ones answer 413 (1 MiB if zero).
	MaxBody int64
	// BeforeLargeBody, when set, runs before a request whose body holds a large cluster (over 256 KiB: ~900
	// pods or more) is handled. The entrypoint ends its quiet start there (cmd/ochopod tuning.go): such a
	// request allocates 5 to 20 times its body, under the start's GOGC the heap grew further, and the
	// runtime's bookkeeping of the larger heap stayed (a spec pod's phase of a 1 MiB body left it 2.5-3.2×
	// the body of RSS, 2.3-2.8× with this: TestIntegration_HostileMiBBodyKeepsMemoryBounded).
	BeforeLargeBody func()
}

func (s Settings) withDefaults() Settings {
	if s.DefaultTimeout <= 0 {
		s.DefaultTimeout = 60 * time.Second
	}
	if s.MaxTimeout <= 0 {
		s.MaxTimeout = time.Hour
	}
	if s.MaxBody <= 0 {
		s.MaxBody = 1 << 20
	}
	return s
}

// tasks maps the path segment to the task.
func taskOf(name string) (v1.Task, bool) {
	switch name {
	case "check":
		return v1.Task_TASK_CHECK, true
	case "on":
		return v1.Task_TASK_ON, true
	case "off":
		return v1.Task_TASK_OFF, true
	case "ok":
		return v1.Task_TASK_OK, true
	case "kill":
		return v1.Task_TASK_KILL, true
	case "signal":
		return v1.Task_TASK_SIGNAL, true
	}
	return v1.Task_TASK_UNSPECIFIED, false
}

// server holds what the handlers share.
type server struct {
	b        Backend
	tools    map[string]Tool
	set      Settings
	log      *slog.Logger
	buffers  bodyBuffers
	giveBack *memoryReturn
}

// Handler serves the API over b, with the tools for /exec.
func Handler(b Backend, tools map[string]Tool, set Settings, log *slog.Logger) http.Handler {
	return newServer(b, tools, set, log, clock.Real{}).routes()
}

func newServer(b Backend, tools map[string]Tool, set Settings, log *slog.Logger, c clock.Clock) *server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &server{b: b, tools: tools, set: set.withDefaults(), log: log, buffers: newBodyBuffers(), giveBack: newMemoryReturn(c)}
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /info", s.info)
	mux.HandleFunc("POST /log", s.logLines)
	mux.HandleFunc("POST /reset", s.reset)
	mux.HandleFunc("POST /control/{task}", s.control)
	mux.HandleFunc("POST /control/{task}/{timeout}", s.control)
	mux.HandleFunc("POST /exec", s.exec)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "only POST is supported")
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return mux
}

func (s *server) info(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.set.DefaultTimeout)
	defer cancel()
	info, err := s.b.Info(ctx)
	if err != nil {
		s.log.Warn("info failed", "err", err)
		writeError(w, http.StatusRequestTimeout, "info: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *server) logLines(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Log())
}

func (s *server) reset(w http.ResponseWriter, r *http.Request) {
	s.b.Reset("requested over HTTP by " + r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *server) control(w http.ResponseWriter, r *http.Request) {
	task, ok := taskOf(r.PathValue("task"))
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown task %q (check, on, off, ok, kill, signal)", r.PathValue("task")))
		return
	}
	timeout := s.set.DefaultTimeout
	if raw := r.PathValue("timeout"); raw != "" {
		secs, err := strconv.ParseFloat(raw, 64)
		if err != nil || secs <= 0 || secs != secs {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad timeout %q: want seconds > 0", raw))
			return
		}
		timeout = time.Duration(min(secs, s.set.MaxTimeout.Seconds()) * float64(time.Second)) // capped before the conversion: no overflow
	}
	buf, ok := s.readBody(w, r)
	if !ok {
		return
	}
	body := buf.Bytes()
	if len(body) > keptBufferCap {
		if s.set.BeforeLargeBody != nil {
			s.set.BeforeLargeBody()
		}
		s.giveBack.hold()
		defer s.giveBack.soon()
	}
	if !carriesCluster(task) && !validJSON(body) {
		s.buffers.put(buf)
		writeError(w, http.StatusBadRequest, "the body is not valid JSON")
		return
	}
	switch task { // never silent (DESIGN §12)
	case v1.Task_TASK_OFF:
		s.log.Warn("the process is turned off by a request: the next on starts it again (the next configuration phase, or POST /control/on)",
			"from", r.RemoteAddr, "phase", r.URL.Query().Get(PhaseParam))
	case v1.Task_TASK_KILL:
		s.log.Warn("the pod is killed by a request", "from", r.RemoteAddr)
	}
	code, out, err := s.b.Control(r.Context(), Request{Task: task, Body: body, Phase: r.URL.Query().Get(PhaseParam), Timeout: timeout})
	if err == nil {
		s.buffers.put(buf) // answered: the backend is done with the body (after a timeout it may still read it)
	}
	switch {
	case errors.Is(err, ErrTimeout):
		writeError(w, http.StatusRequestTimeout, fmt.Sprintf("%s not done within %s", r.PathValue("task"), timeout))
		return
	case err != nil:
		s.log.Warn("control failed", "task", r.PathValue("task"), "err", err)
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if len(out) == 0 {
		out = []byte("{}")
	}
	writeReply(w, code, out)
}

// exec runs a registered tool: the X-Shell header holds "<tool> <args>", split on white space, never
// interpreted by a shell.
func (s *server) exec(w http.ResponseWriter, r *http.Request) {
	buf, ok := s.readBody(w, r)
	if !ok {
		return
	}
	s.buffers.put(buf) // a tool takes no body
	fields := strings.Fields(r.Header.Get("X-Shell"))
	if len(fields) == 0 {
		writeError(w, http.StatusBadRequest, "missing X-Shell header: <tool> <args>")
		return
	}
	tool, ok := s.tools[fields[0]]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown tool %q", fields[0]))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.set.DefaultTimeout)
	defer cancel()
	s.log.Info("running tool", "tool", fields[0], "args", fields[1:])
	code, lines, err := tool(ctx, fields[1:])
	if err != nil {
		code, lines = 1, append(lines, "tool failed: "+err.Error())
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "stdout": lines})
}

// carriesCluster tells the tasks whose body is the leader's cluster (DESIGN §7). The lifecycle reads that
// body whole anyway and answers 400 itself when it is not JSON; scanning it here too cost a pod as much again
// (56 KB at 200 pods, with every phase).
func carriesCluster(t v1.Task) bool {
	return t == v1.Task_TASK_CHECK || t == v1.Task_TASK_ON || t == v1.Task_TASK_OK
}

// validJSON tells whether a control body is empty or JSON.
func validJSON(body []byte) bool {
	return len(bytes.TrimSpace(body)) == 0 || json.Valid(body)
}

// readBody reads the request body up to the cap into a buffer of s.buffers, for the caller to put back; it
// answers 413 itself when the body is too large. A buffer holds a body of known length without growing: a
// leader's cluster (~280 bytes a pod) would otherwise be read in small pieces and copied as it grows.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, bool) {
	buf := s.buffers.get(int(min(max(r.ContentLength, 0), s.set.MaxBody) + 1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.set.MaxBody))
	if err == nil {
		bodyRead(w) // DESIGN §12: the body's deadline (Limits.Server) is over once it is in
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.buffers.put(buf)
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", s.set.MaxBody))
		return nil, false
	case err != nil:
		s.buffers.put(buf)
		writeError(w, http.StatusBadRequest, "cannot read the body: "+err.Error())
		return nil, false
	}
	return buf, true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the reply"}`)
	}
	writeReply(w, code, b)
}

// writeReply writes a JSON reply with its length: a reply whose length is known can be flushed whole before
// the handler's chain is done (RequireTokens sends it before it writes its audit line).
func writeReply(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
