package lifecycle

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// HTTP codes of DESIGN §6 and §8, and 409 for a request of a stale phase.
const (
	codeOK            = 200
	codeBadRequest    = 400
	codeNotAcceptable = 406
	codeConflict      = 409
	codeGone          = 410
	codeStaleBase     = 412 // a delta body against a cluster this pod does not hold (DESIGN §7)
	codeFailed        = 500
)

func (m *Machine) onRequest(in Request) []Effect {
	switch in.Task {
	case v1.Task_TASK_CHECK, v1.Task_TASK_ON, v1.Task_TASK_OFF, v1.Task_TASK_OK, v1.Task_TASK_KILL, v1.Task_TASK_SIGNAL:
	default:
		return reply(in.Handle, codeBadRequest, errorBody(fmt.Sprintf("unknown task %v", in.Task)))
	}
	if m.dead {
		return reply(in.Handle, codeGone, errorBody("the pod is dead"))
	}
	if in.Aside {
		in.Phase = "" // a pod's own actor names no phase of a leader's
	}
	m.queue = append(m.queue, &request{Request: in})
	return nil
}

// enqueue adds one of the machine's own requests. A kill goes first: the pod dies before anything else runs.
func (m *Machine) enqueue(r *request) {
	if r.Task == v1.Task_TASK_KILL {
		m.queue = append([]*request{r}, m.queue...)
		return
	}
	m.queue = append(m.queue, r)
}

// begin starts the current request.
func (m *Machine) begin() []Effect {
	r := m.cur
	switch r.Task {
	case v1.Task_TASK_CHECK:
		if !r.Aside { // a custom actor's check opens no phase: the leader's next step must not answer 409
			m.lastCheck = r.Phase
		}
	case v1.Task_TASK_OFF, v1.Task_TASK_ON, v1.Task_TASK_OK:
		if r.Phase != "" && r.Phase != m.lastCheck {
			return m.fail(codeConflict, fmt.Sprintf("%s of phase %s refused: the last check was of phase %q", taskName(r.Task), r.Phase, m.lastCheck), nil)
		}
	}
	switch r.Task {
	case v1.Task_TASK_CHECK:
		return m.beginCheck(r)
	case v1.Task_TASK_ON:
		return m.beginOn(r)
	case v1.Task_TASK_OFF:
		m.settle()
		if m.proc == procRunning {
			return m.tearDown(r, "off")
		}
		return m.finish(codeOK, nil)
	case v1.Task_TASK_OK:
		return m.beginOK(r)
	case v1.Task_TASK_KILL:
		m.settle()
		if m.proc == procRunning {
			return m.tearDown(r, "kill")
		}
		return m.finalize(r)
	case v1.Task_TASK_SIGNAL:
		if !m.cfg.Implements.Signaled {
			return m.finish(codeOK, nil)
		}
		payload := json.RawMessage(`{}`) // the original passed {} without a body
		if len(bytes.TrimSpace(r.Body)) > 0 {
			payload = slices.Clone(r.Body)
		}
		r.stage = stageCallback
		return m.call(RunCallback{Name: cbSignaled, Payload: payload, Pid: int(m.pid)})
	}
	return m.finish(codeBadRequest, errorBody("unknown task"))
}

// badCluster answers a request whose cluster cannot be read: code, or 400 when the body is not JSON at all
// (the control server leaves that check to the reader of the body) or holds an invalid payload.
func (m *Machine) badCluster(code int32, task string, err error) []Effect {
	switch {
	case errors.Is(err, sdk.ErrNotJSON) || errors.Is(err, sdk.ErrBadCluster): // DESIGN §12: 400, the pod lives
		code = codeBadRequest
	case errors.Is(err, sdk.ErrStaleBase): // DESIGN §7: the leader sends the whole cluster instead
		code = codeStaleBase
	}
	return m.fail(code, task+": bad cluster", err)
}

// taskName is the task as the control API spells it: check, on, off, ok, kill, signal.
func taskName(t v1.Task) string { return strings.ToLower(strings.TrimPrefix(t.String(), "TASK_")) }

// settle forgets the crash history and any pending restart: off and kill are the operator's word.
func (m *Machine) settle() {
	m.restartGen++
	m.restartPending = false
	m.failures, m.crashes = 0, 0
	m.stopChecks()
}

// check: can_configure(cluster) → 200, 406 if it failed or the body is not a cluster.
func (m *Machine) beginCheck(r *request) []Effect {
	env, err := m.open(r.Body)
	if err != nil {
		return m.badCluster(codeNotAcceptable, "check", err)
	}
	if !m.cfg.Implements.CanConfigure {
		return m.finish(codeOK, nil)
	}
	c, err := env.Cluster()
	if err != nil {
		return m.badCluster(codeNotAcceptable, "check", err)
	}
	r.stage = stageCallback
	return m.call(RunCallback{Name: cbCanConfigure, Cluster: c})
}

