package pod

import (
	"github.com/asynkron/protoactor-go/actor"

	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// root is the top of the pod's actor tree (DESIGN §4). It owns the pod's identity, so that the key and seq
// survive a restart of the session below it, and routes outside requests to the session or the lifecycle. The
// lifecycle and the session are siblings: losing ZooKeeper never touches the process.
type root struct {
	key            string
	seq            int64
	hasSeq         bool
	props          *actor.Props // the session's
	lifecycleProps *actor.Props // nil: no process
	session        *actor.PID
	lifecycle      *actor.PID
}

func (r *root) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if r.lifecycleProps != nil {
			r.lifecycle = ctx.SpawnPrefix(r.lifecycleProps, "lifecycle")
		}
		r.session = ctx.SpawnPrefix(r.props, "session")
	case *v1.IdentityRequest:
		ctx.Respond(&v1.Identity{Key: r.key, Seq: r.seq, HasSeq: r.hasSeq})
	case *v1.SeqAssigned:
		if msg.GetKey() == r.key && !r.hasSeq {
			r.seq, r.hasSeq = msg.GetSeq(), true
		}
	case *v1.GetSessionStatus, *v1.ResetSession, *v1.StopSession:
		if r.session != nil {
			ctx.Forward(r.session)
		}
	case *v1.ForwardSignal:
		if r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
		}
	case *v1.ControlRequest, *v1.GetLifecycleStatus:
		if r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
		} else if req, ok := msg.(*v1.ControlRequest); ok {
			// A pod without a process (it only registers) has nothing to do for any task.
			code := int32(200)
			if req.GetTask() == v1.Task_TASK_UNSPECIFIED {
				code = 400
			}
			ctx.Respond(&v1.ControlReply{Code: code, Body: []byte(`{}`)})
		}
	case *v1.InjectCrash:
		if msg.GetTarget() == "lifecycle" && r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
		} else if r.session != nil {
			ctx.Forward(r.session)
		}
	}
}
