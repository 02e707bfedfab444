package pod

import (
	"github.com/asynkron/protoactor-go/actor"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// root is the top of the pod's actor tree (DESIGN §4). It owns the pod's identity, so that the key and seq
// survive a restart of the session below it, and routes outside requests to the session.
type root struct {
	key     string
	seq     int64
	hasSeq  bool
	props   *actor.Props // the session's
	session *actor.PID
}

func (r *root) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		r.session = ctx.SpawnPrefix(r.props, "session")
	case *v1.IdentityRequest:
		ctx.Respond(&v1.Identity{Key: r.key, Seq: r.seq, HasSeq: r.hasSeq})
	case *v1.SeqAssigned:
		if msg.GetKey() == r.key && !r.hasSeq {
			r.seq, r.hasSeq = msg.GetSeq(), true
		}
	case *v1.GetSessionStatus, *v1.ResetSession, *v1.StopSession, *v1.InjectCrash:
		if r.session != nil {
			ctx.Forward(r.session)
		}
	}
}
