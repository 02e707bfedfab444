package model

import (
	"errors"
	"fmt"
	"sort"
)

// PhaseMachine is the configuration phase (DESIGN §7 steps 1 to 3) as a pure machine: it says when to run
// the guard and the arm, what to send to which pod, which pod to drop, and how the phase ends. Its behaviour
// (PhaseProps) carries its effects out (the requests at once, or one after the other) and feeds the outcomes
// back; the machine judges each step in the pods' key order whatever order the replies came in.
type PhaseMachine struct {
	cfg      PhaseSettings
	pods     []PhasePod // sorted by key
	stage    phaseStage
	task     string     // the step running
	targets  []PhasePod // its pods
	replies  []*PhaseReplied
	got      int   // replies of the step in
	sent     int   // sequential: requests of the step sent
	over     error // the phase's context ended: why
	left     []PhasePod
	dropped  []string
	finished bool
}

// PhaseSettings is what the machine needs of a PhasePlan.
type PhaseSettings struct {
	Sequential, FullShutdown bool
	Guard, Arm               bool     // the plan has a guard, an arm
	Known                    []string // the keys of the cluster sent (PhasePlan.Wire.Pods)
}

type phaseStage int

// The replies the machine tells apart (DESIGN §7 step 2): the machine stays free of net/http.
const (
	statusOK   = 200
	statusGone = 410 // the pod is dead: drop it
)

const (
	stageIdle phaseStage = iota
	stageGuardCheck
	stageStep
	stageGuardOn
	stageArm
	stageDone
)

// PhaseInput is what the driver feeds the machine.
type PhaseInput interface{ isPhaseInput() }

// PhaseGuarded is the guard's outcome.
type PhaseGuarded struct{ Err error }

// PhaseArmed is the arm's outcome.
type PhaseArmed struct{ Err error }

// PhaseReplied is a pod's answer to the request Index of the step (or the request's failure).
type PhaseReplied struct {
	Index int
	URL   string
	Code  int
	Body  []byte
	Err   error
}

// PhaseOver says the phase's context ended: no step starts any more, no further request is sent.
type PhaseOver struct{ Cause error }

func (PhaseGuarded) isPhaseInput() {}
func (PhaseArmed) isPhaseInput()   {}
func (PhaseReplied) isPhaseInput() {}
func (PhaseOver) isPhaseInput()    {}

// PhaseEffect is what the machine asks the driver to do.
type PhaseEffect interface{ isPhaseEffect() }

// RunGuard runs the plan's guard; feed PhaseGuarded.
type RunGuard struct{}

// RunArm runs the plan's arm; feed PhaseArmed.
type RunArm struct{}

// Send posts Task to Pod; feed PhaseReplied{Index}.
type Send struct {
	Task  string
	Pod   PhasePod
	Index int
}

// Drop leaves the pod out of the cluster the next requests carry (it answered 410 to check).
type Drop struct{ Key string }

// Finish ends the phase.
type Finish struct {
	Dropped []string
	Err     error
}

func (RunGuard) isPhaseEffect() {}
func (RunArm) isPhaseEffect()   {}
func (Send) isPhaseEffect()     {}
func (Drop) isPhaseEffect()     {}
func (Finish) isPhaseEffect()   {}