// ok: configured(cluster) → 200, 500 if it failed (or came without a cluster: a leader bug).
func (m *Machine) beginOK(r *request) []Effect {
	env, err := m.open(r.Body)
	if err != nil {
		return m.badCluster(codeFailed, "ok", err)
	}
	r.env = env // announced as it is answered (finish)
	if !m.cfg.Implements.Configured {
		return m.finish(codeOK, nil)
	}
	c, err := env.Cluster()
	if err != nil {
		return m.badCluster(codeFailed, "ok", err)
	}
	r.stage = stageCallback
	return m.call(RunCallback{Name: cbConfigured, Cluster: c})
}

// on (DESIGN §6): reconfigure a running process only when strict or its dependencies changed; otherwise
// initialize once, configure when there is a cluster, and start.
func (m *Machine) beginOn(r *request) []Effect {
	if r.restartGen != 0 {
		m.restartPending = false
	}
	if r.restartGen != 0 && r.restartGen != m.restartGen {
		m.cur = nil
		return []Effect{Log{Level: slog.LevelDebug, Msg: "restart overtaken by a later request: dropped"}}
	}
	if hasBody(r.Body) {
		env, err := m.open(r.Body)
		if err != nil {
			// The leader never sends this; someone else's bad input does not kill the pod.
			return m.badCluster(codeNotAcceptable, "on", err)
		}
		r.env = env
	}
	if m.proc == procRunning {
		if r.env != nil && (m.cfg.Settings.Strict || !r.env.SameDependencies(m.last)) {
			return m.tearDown(r, "reconfiguring")
		}
		return m.finish(codeOK, nil)
	}
	return m.initialize(r)
}

func (m *Machine) initialize(r *request) []Effect {
	if !m.initialized && m.cfg.Implements.Initialize {
		r.stage = stageCallback
		return m.call(RunCallback{Name: cbInitialize})
	}
	m.initialized = true
	return m.configure(r)
}

func (m *Machine) configure(r *request) []Effect {
	if r.env == nil {
		return m.start(r)
	}
	var c *sdk.Cluster
	if !m.cfg.Implements.IgnoresCluster {
		var err error
		if c, err = r.env.Cluster(); err != nil {
			return m.badCluster(codeNotAcceptable, "on", err)
		}
	}
	r.stage = stageCallback
	return m.call(RunCallback{Name: cbConfigure, Cluster: c})
}

func (m *Machine) start(r *request) []Effect {
	if m.argv == nil {
		return m.fail(codeNotAcceptable, "on: the pod was never configured (user error?)", nil)
	}
	if r.env != nil && m.cfg.Settings.DeferStart && m.starts == 0 {
		return append(m.finish(codeOK, nil), Log{Level: slog.LevelInfo, Msg: "configured; not starting the process until asked (ochopod_start=false)"})
	}
	m.inc++
	m.proc = procStarting
	m.restartGen++ // a restart still pending is superseded by this start
	m.restartPending = false
	r.stage = stageStart
	s := m.cfg.Settings
	return []Effect{StartProcess{
		Incarnation: m.inc, Argv: slices.Clone(m.argv), Overrides: maps.Clone(m.overrides), Envelope: m.last,
		Shell: s.Shell, Cwd: s.Cwd, Pipe: s.Pipe,
	}}
}

// requestCallbackDone continues the current request after its callback.
func (m *Machine) requestCallbackDone(name v1.Callback, in *v1.CallbackDone) []Effect {
	r, failed := m.cur, in.GetFailure() != nil
	switch name {
	case cbCanConfigure:
		if failed {
			return m.fail(codeNotAcceptable, "can_configure failed", in)
		}
		return m.finish(codeOK, nil)
	case cbConfigured:
		if failed {
			return m.fail(codeFailed, "configured failed", in)
		}
		return m.finish(codeOK, nil)
	case cbSignaled:
		if failed {
			return m.fail(codeFailed, "signaled failed", in)
		}
		return m.finish(codeOK, in.GetResult())
	case cbInitialize:
		if failed {
			return m.configurationFailed("initialize failed", in)
		}
		m.initialized = true
		return m.configure(r)
	case cbConfigure:
		if failed && in.GetBadCluster() {
			// The request's data, not the pod, is at fault (sdk.ErrBadCluster): 400, and the pod lives (DESIGN §12).
			return m.fail(codeBadRequest, "on: bad cluster", in)
		}
		if failed {
			return m.configurationFailed("configure failed", in)
		}
		if len(in.GetArgv()) == 0 {
			return m.configurationFailed("configure returned no command", nil)
		}
		m.argv, m.overrides = slices.Clone(in.GetArgv()), maps.Clone(in.GetEnv())
		m.last = r.env
		return m.start(r)
	case cbFinalize:
		var effects []Effect
		if failed {
			effects = append(effects, Log{Level: slog.LevelWarn, Msg: "finalize failed", Args: []any{"err", in.GetFailure().GetMessage()}})
		}
		return append(effects, m.die(r)...)
	}
	return nil
}

