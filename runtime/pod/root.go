package pod

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/host"
	"github.com/ochopod/ochopod/actors/lifecycle"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/sdk"
)

// rootName names the root in its actor system: the model asks it for the pod's base (GetBase), custom actors
// send it their requests for the lifecycle (custom.Env.Pod).
const rootName = "pod"

// RootConfig is what the pod's root actor needs: the pod's key and its two children.
type RootConfig struct {
	Key     string
	Session host.Props
	// Lifecycle is the pod's process (actors/lifecycle); New nil: the pod only registers.
	Lifecycle host.Props
	// Custom is the group of the program's pod-scope actors (actors/custom, custom.Wiring.PodProps); New
	// nil: none.
	Custom host.Props
	// Cluster is the pod's cluster (qualified name), set when the pod-scope actors listen: a pod without a
	// lifecycle then announces the configurations it answers ok to, as a lifecycle does (lifecycle.Config).
	Cluster string
	// Keeper keeps the connections to the pods of the pod's base while the pod leads or is next in line for
	// the lock (DESIGN §12 "kept connections"): the model's caller; nil: none kept.
	Keeper control.Keeper
	// Supervisor restarts the root after a crash; zero: host.DefaultSupervisor().
	Supervisor host.Supervisor
}

// RootProps returns the props of the top of the pod's actor tree (DESIGN §4). The root owns the pod's
// identity, so that the key and seq survive a restart of the session below it, and routes outside requests
// to the session or the lifecycle. The lifecycle and the session are siblings: losing ZooKeeper never touches
// the process. Each child states its own supervisor.
func RootProps(cfg RootConfig) host.Props {
	if cfg.Supervisor == (host.Supervisor{}) {
		cfg.Supervisor = host.DefaultSupervisor()
	}
	id := &identity{} // the pod's, for the life of its process: every incarnation of the root shares it
	return host.Props{Name: "root", Supervisor: cfg.Supervisor, New: func() host.Behaviour { return &root{cfg: cfg, id: id} }}
}

// identity is the seq the pod took at its first registration (DESIGN §5: for the life of the process). It
// outlives a crash of the root: a new incarnation starts a new session, whose registration must keep it, and
// ZooKeeper cannot tell it any more (the old session's node went with its client). Incarnations never run at
// once, so it needs no lock.
type identity struct {
	seq    int64
	hasSeq bool
}

// root is one incarnation of the root.
type root struct {
	cfg       RootConfig
	id        *identity
	session   host.Ref
	lifecycle host.Ref
	inLine    bool // the pod leads or is next in line for the lock, and has a keeper and a lifecycle
	keeping   bool // the keeper holds a set of ours: Keep(nil) is owed when the pod is out of line
	kept      keptPods
	keepBase  *v1.Base   // the newest base of an ok, its pods not yet kept (keepAfterOK)
	keepTimer host.Timer // until keepBase's pods are found; nil when none is pending
}

// keepAfterOK is how long after an ok's base arrives the root finds the pods to keep in it. Finding them
// parses the payloads that changed, every payload for a pod that just came next in line (~10-20 µs each):
// at once, that ran inside the phase, whose other pods were still answering their ok (a secured 10-pod
// hand-over's profile). The keeper waits DefaultKeepQuiet more before its first keep request.
const keepAfterOK = 50 * time.Millisecond

func (r *root) Started(ctx host.Context) {
	if r.cfg.Lifecycle.New != nil {
		r.lifecycle = ctx.Spawn(r.cfg.Lifecycle)
	}
	if r.cfg.Custom.New != nil { // before the session: they hear its first statuses
		ctx.Spawn(r.cfg.Custom)
	}
	r.session = ctx.Spawn(r.cfg.Session)
}

// Release lets the kept pods go: a new incarnation learns its place in line again from a new leader actor.
func (r *root) Release(host.Context, bool) {
	r.dropKeepBase()
	if r.keeping {
		r.cfg.Keeper.Keep(nil)
	}
}

