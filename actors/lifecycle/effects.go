package lifecycle

import (
	"encoding/json"
	"log/slog"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// Effect is something the machine asks its behaviour to do. Effects that complete later carry the epoch (callback)
// or incarnation (process) they were issued under, and so do the completions the behaviour feeds back.
type Effect interface{ isEffect() }

// Callback names, as CallbackDone.Callback carries them (lifecycle.proto).
const (
	noCallback     = v1.Callback_CALLBACK_UNSPECIFIED
	cbInitialize   = v1.Callback_CALLBACK_INITIALIZE
	cbCanConfigure = v1.Callback_CALLBACK_CAN_CONFIGURE
	cbConfigure    = v1.Callback_CALLBACK_CONFIGURE
	cbConfigured   = v1.Callback_CALLBACK_CONFIGURED
	cbSanityCheck  = v1.Callback_CALLBACK_SANITY_CHECK
	cbTearDown     = v1.Callback_CALLBACK_TEAR_DOWN
	cbSignaled     = v1.Callback_CALLBACK_SIGNALED
	cbFinalize     = v1.Callback_CALLBACK_FINALIZE
)

// RunCallback: call the user's callback Name off the actor and feed CallbackDone{Epoch, Callback: Name} back.
// Cluster is set for can_configure, configure and configured (a copy of its own: the callback may keep it);
// Payload for signaled; Pid for sanity_check, tear_down and signaled (0: no process).
type RunCallback struct {
	Epoch   uint64
	Name    v1.Callback
	Cluster *sdk.Cluster
	Payload json.RawMessage
	Pid     int
}

// CancelCallback: cancel the context of the callback of Epoch; the machine no longer waits for it.
type CancelCallback struct{ Epoch uint64 }

// StartProcess: send ExecStart to the executor. The environment is the pod's, then what the runtime adds for
// the configuration's cluster (§11: $ochopod, OCHOPOD_*), then Overrides, later ones winning. Completes with
// ExecStarted. Envelope is the machine's (nil before any configuration): read it, do not keep it.
type StartProcess struct {
	Incarnation uint64
	Argv        []string
	Overrides   map[string]string
	Envelope    *sdk.Envelope
	Shell       bool
	Cwd         string
	Pipe        bool
}

// TearDownProcess: send ExecTearDown to the executor. Completes with ExecExited.
type TearDownProcess struct {
	Incarnation uint64
	Term        bool // the executor sends SIGTERM (no user tear_down)
	Grace       time.Duration
	Soft        bool
}

// SignalProcess: send ExecSignal to the executor.
type SignalProcess struct {
	Incarnation uint64
	Signal      int32
}

// Reply: answer the request of Handle (never 0: internal requests get no reply).
type Reply struct {
	Handle uint64
	Code   int32
	Body   []byte
}

// StartTimer: after After, feed TimerFired{Name, Epoch} back.
type StartTimer struct {
	Name  v1.Timer
	Epoch uint64
	After time.Duration
}

// Publish: make the status known (event stream).
type Publish struct{ Status *v1.LifecycleStatus }

// Configured: the pod ran the ok of a configuration on Envelope's cluster (of Phase, "" if the request named
// none): publish it as a *v1.ClusterConfigured (DESIGN §4 "Custom actors"). Envelope is the machine's: read it,
// do not keep it.
type Configured struct {
	Envelope *sdk.Envelope
	Phase    string
}

// Log: something worth a log line. Machines do not log themselves.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

func (RunCallback) isEffect()     {}
func (CancelCallback) isEffect()  {}
func (StartProcess) isEffect()    {}
func (TearDownProcess) isEffect() {}
func (SignalProcess) isEffect()   {}
func (Reply) isEffect()           {}
func (StartTimer) isEffect()      {}
func (Publish) isEffect()         {}
func (Configured) isEffect()      {}
func (Log) isEffect()             {}
