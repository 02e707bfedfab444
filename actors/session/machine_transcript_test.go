package session

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/backoff"
	"github.com/ochopod/ochopod/testkit/transcript"
)

// TestSession_Transcripts replays testdata/session/*.txt (testkit/transcript): the input sequences of the
// session's former bugs (testkit/sim/diagnose.go), effects rendered as kinds does. An input answers the
// latest epoch the machine dialled, or #<n> when given (a late answer of an older incarnation). Inputs:
//
//	new [first=<n>] | start | identity <key> | connected [#<n>] <session id> | expired [#<n>]
//	registered [#<n>] <seq> | status
func TestSession_Transcripts(t *testing.T) {
	transcript.Test(t, filepath.Join("testdata", "session"), func() transcript.Step {
		r := &sessionReplay{}
		r.renew(0)
		return r.step
	})
}

// sessionReplay holds the machine and the epoch it last dialled.
type sessionReplay struct {
	m     *Machine
	epoch uint64
}

// renew stands for a restarted actor: a new machine whose epochs start at first (FirstEpoch).
func (r *sessionReplay) renew(first uint64) {
	r.m = NewMachine(MachineConfig{Cluster: "ns.web", ConnectTimeout: 5 * time.Second, SuspendAfter: time.Second,
		Backoff: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}, FirstEpoch: first})
	r.epoch = first
}

func (r *sessionReplay) step(f []string) ([]string, error) {
	epoch, args, err := transcript.Generation(f[1:], r.epoch)
	if err != nil {
		return nil, err
	}
	num := func() (int64, error) {
		if len(args) != 1 {
			return 0, errors.New("one number expected")
		}
		return strconv.ParseInt(args[0], 10, 64)
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
	case "status":
		st := r.m.Status()
		return []string{"registered=" + strconv.FormatBool(st.GetRegistered()) + " seq=" + strconv.FormatInt(st.GetSeq(), 10) +
			" session=" + strconv.FormatInt(st.GetSessionId(), 10)}, nil
	case "identity":
		if len(args) != 1 {
			return nil, errors.New("identity <key>")
		}
		in = &v1.Identity{Key: args[0]}
	case "connected":
		id, err := num()
		if err != nil {
			return nil, err
		}
		in = connected(epoch, id)
	case "expired":
		in = state(epoch, v1.ZkState_ZK_STATE_EXPIRED)
	case "registered":
		seq, err := num()
		if err != nil {
			return nil, err
		}
		in = &v1.RegisterDone{Epoch: epoch, Path: "/p/k1." + strconv.FormatInt(1e9+seq, 10)[1:], Seq: seq}
	default:
		return nil, errors.New("unknown input")
	}
	return r.note(r.m.Handle(input(in))), nil
}

// note keeps the epoch the next inputs answer and renders the effects.
func (r *sessionReplay) note(effects []Effect) []string {
	for _, e := range effects {
		if d, ok := e.(Dial); ok {
			r.epoch = d.Epoch
		}
	}
	return kinds(effects)
}
