package model

import (
	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Timer names.
const (
	timerDamper = v1.Timer_TIMER_DAMPER // the change settled: configure
	timerRetry  = v1.Timer_TIMER_RETRY  // a read or a write failed: try again
	timerProbe  = v1.Timer_TIMER_PROBE  // time to probe the cluster
)

type phase int

const (
	phaseIdle        phase = iota // clean, or waiting for the first read
	phasePending                  // dirty: the damper runs
	phaseConfiguring              // a configuration phase runs
	phaseWriting                  // snapshot and hash are being written
	phaseFenced                   // our lock is gone: do nothing more
)

// MachineConfig holds the model's settings (DESIGN §7).
type MachineConfig struct {
	Cluster   zk.Cluster
	Namespace string
	DependsOn []string
	// Damper is how long a change must settle before the cluster is configured.
	Damper time.Duration
	// RetryFloor is the least wait before a failed phase is tried again, so a damper of 0 never spins.
	RetryFloor time.Duration
	Backoff    backoff.Policy
	// ProbeEvery is the period of the user's probe (DESIGN §7); 0: no probe.
	ProbeEvery time.Duration
	// FirstGeneration is where generations start: a restarted model starts past its previous instance's.
	FirstGeneration uint64
}

// view is the cluster as last read from ZooKeeper.
type view struct {
	pods     map[string]json.RawMessage
	deps     map[string]json.RawMessage // each cluster depended on (qualified name) -> its snapshot
	declared map[string]json.RawMessage // deps keyed as depends_on declares them (DESIGN §11)
	zkHash   string
	zkVer    int32 // the hash node's version
	clusters []string
	hash     string // computed from pods and declared
	paused   bool   // the paused node exists (DESIGN §13)
}

// Machine is the cluster model's pure state machine (DESIGN §7). It is level-triggered (STYLE 7): every
// change, lost watch or restart only means "read again", and the decision comes from comparing the hash of
// what was read with the hash in ZooKeeper, so a lost or duplicated event costs nothing.
//
//	idle ─Changed→ read ─same hash→ idle
//	                    └─new hash→ pending ─damper→ configuring ─ok→ writing ─ok→ idle
//	                                   ↑ reverted: idle     │                          └─fenced→ fenced
//	                                                        └─failed→ retry wait ─read, new hash→ configuring
type Machine struct {
	cfg   MachineConfig
	phase phase
	gen   uint64 // tags reads, phases, writes and timers; completions of an older one are dropped

	reading   bool // a read is in flight
	retrying  bool // a retry timer runs: changes wait for it, so a failing cluster is not hammered
	retried   bool // the read in flight follows a retry's wait, which was the damper: dirty, it configures at once
	readAgain bool // something changed during a read or a phase: read once more afterwards
	view      *view
	watching  []string // dependencies the watchers watch
	awaiting  []string // pod nodes still registering the watchers watch (ClusterRead.pending)

	configuredHash string // the hash being configured, then written
	configuredVer  int32  // the hash node's version when the phase started
	failures       int
	configurations int
	lastErr        string
	phasesOK       int32 // phases that configured the cluster, for ochopod_phases_total (DESIGN §13)
	phasesFailed   int32
	snapshotOK     bool // our snapshot node is written since we lead

	damperGen uint64 // tags the damper's timer: reads while it runs move gen, not the damper
	probeGen  uint64 // tags the probe's timer, apart from gen: a probe does not stop a configuration
	probeCall uint64 // tags the probe in flight
	probing   bool   // a probe is in flight
	status    string // the last probe's answer, "* <reason>" when it failed

	writing map[string]json.RawMessage // the pods of the snapshot being written

	paused bool          // the last read saw the paused node: no phase starts (DESIGN §13)
	done   *v1.PhaseDone // the phase whose snapshot and hash are being written, for its history entry
}

// NewMachine returns a model that has read nothing yet.
func NewMachine(cfg MachineConfig) *Machine {
	g := cfg.FirstGeneration
	return &Machine{cfg: cfg, gen: g, damperGen: g, probeGen: g, probeCall: g}
}

// Start asks for the watches and a first read, and starts the probe's period.
func (m *Machine) Start() []Effect {
	effects := append([]Effect{m.watchSet(nil, nil)}, m.read()...)
	if m.cfg.ProbeEvery > 0 {
		m.probeGen++
		effects = append(effects, StartTimer{Name: timerProbe, Generation: m.probeGen, After: m.cfg.ProbeEvery})
	}
	return effects
}

// Status is the machine's view as a message.
func (m *Machine) Status() *v1.ModelStatus {
	st := &v1.ModelStatus{Cluster: m.cfg.Cluster.Qualified, State: v1.ModelState_MODEL_STATE_IDLE,
		Configurations: int32(m.configurations), LastError: m.lastErr, Status: m.status,
		Phases: m.phasesOK, PhasesFailed: m.phasesFailed}
	switch {
	case m.phase == phaseConfiguring, m.phase == phaseWriting:
		st.State = v1.ModelState_MODEL_STATE_CONFIGURING
	case m.paused:
		st.State = v1.ModelState_MODEL_STATE_PAUSED
	case m.phase == phasePending, m.phase == phaseIdle && m.view != nil && m.view.hash != m.view.zkHash:
		st.State = v1.ModelState_MODEL_STATE_PENDING
	}
	if m.view != nil {
		st.Hash = m.view.zkHash
		st.Pods = int32(len(m.view.pods))
	}
	return st
}

// Handle feeds one input to the machine.
func (m *Machine) Handle(in *v1.ModelInput) []Effect {
	if m.phase == phaseFenced {
		return nil
	}
	switch in := protocol.Unwrap(in).(type) {
	case *v1.Changed:
		if m.reading || m.retrying || m.phase == phaseConfiguring || m.phase == phaseWriting {
			m.readAgain = true
			return nil
		}
		return m.read()
	case *v1.ClusterRead:
		if in.GetGeneration() != m.gen || !m.reading {
			return nil
		}
		m.reading = false
		return m.onRead(in)
	case *v1.TimerFired:
		if in.GetTimer() == timerProbe {
			if in.GetEpoch() != m.probeGen {
				return nil
			}
			return m.probe()
		}
		if in.GetTimer() == timerDamper {
			// The damper has its own generation: reads while it runs must not orphan it.
			if in.GetEpoch() != m.damperGen {
				return nil
			}
			return m.onTimer(in.GetTimer())
		}
		if in.GetEpoch() != m.gen {
			return nil
		}
		return m.onTimer(in.GetTimer())
	case *v1.CallbackDone:
		if in.GetCallback() != v1.Callback_CALLBACK_PROBE || in.GetEpoch() != m.probeCall || !m.probing {
			return nil
		}
		m.probing = false
		m.status = string(in.GetResult())
		if in.GetFailure() != nil {
			m.status = "* " + in.GetFailure().GetMessage()
		}
		return []Effect{m.publish()}
	case *v1.PhaseDone:
		if in.GetGeneration() != m.gen || m.phase != phaseConfiguring {
			return nil
		}
		return m.onPhase(in)
	case *v1.Written:
		if in.GetGeneration() != m.gen || m.phase != phaseWriting {
			return nil
		}
		return m.onWritten(in)
	}
	return nil
}

func (m *Machine) read() []Effect {
	m.gen++
	m.reading = true
	m.retrying = false // whatever started this read supersedes a pending retry (its timer is now stale)
	m.readAgain = false
	return []Effect{Read{Generation: m.gen}}
}

func (m *Machine) onRead(in *v1.ClusterRead) []Effect {
	if in.GetFailure() != nil {
		return m.retry("cannot read the cluster: " + in.GetFailure().GetMessage())
	}
	v := &view{pods: rawMap(in.GetPods()), deps: rawMap(in.GetDependencies()), zkHash: in.GetHash(), zkVer: in.GetHashVersion(),
		clusters: in.GetClusters(), paused: in.GetPaused()}
	for name, snap := range v.deps {
		if string(snap) != "null" {
			continue
		}
		// No snapshot: that cluster's leader is changing hands (the snapshot is its leader's ephemeral node),
		// or it was never configured. Keep the last one seen rather than reconfigure for a hand-over.
		v.deps[name] = json.RawMessage("{}")
		if m.view != nil && m.view.deps[name] != nil {
			v.deps[name] = m.view.deps[name]
		}
	}
	declared, err := DeclaredDependencies(m.cfg.Namespace, m.cfg.Cluster.Qualified, m.cfg.DependsOn, v.clusters, v.deps)
	if err != nil {
		return m.retry(err.Error())
	}
	v.declared = declared
	h, err := Hash(v.pods, v.declared)
	if err != nil {
		return m.retry(err.Error())
	}
	v.hash = h
	m.view = v
	var effects []Effect
	deps, pending := sortedKeys(v.deps), slices.Sorted(slices.Values(in.GetPending()))
	if !slices.Equal(pending, m.awaiting) && len(pending) > 0 {
		effects = append(effects, Log{Level: slog.LevelInfo, Msg: "pods still registering: watching them until they write their seq", Args: []any{"nodes", pending}})
	}
	if !slices.Equal(deps, m.watching) || !slices.Equal(pending, m.awaiting) {
		effects = append(effects, m.watchSet(deps, pending))
	}
	if m.readAgain {
		return append(effects, m.read()...)
	}
	resumed := m.paused && !v.paused
	if m.paused != v.paused {
		m.paused = v.paused
		msg := "the cluster is paused: no phase starts until its paused node is deleted"
		if resumed {
			msg = "the cluster is resumed"
		}
		effects = append(effects, Log{Level: slog.LevelInfo, Msg: msg})
	}
	if v.hash == v.zkHash {
		m.retried = false
		wasPending := m.phase == phasePending
		m.phase = phaseIdle
		m.failures = 0
		if wasPending {
			effects = append(effects, Log{Level: slog.LevelInfo, Msg: "the change reverted within the damper: nothing to configure"})
		}
		if !m.snapshotOK || wasPending {
			// DESIGN §7: clean again, the snapshot is rewritten (it is ours to own as the new leader, too).
			m.configuredHash = v.hash
			m.phase = phaseWriting
			m.gen++
			m.writing = v.pods
			return append(effects, Write{Generation: m.gen, Pods: v.pods, Hash: v.hash, HashVersion: v.zkVer}, m.publish())
		}
		return append(effects, m.publish())
	}
	if v.paused { // DESIGN §13: the change waits; a damper that runs is dropped
		m.retried = false
		if m.phase == phasePending {
			m.phase = phaseIdle
			m.gen++
			m.damperGen = m.gen // no timer carries it: the damper's is stale
		}
		return append(effects, m.publish())
	}
	if resumed || m.retried {
		// DESIGN §13: a cluster that changed while paused is configured at once. DESIGN §7: so is one read
		// after a retry's wait, which lasted at least a damper; another damper would only delay it.
		return append(effects, m.configure()...)
	}
	if m.phase == phasePending {
		// The damper is running: it will configure whatever is there when it fires. DESIGN §7: the cluster is
		// configured once the damper expires; a further change does not restart it, or a cluster that changes
		// more often than its damper would never be configured. A revert cancels it (above).
		return effects
	}
	m.phase = phasePending
	m.gen++ // drops whatever the previous state had in flight
	m.damperGen = m.gen
	effects = append(effects, Log{Level: slog.LevelInfo, Msg: "the cluster changed: configuring after the damper",
		Args: []any{"pods", len(v.pods), "dependencies", len(v.declared), "damper", m.cfg.Damper}})
	return append(effects, StartTimer{Name: timerDamper, Generation: m.damperGen, After: m.cfg.Damper}, m.publish())
}

func (m *Machine) onTimer(name v1.Timer) []Effect {
	switch {
	case name == timerDamper && m.phase == phasePending:
		return m.configure()
	case name == timerRetry && !m.reading && m.phase != phaseConfiguring && m.phase != phaseWriting:
		m.retrying = false
		effects := m.read()
		m.retried = true
		return effects
	}
	return nil
}

// configure starts a phase on what was last read. The watchers may have seen changes since: a read comes
// after the phase (readAgain), and a new hash configures again.
func (m *Machine) configure() []Effect {
	m.phase = phaseConfiguring
	m.retrying = false // the damper fired during a retry wait: this phase supersedes the retry
	m.retried = false
	m.gen++
	m.configuredHash = m.view.hash
	m.configuredVer = m.view.zkVer
	return []Effect{
		Log{Level: slog.LevelInfo, Msg: "configuring the cluster", Args: []any{"pods", len(m.view.pods), "hash", m.view.hash}},
		Configure{Generation: m.gen, Pods: m.view.pods, Dependencies: m.view.declared, HashVersion: m.view.zkVer},
		m.publish(),
	}
}

func (m *Machine) onPhase(in *v1.PhaseDone) []Effect {
	if in.GetFailure() != nil {
		m.phasesFailed++
		m.phase = phaseIdle // still dirty: the read after the retry's wait configures again
		why := in.GetFailure().GetMessage()
		return append([]Effect{m.history(in, "failed: "+why)}, m.retry("configuration failed: "+why)...)
	}
	m.done = in
	pods := make(map[string]json.RawMessage, len(m.view.pods))
	for k, v := range m.view.pods {
		pods[k] = v
	}
	for _, k := range in.GetDropped() {
		delete(pods, k)
	}
	m.phase = phaseWriting
	m.gen++
	var effects []Effect
	if len(in.GetDropped()) > 0 {
		effects = append(effects, Log{Level: slog.LevelWarn, Msg: "dead pods left out of the configuration", Args: []any{"keys", in.GetDropped()}})
	}
	ver := m.configuredVer
	if in.GetArmed() && ver != zk.AnyVersion {
		ver++ // the phase cleared the hash: one more version
	}
	m.writing = pods
	entry := m.history(in, OutcomeOK).Entry // written with snapshot and hash, or not at all
	return append(effects, Write{Generation: m.gen, Pods: pods, Hash: m.configuredHash, HashVersion: ver, History: &entry}, m.publish())
}

func (m *Machine) onWritten(in *v1.Written) []Effect {
	if in.GetFailure().GetKind() == v1.ErrorKind_ERROR_KIND_FENCED {
		m.phase = phaseFenced
		m.phasesFailed++
		m.lastErr = "fenced: " + in.GetFailure().GetMessage()
		return []Effect{Log{Level: slog.LevelWarn, Msg: "our lock is gone: this model stops writing", Args: []any{"err", in.GetFailure().GetMessage()}}, m.publish()}
	}
	if in.GetFailure() != nil {
		m.phasesFailed++
		m.phase = phaseIdle // the read after the retry delay sees the old hash and configures again
		why := in.GetFailure().GetMessage()
		effects := m.retry("cannot write snapshot and hash: " + why)
		if m.done != nil {
			effects = append(effects, m.history(m.done, "failed: cannot write snapshot and hash: "+why))
			m.done = nil
		}
		return effects
	}
	m.phase = phaseIdle
	m.failures = 0
	m.lastErr = ""
	m.snapshotOK = true
	m.phasesOK++
	if m.view != nil {
		if m.view.zkHash != m.configuredHash {
			m.configurations++
		}
		m.view.zkHash = m.configuredHash
	}
	effects := []Effect{Log{Level: slog.LevelInfo, Msg: "snapshot and hash written", Args: []any{"hash", m.configuredHash}}, m.publish(), m.configured()}
	m.done = nil // a phase's history entry went with the write
	// DESIGN §7 step 4: probe at once, and look again: anything that changed during the phase is configured next.
	effects = append(effects, m.probe()...)
	return append(effects, m.read()...)
}

// probe runs the user's probe on the cluster as last read, unless one is in flight; the period restarts.
func (m *Machine) probe() []Effect {
	if m.cfg.ProbeEvery <= 0 {
		return nil
	}
	m.probeGen++
	effects := []Effect{StartTimer{Name: timerProbe, Generation: m.probeGen, After: m.cfg.ProbeEvery}}
	if m.probing || m.view == nil {
		return effects
	}
	m.probing = true
	m.probeCall++
	return append(effects, Probe{Generation: m.probeCall, Pods: m.view.pods, Dependencies: m.view.declared})
}

// retry waits before reading again: at least the floor (or the damper), more while failures repeat.
func (m *Machine) retry(why string) []Effect {
	m.failures++
	m.retrying = true
	m.retried = false
	m.lastErr = why
	m.gen++ // drops whatever is still in flight
	m.reading = false
	delay := max(m.cfg.Damper, m.cfg.RetryFloor, m.cfg.Backoff.Delay(m.failures))
	return []Effect{
		Log{Level: slog.LevelWarn, Msg: why, Args: []any{"retry_in", delay, "failures", m.failures}},
		StartTimer{Name: timerRetry, Generation: m.gen, After: delay},
		m.publish(),
	}
}

// watchSet asks the watchers for the own pods, each dependency's snapshot, the cluster list when a
// wildcard may match clusters that appear later, and each pod node still registering: its seq is written
// after the create, which changes no child of pods/.
func (m *Machine) watchSet(deps, pending []string) Effect {
	m.watching, m.awaiting = deps, pending
	targets := []*v1.WatchTarget{{Kind: v1.WatchKind_WATCH_KIND_PODS, Path: m.cfg.Cluster.Pods()},
		{Kind: v1.WatchKind_WATCH_KIND_PAUSED, Path: m.cfg.Cluster.Paused()}}
	for _, d := range deps {
		targets = append(targets, &v1.WatchTarget{Kind: v1.WatchKind_WATCH_KIND_SNAPSHOT, Path: zk.Cluster{Qualified: d}.Snapshot()})
	}
	for _, p := range pending {
		targets = append(targets, &v1.WatchTarget{Kind: v1.WatchKind_WATCH_KIND_POD, Path: p})
	}
	if HasWildcard(m.cfg.DependsOn) {
		targets = append(targets, &v1.WatchTarget{Kind: v1.WatchKind_WATCH_KIND_CLUSTERS, Path: zk.Root})
	}
	return Watch{Set: &v1.WatchSet{Targets: targets}}
}

func (m *Machine) publish() Effect { return Publish{Status: m.Status()} }

// configured is the cluster whose snapshot and hash were just written.
func (m *Machine) configured() Effect {
	out := &v1.ClusterConfigured{Cluster: m.cfg.Cluster.Qualified, Hash: m.configuredHash,
		Pods: make(map[string][]byte, len(m.writing)), Dependencies: map[string][]byte{},
		Source: v1.ConfiguredSource_CONFIGURED_SOURCE_LEADER}
	for k, v := range m.writing {
		out.Pods[k] = v
	}
	if m.view != nil {
		for k, v := range m.view.declared {
			out.Dependencies[k] = v
		}
	}
	return Configured{Cluster: out, Generation: m.done.GetGeneration()} // no phase (0) for a clean cluster's snapshot
}

// OutcomeOK is the outcome of a phase that configured the cluster and wrote snapshot and hash; others read
// "failed: <why>".
const OutcomeOK = "ok"

// history is the entry of the phase that done ended (DESIGN §13), configured on what was last read.
func (m *Machine) history(done *v1.PhaseDone, outcome string) History {
	pods := 0
	if m.view != nil {
		pods = len(m.view.pods) - len(done.GetDropped())
	}
	return History{Entry: HistoryEntry{EndedUnixMs: done.GetEndedUnixMs(), DurationMs: done.GetDurationMs(),
		Hash: m.configuredHash, Pods: pods, Outcome: outcome, Dropped: slices.Clone(done.GetDropped())}}
}

func rawMap(in map[string][]byte) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(in))
	for k, v := range in {
		out[k] = json.RawMessage(v)
	}
	return out
}

func sortedKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil
	}
	return out
}