func (r *root) Receive(ctx host.Context, msg proto.Message) {
	switch msg := msg.(type) {
	case *v1.IdentityRequest:
		ctx.Respond(&v1.Identity{Key: r.cfg.Key, Seq: r.id.seq, HasSeq: r.id.hasSeq})
	case *v1.SeqAssigned:
		if msg.GetKey() == r.cfg.Key && !r.id.hasSeq {
			r.id.seq, r.id.hasSeq = msg.GetSeq(), true
		}
	case *v1.GetSessionStatus, *v1.ResetSession, *v1.StopSession:
		ctx.Forward(r.session)
	case *v1.ForwardSignal:
		ctx.Forward(r.lifecycle)
	case *v1.GetBase: // a new leader's model guesses its pods' bases from its own pod's (DESIGN §7)
		if r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
		} else {
			ctx.Respond(&v1.Base{})
		}
	case *v1.InLine:
		r.noteLine(msg.GetLeading() || msg.GetNext())
	case *v1.Base: // the lifecycle's answer to the GetBase of a phase's ok, below
		if r.inLine {
			r.keepBase = msg
			if r.keepTimer == nil {
				r.keepTimer = ctx.After(keepAfterOK, &v1.TimerFired{Timer: v1.Timer_TIMER_KEEP})
			}
		}
	case *v1.TimerFired:
		if msg.GetTimer() == v1.Timer_TIMER_KEEP {
			base := r.keepBase
			r.keepTimer, r.keepBase = nil, nil
			if r.inLine && base != nil {
				r.cfg.Keeper.Keep(r.kept.urls(base, r.cfg.Key))
				r.keeping = true
			}
		}
	case *v1.ControlRequest:
		if r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
			if r.inLine && msg.GetTask() == v1.Task_TASK_OK && !msg.GetAside() {
				// The ok of a phase: its on answered first, so the base the lifecycle holds is the new
				// cluster (DESIGN §7). Asked after the ok, it is answered after it.
				ctx.Request(r.lifecycle, &v1.GetBase{})
			}
		} else {
			// A pod without a process (it only registers) has nothing to do for any task.
			code := int32(200)
			if msg.GetTask() == v1.Task_TASK_UNSPECIFIED {
				code = 400
			}
			r.announce(ctx, msg) // before the reply, as the lifecycle does (its finish)
			ctx.Respond(&v1.ControlReply{Code: code, Body: []byte(`{}`)})
		}
	case *v1.GetLifecycleStatus:
		if r.lifecycle != nil {
			ctx.Forward(r.lifecycle)
		}
	case *v1.InjectCrash:
		switch t := msg.GetTarget(); {
		case t == "root":
			panic(fmt.Sprintf("root: injected crash: %s", msg.GetReason()))
		case (t == "lifecycle" || t == "executor") && r.lifecycle != nil:
			ctx.Forward(r.lifecycle)
		default:
			ctx.Forward(r.session)
		}
	}
}

// noteLine notes that the pod came to lead or be next in line for the lock, or no longer does (DESIGN §12
// "kept connections"): from the ok of the next phase, it keeps its connections to the pods of its base (a
// pod next in line, or a leader after a quiet minute, would otherwise make one TLS handshake per pod at the
// start of its first phase), and follows the base after each phase; out of line, it lets them go. Not at
// once: a pod comes next when a leader wins the lock, whose first phase follows, and handshakes made now
// would take the CPU from that phase; its ok brings the new base besides.
func (r *root) noteLine(keep bool) {
	if r.cfg.Keeper == nil || r.lifecycle == nil {
		return
	}
	r.inLine = keep
	if !keep {
		r.dropKeepBase()
	}
	if !keep && r.keeping {
		r.cfg.Keeper.Keep(nil)
		r.keeping = false
	}
}

// dropKeepBase forgets a base whose pods were not kept yet.
func (r *root) dropKeepBase() {
	if r.keepTimer != nil {
		r.keepTimer.Stop()
	}
	r.keepTimer, r.keepBase = nil, nil
}

// announce publishes the cluster of a configuration's ok, for a pod without a lifecycle whose pod-scope
// actors listen (DESIGN §4 "Custom actors": every pod's hear it). Such a pod registers without "protocol": 2,
// so a leader sends it whole clusters; a body that is none announces nothing.
func (r *root) announce(ctx host.Context, req *v1.ControlRequest) {
	if r.cfg.Cluster == "" || req.GetTask() != v1.Task_TASK_OK || req.GetAside() {
		return
	}
	env, err := sdk.OpenBody(req.GetBody())
	if err == nil {
		var msg *v1.ClusterConfigured
		if msg, err = lifecycle.ClusterConfigured(r.cfg.Cluster, env, req.GetPhase()); err == nil {
			ctx.Publish(msg)
			return
		}
	}
	ctx.Logger().Warn("cannot announce the configured cluster", "err", err)
}
