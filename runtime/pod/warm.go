package pod

import (
	"bytes"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ochopod/ochopod/actors/model"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/control"
	"github.com/ochopod/ochopod/runtime/payload"
	"github.com/ochopod/ochopod/runtime/zk"
)

// warmUp has w open its connections to the pods while the model of a leader that just won the lock reads the
// cluster and decides: a new leader's first phase then finds them open, TLS handshakes done, instead of making
// one per pod on its way (DESIGN §12). The pods are those of the pod's own base, the cluster the last phase
// configured (asked of base, the pod's root, as the model asks it; DESIGN §7), else, when the pod has none
// (never configured), those registered in ZooKeeper (one more read of the pods). Payloads that break DESIGN
// §12's rules are skipped. It returns once w has the addresses; the connections are w's, each closed if no
// request takes it in time. Nothing to warm, and the phase connects as it goes.
func warmUp(conn zk.Conn, c zk.Cluster, w control.Warmer, root *actor.RootContext, base *actor.PID) {
	var pods map[string]payload.Payload
	if root != nil && base != nil {
		if res, err := root.RequestFuture(base, &v1.GetBase{}, time.Second).Result(); err == nil {
			if b, ok := res.(*v1.Base); ok {
				pods = validPods(b)
			}
		}
	}
	if len(pods) == 0 {
		registered, _, err := cluster.ReadPods(conn, c) // invalid payloads are left out (DESIGN §12)
		if err != nil {
			return
		}
		pods = map[string]payload.Payload{}
		for _, p := range registered {
			if !p.Registering {
				pods[p.Key] = p.Payload
			}
		}
	}
	w.Warm(model.ControlURLs(pods))
}

// validPods are the pods of b whose payloads keep DESIGN §12's rules.
func validPods(b *v1.Base) map[string]payload.Payload {
	pods := map[string]payload.Payload{}
	for key, raw := range b.GetPods() {
		if p, err := payload.Parse(raw); err == nil && payload.Validate(p, payload.NoNode) == nil {
			pods[key] = p
		}
	}
	return pods
}

// keptURLs are the pods of b whose connections a pod keeps while it leads or is next in line (DESIGN §12
// "kept connections"): its base's HTTPS pods, itself included (a phase calls it too); none when no other pod
// is in it.
func keptURLs(b *v1.Base, own string) []string {
	// Only HTTPS pods are kept (control.Keeper): the others are not parsed at all, which spares a pod the
	// garbage of its whole base after each phase (DESIGN §12: memory proportional to the body).
	https := &v1.Base{Pods: map[string][]byte{}}
	for key, raw := range b.GetPods() {
		if bytes.Contains(raw, []byte("https")) {
			https.Pods[key] = raw
		}
	}
	pods := validPods(https)
	if _, in := pods[own]; len(pods) == 0 || (in && len(pods) == 1) {
		return nil
	}
	return model.ControlURLs(pods)
}