// configurationFailed answers 406 and queues the pod's death (DESIGN §6: the pod then dies).
func (m *Machine) configurationFailed(why string, cause any) []Effect {
	m.enqueue(&request{Request: Request{Task: v1.Task_TASK_KILL}, failed: true})
	return m.fail(codeNotAcceptable, why+": the pod dies", cause)
}

func (m *Machine) finalize(r *request) []Effect {
	if !m.finalized && m.cfg.Implements.Finalize {
		m.finalized = true
		r.stage = stageCallback
		return m.call(RunCallback{Name: cbFinalize})
	}
	m.finalized = true
	return m.die(r)
}

// die ends the pod: the kill is answered, every request still queued gets 410.
func (m *Machine) die(r *request) []Effect {
	m.dead = true
	m.stopChecks()
	m.restartGen++
	m.restartPending = false
	if r.failed {
		m.exitCode = 1
	}
	effects := append(m.finish(codeOK, nil), Log{Level: slog.LevelInfo, Msg: "the pod is dead", Args: []any{"exit_code", m.exitCode}})
	for _, q := range m.queue {
		effects = append(effects, reply(q.Handle, codeGone, errorBody("the pod is dead"))...)
	}
	m.queue = nil
	return effects
}

// finish answers the current request and makes room for the next.
func (m *Machine) finish(code int32, body []byte) []Effect {
	r := m.cur
	m.cur = nil
	if r == nil {
		return nil
	}
	if r.Task == v1.Task_TASK_ON && code == codeOK && r.env != nil {
		m.base = r.env // the leader's base for this pod from now on (DESIGN §7)
	}
	// The ok of a configuration ran (whatever configured() said: the leader ignores ok's replies and writes
	// the snapshot, DESIGN §7 step 3): the pod is configured with its cluster (DESIGN §4). One ok per phase,
	// so one event per configuration. Announced before the reply: the control server gives a large body's
	// memory back shortly after its last reply, and the announcement's copy and hash of the cluster, made
	// after the reply, ran late enough to stay with the process (2 MB more for a 1 MiB body, a run in eight).
	var effects []Effect
	if r.Task == v1.Task_TASK_OK && r.env != nil && !r.Aside && m.cfg.Announce {
		effects = append(effects, Configured{Envelope: r.env, Phase: r.Phase})
	}
	return append(effects, reply(r.Handle, code, body)...)
}

// fail answers the current request with code and an error body, and logs why. cause is an error, a
// *v1.CallbackDone carrying one, or nil.
func (m *Machine) fail(code int32, why string, cause any) []Effect {
	msg := why
	switch c := cause.(type) {
	case error:
		msg += ": " + c.Error()
	case *v1.CallbackDone:
		msg += ": " + c.GetFailure().GetMessage()
	}
	return append(m.finish(code, errorBody(msg)), Log{Level: slog.LevelWarn, Msg: msg, Args: []any{"code", code}})
}

func reply(handle uint64, code int32, body []byte) []Effect {
	if handle == 0 {
		return nil
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	return []Effect{Reply{Handle: handle, Code: code, Body: body}}
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// hasBody is the original's "if data.js": no body, null and {} all mean none.
func hasBody(b []byte) bool {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		return false
	}
	if t[0] != '{' {
		return true // not an object: parsing it will say what is wrong
	}
	inside := bytes.TrimSpace(t[1:])
	return len(inside) != 1 || inside[0] != '}'
}

// open checks a request's cluster. check, on and ok of one phase carry the same body, and reading the
// cluster of hundreds of pods costs a pod milliseconds, so the last body opened is remembered (its envelope
// keeps the payloads as sent; a callback or a start parses what it needs). A delta body is rebuilt into the
// whole cluster here, on the base of the last on answered 200 or on the last body opened, before anything
// else sees it (DESIGN §7).
func (m *Machine) open(body []byte) (*sdk.Envelope, error) {
	if !hasBody(body) {
		return nil, fmt.Errorf("no cluster in the request")
	}
	// The body is the control server's, lent for this request (control.Backend): its digest is kept, not a
	// copy, so a pod holds one body's worth of memory (the envelope) however large the body (DESIGN §12).
	digest := sha256.Sum256(body)
	if m.opened.env != nil && digest == m.opened.digest {
		return m.opened.env, nil
	}
	env, err := sdk.OpenBody(body, m.base, m.opened.env)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	m.opened.digest, m.opened.env = digest, env
	return env, nil
}
