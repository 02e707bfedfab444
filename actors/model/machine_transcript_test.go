package model

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/testkit/transcript"
)

// TestModel_Transcripts replays testdata/model/*.txt (testkit/transcript): the input sequences of the
// model's former bugs (testkit/sim/diagnose.go), effects rendered as kinds does. Inputs (each answers the
// latest effect of its kind, so a stale generation shows as a dropped input):
//
//	start | changed | read <keys...> [zk=<key,key...>] | readfail <why> | fire damper|retry|probe
//	phase ok | phase fail <why> | written ok | written fail <why> | status
func TestModel_Transcripts(t *testing.T) {
	transcript.Test(t, filepath.Join("testdata", "model"), func() transcript.Step {
		r := &modelReplay{m: newTestMachine(2 * time.Second), timers: map[v1.Timer]uint64{}}
		return r.step
	})
}

// modelReplay holds the machine and the generations of its latest effects, which the inputs answer.
type modelReplay struct {
	m                      *Machine
	read, configure, write uint64
	timers                 map[v1.Timer]uint64
}

func (r *modelReplay) step(f []string) ([]string, error) {
	var in any
	switch f[0] {
	case "start":
		return r.note(r.m.Start()), nil
	case "status":
		return []string{"state " + protocol.Name(r.m.Status().GetState())}, nil
	case "changed":
		in = changed
	case "read":
		cr := &v1.ClusterRead{Generation: r.read, Pods: map[string][]byte{}}
		for _, a := range f[1:] {
			if zkKeys, ok := strings.CutPrefix(a, "zk="); ok {
				h, err := Hash(rawMap(pods(strings.Split(zkKeys, ",")...)), nil)
				if err != nil {
					return nil, err
				}
				cr.Hash = h
				continue
			}
			cr.Pods[a] = pods(a)[a]
		}
		in = cr
	case "readfail":
		in = &v1.ClusterRead{Generation: r.read, Failure: protocol.Other(strings.Join(f[1:], " "))}
	case "fire":
		names := map[string]v1.Timer{"damper": timerDamper, "retry": timerRetry, "probe": timerProbe}
		if len(f) < 2 || names[f[1]] == 0 {
			return nil, errors.New("fire damper|retry|probe")
		}
		in = &v1.TimerFired{Timer: names[f[1]], Epoch: r.timers[names[f[1]]]}
	case "phase", "written":
		var fail *v1.Failure
		if len(f) > 2 && f[1] == "fail" {
			fail = protocol.Other(strings.Join(f[2:], " "))
		}
		if f[0] == "phase" {
			in = &v1.PhaseDone{Generation: r.configure, Failure: fail}
		} else {
			in = &v1.Written{Generation: r.write, Failure: fail}
		}
	default:
		return nil, errors.New("unknown input")
	}
	return r.note(r.m.Handle(input(in))), nil
}

// note keeps the generations the next inputs answer and renders the effects.
func (r *modelReplay) note(effects []Effect) []string {
	for _, e := range effects {
		switch e := e.(type) {
		case Read:
			r.read = e.Generation
		case Configure:
			r.configure = e.Generation
		case Write:
			r.write = e.Generation
		case StartTimer:
			r.timers[e.Name] = e.Generation
		}
	}
	return kinds(effects)
}
