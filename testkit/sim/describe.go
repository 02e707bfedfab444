package sim

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/ochopod/ochopod/actors/protocol"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// describe writes a message's type and the fields that matter as trace tokens. It is hand written rather
// than protobuf's text form: cheaper, and stable whatever the protobuf library's formatting does.
func describe(w sink, msg any) {
	switch m := msg.(type) {
	case *v1.Identity:
		w.str("Identity")
		w.str(m.GetKey())
		w.num(m.GetSeq())
		w.str(yes(m.GetHasSeq(), "has-seq"))
	case *v1.SessionStateChanged:
		w.str("SessionStateChanged")
		w.num(int64(m.GetEpoch()))
		w.str(m.GetState().String())
		w.num(m.GetSessionId())
		errTok(w, m.GetFailure())
	case *v1.RegisterDone:
		w.str("RegisterDone")
		w.num(int64(m.GetEpoch()))
		w.str(m.GetPath())
		w.num(m.GetSeq())
		errTok(w, m.GetFailure())
	case *v1.DeregisterDone:
		w.str("DeregisterDone")
		w.num(int64(m.GetEpoch()))
	case *v1.TimerFired:
		w.str("TimerFired")
		w.str(protocol.Name(m.GetTimer()))
		w.num(int64(m.GetEpoch()))
	case *v1.LeadershipChanged:
		w.str("LeadershipChanged")
		w.str(yes(m.GetLeader(), "leader"))
		w.str(m.GetLockPath())
		w.num(int64(m.GetGeneration()))
	case *v1.ResetSession:
		w.str("ResetSession")
		w.str(m.GetCause())
	case *v1.StopSession:
		w.str("StopSession")
	case *v1.ContenderReady:
		w.str("ContenderReady")
		w.num(int64(m.GetGeneration()))
		w.str(m.GetPath())
		errTok(w, m.GetFailure())
	case *v1.ContendersListed:
		w.str("ContendersListed")
		w.num(int64(m.GetGeneration()))
		for _, c := range m.GetChildren() {
			w.str(c)
		}
		errTok(w, m.GetFailure())
	case *v1.NodeWatched:
		w.str("NodeWatched")
		w.num(int64(m.GetGeneration()))
		w.str(m.GetPath())
		w.str(yes(m.GetExists(), "exists"))
		errTok(w, m.GetFailure())
	case *v1.NodeChanged:
		w.str("NodeChanged")
		w.num(int64(m.GetGeneration()))
		w.str(m.GetPath())
		w.str(protocol.Name(m.GetEvent()))
	case *v1.WatchSet:
		w.str("WatchSet")
		for _, t := range m.GetTargets() {
			w.str(protocol.Name(t.GetKind()) + ":" + t.GetPath())
		}
	case *v1.Changed:
		w.str("Changed")
		w.str(protocol.Name(m.GetTarget().GetKind()) + ":" + m.GetTarget().GetPath())
		w.str(protocol.Name(m.GetKind()))
		w.str(protocol.Name(m.GetEvent()))
	case *v1.ClusterRead:
		w.str("ClusterRead")
		w.num(int64(m.GetGeneration()))
		w.str("pods")
		for _, k := range sortedKeys(m.GetPods()) {
			w.str(k)
		}
		w.str("deps")
		for _, k := range sortedKeys(m.GetDependencies()) {
			w.str(k)
		}
		w.str("hash=" + m.GetHash())
		errTok(w, m.GetFailure())
	case *v1.PhaseDone:
		w.str("PhaseDone")
		w.num(int64(m.GetGeneration()))
		for _, k := range m.GetDropped() {
			w.str("dropped=" + k)
		}
		errTok(w, m.GetFailure())
	case *v1.Written:
		w.str("Written")
		w.num(int64(m.GetGeneration()))
		errTok(w, m.GetFailure())
	case *v1.CallbackDone:
		w.str("CallbackDone")
		w.str(protocol.Name(m.GetCallback()))
		w.num(int64(m.GetEpoch()))
		errTok(w, m.GetFailure())
	case string:
		w.str(m)
	default:
		w.str(fmt.Sprintf("%T", msg))
	}
}

func yes(b bool, s string) string {
	if b {
		return s
	}
	return "!" + s
}

func errTok(w sink, f *v1.Failure) {
	if f != nil {
		w.str("err=" + protocol.Name(f.GetKind()) + ":" + f.GetMessage())
	}
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