// NewPhaseMachine returns the machine of a phase over pods.
func NewPhaseMachine(cfg PhaseSettings, pods []PhasePod) *PhaseMachine {
	sorted := append([]PhasePod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	return &PhaseMachine{cfg: cfg, pods: sorted}
}

// Done reports whether the phase finished.
func (m *PhaseMachine) Done() bool { return m.finished }

// Start begins the phase: step 1, then the guard or the checks.
func (m *PhaseMachine) Start() []PhaseEffect {
	if m.stage != stageIdle {
		return nil
	}
	known := map[string]bool{}
	for _, k := range m.cfg.Known {
		known[k] = true
	}
	for _, p := range m.pods { // step 1
		if p.URL == "" {
			return m.finish(fmt.Errorf("configuration phase: pod %s does not expose its control port", p.Key))
		}
		if !known[p.Key] {
			return m.finish(fmt.Errorf("configuration phase: pod %s is not among the cluster's pods", p.Key))
		}
	}
	if len(m.pods) == 0 {
		return m.finish(nil)
	}
	if m.cfg.Guard {
		m.stage = stageGuardCheck
		return []PhaseEffect{RunGuard{}}
	}
	return m.step(taskCheck, m.pods)
}

// Handle feeds one outcome to the machine.
func (m *PhaseMachine) Handle(in PhaseInput) []PhaseEffect {
	if m.finished {
		return nil
	}
	switch in := in.(type) {
	case PhaseOver:
		if m.over == nil {
			m.over = in.Cause
		}
		if m.cfg.Sequential && m.stage == stageStep && m.sent > m.got {
			return nil // the request in flight ends with the context; its reply moves on
		}
		if m.cfg.Sequential && m.stage == stageStep {
			return m.next()
		}
	case PhaseGuarded:
		if m.stage != stageGuardCheck && m.stage != stageGuardOn {
			return nil
		}
		if in.Err != nil {
			return m.finish(fmt.Errorf("configuration phase: %w", in.Err))
		}
		if m.stage == stageGuardCheck {
			return m.step(taskCheck, m.pods)
		}
		return m.armed()
	case PhaseArmed:
		if m.stage != stageArm {
			return nil
		}
		if in.Err != nil {
			return m.finish(fmt.Errorf("configuration phase: %w", in.Err))
		}
		return m.turnOn()
	case PhaseReplied:
		if m.stage != stageStep || in.Index < 0 || in.Index >= len(m.replies) || m.replies[in.Index] != nil {
			return nil
		}
		r := in
		m.replies[in.Index] = &r
		m.got++
		if m.got == len(m.targets) {
			return m.stepDone()
		}
		if m.cfg.Sequential {
			return m.next()
		}
	}
	return nil
}

// step sends task to pods: all at once, or the first of them when sequential.
func (m *PhaseMachine) step(task string, pods []PhasePod) []PhaseEffect {
	m.stage, m.task, m.targets = stageStep, task, pods
	m.replies, m.got, m.sent = make([]*PhaseReplied, len(pods)), 0, 0
	if m.cfg.Sequential {
		return m.next()
	}
	effects := make([]PhaseEffect, 0, len(pods))
	for i, p := range pods {
		effects = append(effects, Send{Task: task, Pod: p, Index: i})
	}
	m.sent = len(pods)
	return effects
}

// next sends the step's next request, one after the other; once the phase is over the rest are not sent.
func (m *PhaseMachine) next() []PhaseEffect {
	for m.sent < len(m.targets) && m.over != nil {
		i := m.sent
		m.sent++
		m.replies[i] = &PhaseReplied{Index: i, Err: m.over}
		m.got++
	}
	if m.got == len(m.targets) {
		return m.stepDone()
	}
	if m.sent > m.got || m.sent == len(m.targets) {
		return nil // a request is in flight
	}
	i := m.sent
	m.sent++
	return []PhaseEffect{Send{Task: m.task, Pod: m.targets[i], Index: i}}
}

// stepDone judges the step once every pod answered, in key order.
func (m *PhaseMachine) stepDone() []PhaseEffect {
	var failures []error
	var effects []PhaseEffect
	switch m.task {
	case taskCheck:
		for i, r := range m.replies {
			p := m.targets[i]
			switch {
			case r.Err == nil && r.Code == statusOK:
				m.left = append(m.left, p)
			case r.Err == nil && r.Code == statusGone:
				m.dropped = append(m.dropped, p.Key)
				effects = append(effects, Drop{Key: p.Key}) // the pods left configure without it
			default:
				failures = append(failures, r.failure(p))
			}
		}
	case taskOn:
		for i, r := range m.replies {
			if r.Err != nil || r.Code != statusOK {
				failures = append(failures, r.failure(m.targets[i]))
			}
		}
	case taskOK:
		return append(effects, m.finish(nil)...) // replies ignored, as the original did
	}
	if err := m.judge(failures); err != nil {
		return append(effects, m.finish(err)...)
	}
	switch m.task {
	case taskCheck:
		if len(m.left) == 0 { // step 3: nobody left to configure
			return append(effects, m.finish(nil)...)
		}
		if m.cfg.Guard {
			m.stage = stageGuardOn
			return append(effects, RunGuard{})
		}
		return append(effects, m.armed()...)
	case taskOff:
		return m.step(taskOn, m.left)
	}
	return m.step(taskOK, m.left) // on
}

// armed goes on after the guard before turning pods on: the arm, if any, then off or on.
func (m *PhaseMachine) armed() []PhaseEffect {
	if m.cfg.Arm && m.stage != stageArm {
		m.stage = stageArm
		return []PhaseEffect{RunArm{}}
	}
	return m.turnOn()
}

func (m *PhaseMachine) turnOn() []PhaseEffect {
	if m.cfg.FullShutdown {
		return m.step(taskOff, m.left)
	}
	return m.step(taskOn, m.left)
}

// judge is the verdict of a step: the context over aborts the phase whatever the replies; else failures fail it.
func (m *PhaseMachine) judge(failures []error) error {
	if m.over != nil {
		return fmt.Errorf("configuration phase aborted during %s: %w", m.task, m.over)
	}
	if len(failures) > 0 {
		return fmt.Errorf("configuration phase: %s failed: %w", m.task, errors.Join(failures...))
	}
	return nil
}

func (m *PhaseMachine) finish(err error) []PhaseEffect {
	m.stage, m.finished = stageDone, true
	return []PhaseEffect{Finish{Dropped: m.dropped, Err: err}}
}

func (r *PhaseReplied) failure(p PhasePod) error {
	if r.Err != nil {
		return fmt.Errorf("pod %s: %w", p.Key, r.Err)
	}
	return fmt.Errorf("pod %s (%s) answered %d %s", p.Key, r.URL, r.Code, snippet(r.Body))
}
