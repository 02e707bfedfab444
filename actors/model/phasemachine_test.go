package model

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ochopod/ochopod/testkit/transcript"
)

// TestPhaseMachine_Transcripts replays testdata/phase/*.txt (testkit/transcript). Inputs:
//
//	plan <keys...> [sequential] [full] [guard] [arm] [nourl=<key>] [unknown=<key>]
//	start | guarded [fail <why>] | armed [fail <why>] | reply <index> <code> | reply <index> err <why> | over <why>
func TestPhaseMachine_Transcripts(t *testing.T) {
	transcript.Test(t, filepath.Join("testdata", "phase"), func() transcript.Step {
		var m *PhaseMachine
		return func(f []string) ([]string, error) { return phaseStep(&m, f) }
	})
}

// phaseStep feeds one input to *m (a plan replaces it) and renders the effects.
func phaseStep(m **PhaseMachine, f []string) ([]string, error) {
	var effects []PhaseEffect
	switch {
	case f[0] == "plan":
		*m = newPlan(f[1:])
		return nil, nil
	case *m == nil:
		return nil, errors.New("input before plan")
	case f[0] == "start":
		effects = (*m).Start()
	case f[0] == "guarded":
		effects = (*m).Handle(PhaseGuarded{Err: failure(f[1:])})
	case f[0] == "armed":
		effects = (*m).Handle(PhaseArmed{Err: failure(f[1:])})
	case f[0] == "over":
		effects = (*m).Handle(PhaseOver{Cause: errors.New(strings.Join(f[1:], " "))})
	case f[0] == "reply" && len(f) >= 3:
		i, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, err
		}
		r := PhaseReplied{Index: i, URL: "http://pod"}
		if f[2] == "err" {
			r.Err = errors.New(strings.Join(f[3:], " "))
		} else if r.Code, err = strconv.Atoi(f[2]); err != nil {
			return nil, err
		}
		effects = (*m).Handle(r)
	default:
		return nil, errors.New("unknown input")
	}
	var out []string
	for _, e := range effects {
		out = append(out, render(e))
	}
	return out, nil
}

func newPlan(args []string) *PhaseMachine {
	var cfg PhaseSettings
	var pods []PhasePod
	noURL := map[string]bool{}
	for _, a := range args {
		switch {
		case a == "sequential":
			cfg.Sequential = true
		case a == "full":
			cfg.FullShutdown = true
		case a == "guard":
			cfg.Guard = true
		case a == "arm":
			cfg.Arm = true
		case strings.HasPrefix(a, "nourl="):
			noURL[strings.TrimPrefix(a, "nourl=")] = true
		case strings.HasPrefix(a, "unknown="):
			pods = append(pods, PhasePod{Key: strings.TrimPrefix(a, "unknown="), URL: "http://pod"})
		default:
			pods = append(pods, PhasePod{Key: a, URL: "http://pod"})
			cfg.Known = append(cfg.Known, a)
		}
	}
	for i := range pods {
		if noURL[pods[i].Key] {
			pods[i].URL = ""
		}
	}
	return NewPhaseMachine(cfg, pods)
}

func failure(f []string) error {
	if len(f) == 0 {
		return nil
	}
	return errors.New(strings.Join(f[1:], " "))
}

func render(e PhaseEffect) string {
	switch e := e.(type) {
	case RunGuard:
		return "guard"
	case RunArm:
		return "arm"
	case Send:
		return fmt.Sprintf("send %s %s #%d", e.Task, e.Pod.Key, e.Index)
	case Drop:
		return "drop " + e.Key
	case Finish:
		err := "none"
		if e.Err != nil { // one line: the failures of a step are joined by newlines
			lines := strings.Split(e.Err.Error(), "\n")
			for i := range lines {
				lines[i] = strings.TrimSpace(lines[i])
			}
			err = strings.Join(lines, " | ")
		}
		return fmt.Sprintf("finish dropped=%v err=%s", e.Dropped, err)
	}
	return fmt.Sprintf("%T", e)
}
