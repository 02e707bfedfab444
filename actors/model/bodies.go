package model

import (
	"github.com/ochopod/ochopod/runtime/delta"
	"github.com/ochopod/ochopod/runtime/payload"
)

// bodies makes the bodies of the phase's cluster as it stands: the plan's (deltas), else whole ones.
func (r *phaseRun) bodies() Bodies {
	if r.plan.Bodies != nil {
		if b, err := r.plan.Bodies(r.wire.Pods, r.wire.Dependencies); err == nil {
			return b
		}
	}
	return wholeBodies(r.encoder())
}

// wholeBodies sends every pod the whole cluster (DESIGN §7 before delta bodies; original pods).
type wholeBodies func(key string) ([]byte, error)

func (w wholeBodies) Body(key string) ([]byte, bool, error) {
	b, err := w(key)
	return b, false, err
}
func (wholeBodies) Refused(string)  {}
func (wholeBodies) Accepted(string) {}

// DeltaBodies is PhasePlan.Bodies over a leader's tracker of its pods' bases (DESIGN §7 delta bodies).
func DeltaBodies(t *delta.Tracker) func(map[string]payload.Payload, map[string]map[string]payload.Payload) (Bodies, error) {
	return func(pods map[string]payload.Payload, deps map[string]map[string]payload.Payload) (Bodies, error) {
		b, err := t.Bodies(pods, deps)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
}
