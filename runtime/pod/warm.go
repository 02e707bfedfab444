package pod

import (
	"bytes"
	"hash/maphash"
	"slices"
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

// keptPods finds the pods of a base whose connections a pod keeps while it leads or is next in line (DESIGN
// §12 "kept connections"): its base's HTTPS pods, itself included (a phase calls it too); none when no other
// pod is in it. It remembers each pod's URL by the payload it read it from: the pod next in line asks after
// every phase, at the phase's end, and parsing and checking each payload of a 50-pod base again took it ~2 ms
// of CPU there (perf of BenchmarkIntegration_Scale's hand-over), while a payload seldom changes.
type keptPods struct {
	seed  maphash.Seed // of sum: random, so that no payload can be made to pass for another
	byKey map[string]keptPod
}

// keptPod is what an HTTPS pod's payload said: its control URL, "" when the pod is not kept (its payload breaks
// DESIGN §12's rules), and the payload's sum (a base can hold 1 000 payloads: a sum each is all it takes to
// tell one changed).
type keptPod struct {
	sum uint64
	url string
}

// urls are the control URLs to keep for base b of the pod own, sorted by key.
func (k *keptPods) urls(b *v1.Base, own string) []string {
	if k.byKey == nil {
		k.seed = maphash.MakeSeed()
	}
	seen := make(map[string]keptPod, len(k.byKey))
	for key, raw := range b.GetPods() {
		if !bytes.Contains(raw, []byte("https")) {
			continue // only HTTPS pods are kept (control.Keeper): the others are neither parsed nor remembered
		}
		sum := maphash.Bytes(k.seed, raw)
		if known, ok := k.byKey[key]; ok && known.sum == sum {
			seen[key] = known
			continue
		}
		seen[key] = keptPod{sum: sum, url: keptURL(raw)}
	}
	k.byKey = seen // pods that left are forgotten
	keys := make([]string, 0, len(seen))
	ownKept := false
	for key, p := range seen {
		if p.url != "" {
			keys = append(keys, key)
			ownKept = ownKept || key == own
		}
	}
	if len(keys) == 0 || (ownKept && len(keys) == 1) {
		return nil
	}
	slices.Sort(keys) // as a phase calls them (model.PhasePods)
	urls := make([]string, len(keys))
	for i, key := range keys {
		urls[i] = seen[key].url
	}
	return urls
}

// keptURL is the control URL of a pod that is kept (HTTPS, with a payload that keeps DESIGN §12's rules), ""
// for any other.
func keptURL(raw []byte) string {
	p, err := payload.Parse(raw)
	if err != nil || payload.Validate(p, payload.NoNode) != nil || p.String(payload.KeyScheme) != "https" {
		return ""
	}
	urls := model.ControlURLs(map[string]payload.Payload{"": p})
	if len(urls) == 0 {
		return ""
	}
	return urls[0]
}
