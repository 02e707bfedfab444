package lifecycle

import (
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// Settings are the lifecycle's settings (DESIGN §6, §11). Zero values take the defaults of §6.
type Settings struct {
	Checks     int           // sanity-check failures tolerated before the pod turns off; 0: 1
	CheckEvery time.Duration // period of the sanity checks, from the first on; 0: 60 s
	// CheckStart is the start period: how long after a configured start the first sanity check runs. 0: at
	// once, like the original (ochopod run defaults it to one CheckEvery, DESIGN §13).
	CheckStart time.Duration
	Grace      time.Duration // how long a tear-down waits before SIGKILL; 0: 60 s
	Soft       bool          // never SIGKILL
	Strict     bool          // restart on every configuration, not only when the dependencies changed
	// DeferStart is ochopod_start=false: the first configurations do not start the process; an on without a
	// body does, and so does any configuration once the process ran.
	DeferStart bool
	Shell      bool   // run the command through /bin/sh -c
	Cwd        string // the process's working directory; "": the pod's
	Pipe       bool   // forward the process's output into the pod log
	// RestartBackoff spaces restarts after consecutive crashes (the first restart is immediate), so that a
	// crash loop does not spin; zero: 1 s doubling up to 30 s.
	RestartBackoff backoff.Policy
}

// WithDefaults fills the zero settings with the defaults of DESIGN §6.
func (s Settings) WithDefaults() Settings {
	if s.Checks < 1 {
		s.Checks = 1
	}
	if s.CheckEvery <= 0 {
		s.CheckEvery = 60 * time.Second
	}
	if s.Grace <= 0 {
		s.Grace = 60 * time.Second
	}
	if s.RestartBackoff == (backoff.Policy{}) {
		s.RestartBackoff = backoff.Policy{Initial: time.Second, Max: 30 * time.Second}
	}
	return s
}

// Implements tells the machine which optional callbacks the user's lifecycle has (sdk's optional interfaces);
// absent ones succeed at once without a round trip. Configure always exists.
type Implements struct {
	Initialize, CanConfigure, Configured, SanityCheck, TearDown, Signaled, Finalize bool
	IgnoresCluster                                                                  bool // sdk.ClusterBlind: configure gets no cluster, so the payloads need no parsing
}

// MachineConfig holds the machine's settings.
type MachineConfig struct {
	Settings   Settings
	Implements Implements
	// Announce: each ok of a configuration (not an aside one) that ran on a cluster ends with Configured, so
	// the pod's custom actors hear it (DESIGN §4). Off when nobody listens: the event costs a hash.
	Announce bool
}

// Request is a control request as the machine sees it. Handle identifies the requester for the Reply; the
// behaviour never uses 0, which marks the machine's own requests (restart, turn off, die).
type Request struct {
	Handle uint64
	Task   v1.Task
	Body   []byte
	Phase  string // the leader's configuration phase (v1.ControlRequest.phase); "" from anyone else
	// Aside is a request of one of the pod's own actors (v1.ControlRequest.aside): no step of any phase.
	Aside bool
}

type procState int

const (
	procStopped     procState = iota
	procStarting              // ExecStart sent, ExecStarted not yet back
	procRunning               // started; ExecExited not yet back
	procTerminating           // torn down; ExecExited not yet back
)

// stage is where the current request waits.
type stage int

const (
	stageBegin    stage = iota
	stageCallback       // a callback of the request
	stageTearDown       // the process's exit after a tear-down
	stageStart          // ExecStarted
)

type request struct {
	Request
	env        *sdk.Envelope // the body of on, opened; nil without a body
	stage      stage
	restartGen uint64 // the machine's restart after a crash: the generation it belongs to
	failed     bool   // the machine's kill after a failed configuration: the pod dies with code 1
}

// Machine is the lifecycle's pure state machine (DESIGN §6): requests queued and run one at a time, the
// process supervised through the executor, user callbacks run one at a time as effects. It does no I/O,
// reads no clock and starts no goroutine. Callbacks carry an epoch and processes an incarnation; completions
// of anything else are dropped.
type Machine struct {
	cfg   MachineConfig
	queue []*request
	cur   *request // the request being run

	cbEpoch  uint64      // the last callback epoch issued
	cb       v1.Callback // the callback in flight (unspecified: none): callbacks never overlap
	cbWait   uint64      // its epoch
	checkInc uint64      // the incarnation the sanity check in flight looks at

	proc     procState
	inc      uint64 // the process incarnation, one per ExecStart
	pid      int64
	starts   int32
	exitCode int32 // of the last process that ended
	dead     bool

	initialized bool
	finalized   bool
	argv        []string          // the last configuration's command
	overrides   map[string]string // and environment overrides
	last        *sdk.Envelope     // the last configuration's cluster
	base        *sdk.Envelope     // the cluster of the last on answered 200: what delta bodies build on (DESIGN §7)
	opened      struct {          // the digest of the last body open opened, and its envelope
		digest [sha256.Size]byte
		env    *sdk.Envelope
	}

	checksLeft int    // the sanity-check budget
	failures   int    // crashes since the last sanity check
	crashes    int    // consecutive crashes, for the restart backoff
	restartGen uint64 // a restart belongs to one generation; off, kill and every start move on
	checkDue   bool
	metrics    []byte
	// The sanity checks run on a schedule of their own from a configured start until off, kill or a
	// reconfiguration: a crash does not move them, so a crash loop still fails its checks (DESIGN §6).
	checking       bool
	checkGen       uint64 // the schedule's epoch: timers of an older schedule are dropped
	restartPending bool   // a crashed process waits for its restart (status: backoff)
	restarts       int32  // restarts after a crash
	exits          int32  // processes ended
	lastExit       *v1.ExitStatus
	checksPassed   int64
	checksFailed   int64

	published statusKey
	// lastCheck is the phase of the last check run: off, on and ok of another phase are refused, so that a
	// request of a dead or deposed leader's phase, delivered after a newer phase's check, changes nothing.
	lastCheck string
}

// NewMachine returns a machine with no process, not yet initialized.
func NewMachine(cfg MachineConfig) *Machine {
	cfg.Settings = cfg.Settings.WithDefaults()
	return &Machine{cfg: cfg, checksLeft: cfg.Settings.Checks, published: statusKey{process: -1}}
}

// Start publishes the first status.
func (m *Machine) Start() []Effect { return m.publish(nil) }

// Dead reports whether the pod is dead.
func (m *Machine) Dead() bool { return m.dead }

// Handle feeds one input to the machine: a queued control request, CallbackDone, ExecStarted, ExecExited,
// TimerFired or ForwardSignal.
func (m *Machine) Handle(in *v1.LifecycleInput) []Effect {
	var effects []Effect
	switch in := protocol.Unwrap(in).(type) {
	case *v1.Queued:
		r := in.GetRequest()
		effects = m.onRequest(Request{Handle: in.GetHandle(), Task: r.GetTask(), Body: r.GetBody(), Phase: r.GetPhase(), Aside: r.GetAside()})
	case *v1.CallbackDone:
		effects = m.onCallbackDone(in)
	case *v1.ExecStarted:
		effects = m.onStarted(in)
	case *v1.ExecExited:
		effects = m.onExited(in)
	case *v1.TimerFired:
		effects = m.onTimer(in)
	case *v1.ForwardSignal:
		effects = m.onForward(in)
	default:
		return nil
	}
	return m.publish(append(effects, m.pump()...))
}

// pump runs what can run now: the next request, else a due sanity check. Requests go first, like the
// original's loop; nothing starts while a request or a callback is in flight.
func (m *Machine) pump() []Effect {
	var effects []Effect
	for !m.dead && m.cur == nil && m.cb == noCallback {
		switch {
		case len(m.queue) > 0:
			m.cur = m.queue[0]
			m.queue[0] = nil // an emptied queue keeps its array: not the request, nor its body (DESIGN §12)
			m.queue = m.queue[1:]
			effects = append(effects, m.begin()...)
		case m.checkDue && m.checkable():
			effects = append(effects, m.startCheck()...)
		default:
			return effects
		}
	}
	return effects
}

// checkable tells whether a due sanity check can run now: while the process runs, or while it is down after
// crashes or waiting for its restart (the check then fails without asking the user's sanity_check).
func (m *Machine) checkable() bool {
	return m.proc == procRunning || ((m.failures > 0 || m.restartPending) && m.proc != procTerminating)
}

// call issues a callback under a new epoch.
func (m *Machine) call(e RunCallback) []Effect {
	m.cbEpoch++
	e.Epoch = m.cbEpoch
	m.cb, m.cbWait = e.Name, e.Epoch
	return []Effect{e}
}

func (m *Machine) onCallbackDone(in *v1.CallbackDone) []Effect {
	if m.cb == noCallback || in.GetEpoch() != m.cbWait || in.GetCallback() != m.cb {
		return []Effect{Log{Level: slog.LevelDebug, Msg: "dropping a stale callback completion", Args: []any{"callback", protocol.Name(in.GetCallback()), "epoch", in.GetEpoch()}}}
	}
	name := m.cb
	m.cb = noCallback
	switch name {
	case cbSanityCheck:
		return m.checked(in)
	case cbTearDown:
		return m.tearDownDone(in)
	}
	if m.cur == nil || m.cur.stage != stageCallback {
		return nil
	}
	return m.requestCallbackDone(name, in)
}

// Status is the machine's view as a message; a new one on every call.
func (m *Machine) Status() *v1.LifecycleStatus {
	st := &v1.LifecycleStatus{
		Process:      m.processState(),
		Pid:          m.pid,
		Metrics:      slices.Clone(m.metrics),
		Starts:       m.starts,
		Dependencies: m.dependencies(),
		Restarts:     m.restarts,
		Exits:        m.exits,
		ChecksPassed: m.checksPassed,
		ChecksFailed: m.checksFailed,
		Configured:   m.argv != nil,
	}
	if m.lastExit != nil {
		st.LastExit = &v1.ExitStatus{Code: m.lastExit.GetCode(), Signal: m.lastExit.GetSignal()}
	}
	if m.dead {
		st.ExitCode = m.exitCode
	}
	return st
}

// Base is the cluster of the last on answered 200 (DESIGN §7), as sent: a new one on every call, empty when
// there is none. A new leader's model asks for it (GetBase) to guess every pod's base.
func (m *Machine) Base() *v1.Base {
	pods, deps := m.base.Entries()
	return &v1.Base{Pods: pods, Dependencies: deps}
}

func (m *Machine) processState() v1.ProcessState {
	switch {
	case m.dead:
		return v1.ProcessState_PROCESS_STATE_DEAD
	case m.proc == procRunning:
		return v1.ProcessState_PROCESS_STATE_RUNNING
	case m.proc == procTerminating:
		return v1.ProcessState_PROCESS_STATE_TERMINATING
	case m.proc == procStopped && m.restartPending:
		return v1.ProcessState_PROCESS_STATE_BACKOFF
	}
	return v1.ProcessState_PROCESS_STATE_STOPPED
}

func (m *Machine) dependencies() []string {
	if m.last == nil {
		return nil
	}
	return m.last.DependencyNames()
}

// statusKey is what the status shows, comparable, so that only changes are published.
type statusKey struct {
	process  v1.ProcessState
	pid      int64
	starts   int32
	exitCode int32
	metrics  string
	deps     string
	restarts int32
	exits    int32
	checks   [2]int64
	ready    bool
}

func (m *Machine) publish(effects []Effect) []Effect {
	st := m.Status()
	deps, _ := json.Marshal(st.GetDependencies())
	k := statusKey{st.GetProcess(), st.GetPid(), st.GetStarts(), st.GetExitCode(), string(st.GetMetrics()), string(deps),
		st.GetRestarts(), st.GetExits(), [2]int64{st.GetChecksPassed(), st.GetChecksFailed()}, st.GetConfigured()}
	if k == m.published {
		return effects
	}
	m.published = k
	return append(effects, Publish{Status: st})
}
