package leader

import (
	"errors"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/testkit/transcript"
)

// TestLeader_Transcripts replays testdata/leader/*.txt (testkit/transcript): the input sequences of the
// lock's former bugs (testkit/sim/diagnose.go), effects rendered as kinds does. An input answers the latest
// generation the machine issued, or #<n> when given (a late answer of an older incarnation). Inputs:
//
//	new [first=<n>] | start | stop | ready [#<n>] <node> | listed [#<n>] <nodes...> | deleted | fire retry | leading
func TestLeader_Transcripts(t *testing.T) {
	transcript.Test(t, filepath.Join("testdata", "leader"), func() transcript.Step {
		r := &leaderReplay{}
		r.renew(0)
		return r.step
	})
}

// leaderReplay holds the machine, the generation it last issued and the node it watches.
type leaderReplay struct {
	m       *Machine
	gen     uint64
	watched string
}

// renew stands for a restarted actor: a new machine starting at first (FirstGeneration).
func (r *leaderReplay) renew(first uint64) {
	r.m = NewMachine(MachineConfig{Coordinator: dir, Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second},
		FirstGeneration: first})
	r.gen, r.watched = first, ""
}

func (r *leaderReplay) step(f []string) ([]string, error) {
	gen, args, err := transcript.Generation(f[1:], r.gen)
	if err != nil {
		return nil, err
	}
	var in any
	switch f[0] {
	case "new":
		first, err := transcript.First(args)
		if err != nil {
			return nil, err
		}
		r.renew(first)
		return nil, nil
	case "start":
		return r.note(r.m.Start()), nil
	case "stop":
		return r.note(r.m.Stop()), nil
	case "leading":
		return []string{"leading=" + strconv.FormatBool(r.m.Leading()) + " lock=" + strings.TrimPrefix(r.m.LockPath(), dir+"/")}, nil
	case "ready":
		if len(args) != 1 {
			return nil, errors.New("ready [#<n>] <node>")
		}
		in = &v1.ContenderReady{Generation: gen, Path: path.Join(dir, args[0])}
	case "listed":
		in = &v1.ContendersListed{Generation: gen, Children: args}
	case "deleted":
		in = &v1.NodeChanged{Generation: gen, Path: r.watched, Event: v1.ZkEvent_ZK_EVENT_NODE_DELETED}
	case "fire":
		in = &v1.TimerFired{Timer: timerRetry, Epoch: gen}
	default:
		return nil, errors.New("unknown input")
	}
	return r.note(r.m.Handle(input(in))), nil
}

// note keeps the generation and watched node the next inputs answer and renders the effects.
func (r *leaderReplay) note(effects []Effect) []string {
	for _, e := range effects {
		switch e := e.(type) {
		case EnsureContender:
			r.gen = e.Generation
		case ListContenders:
			r.gen = e.Generation
		case Watch:
			r.gen, r.watched = e.Generation, e.Path
		case StartTimer:
			r.gen = e.Generation
		}
	}
	return kinds(effects)
}
