package sim

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
)

// seen is what the custom actors of one scenario tell the test: the live incarnations of each scope by pod
// key, the last role each pod-scope actor was told, and the code of the lifecycle's reply to its request.
type seen struct {
	live  map[custom.Scope]map[string]int
	role  map[string]v1.Role
	reply map[string]int32
}

// witness is a custom actor of scope that reports to s; of pod scope, it asks the lifecycle a task that is
// none (400) as it starts.
type witness struct {
	s     *seen
	scope custom.Scope
	env   custom.Env
}

func (w witness) Started(ctx host.Context) {
	w.s.live[w.scope][w.env.Key]++
	if w.scope == custom.ScopePod {
		ctx.Request(w.env.Pod, &v1.ControlRequest{})
	}
}

func (w witness) Release(host.Context, bool) { w.s.live[w.scope][w.env.Key]-- }

func (w witness) Receive(_ host.Context, m proto.Message) {
	switch m := m.(type) {
	case *v1.RoleChanged:
		if w.scope == custom.ScopePod {
			w.s.role[w.env.Key] = m.GetRole()
		}
	case *v1.ControlReply:
		w.s.reply[w.env.Key] = m.GetCode()
	}
}

func witnesses(s *seen) []custom.Actor {
	var out []custom.Actor
	for _, scope := range []custom.Scope{custom.ScopePod, custom.ScopeLeader} {
		out = append(out, custom.Actor{Name: "witness-" + scope.String(), Scope: scope, Supervisor: host.DefaultSupervisor(),
			New: func(env custom.Env) host.Behaviour { return witness{s: s, scope: scope, env: env} }})
	}
	return out
}

// DESIGN §4 "Custom actors" in the simulation, under faults: once every cluster converged, every live pod runs
// its pod-scope actor, which was told the pod's role last and got the lifecycle's answer to its request
// through the pod's root; the leader-scope actor runs on the leader alone
// (started when it won the lock, stopped on every pod that lost it).
func TestSim_CustomActorsRunWhereRuntimePodRunsThem(t *testing.T) {
	faults, crashed := 0, 0
	for seed := uint64(1); seed <= 30; seed++ {
		s := &seen{live: map[custom.Scope]map[string]int{custom.ScopePod: {}, custom.ScopeLeader: {}}, role: map[string]v1.Role{}, reply: map[string]int32{}}
		res, err := Run(seed, Options{Actors: witnesses(s), KeepTrace: true, Converged: func(v View) error {
			for _, c := range v.Clusters {
				for _, k := range c.Pods {
					want := v1.Role_ROLE_FOLLOWER
					if k == c.Leader {
						want = v1.Role_ROLE_LEADER
					}
					if n := s.live[custom.ScopePod][k]; n != 1 {
						return fmt.Errorf("pod %s runs %d pod-scope actors, want 1", k, n)
					}
					if s.reply[k] != 400 {
						return fmt.Errorf("pod %s: its pod-scope actor's request got %d, want the lifecycle's 400", k, s.reply[k])
					}
					if s.role[k] != want {
						return fmt.Errorf("pod %s: its pod-scope actor was last told %s, the pod is %s", k, s.role[k], want)
					}
					if n, lead := s.live[custom.ScopeLeader][k], k == c.Leader; n != map[bool]int{true: 1, false: 0}[lead] {
						return fmt.Errorf("pod %s (leader: %v) runs %d leader-scope actors", k, lead, n)
					}
				}
			}
			return nil
		}})
		if err != nil {
			t.Fatalf("%v\n%s", err, res.Report())
		}
		faults += res.Faults
		for _, line := range res.Trace {
			if strings.Contains(line, "fault crash") && strings.Contains(line, "custom:witness-pod#") {
				crashed++ // its supervisor restarted it: the check above found it running once
			}
		}
	}
	if faults == 0 || crashed == 0 {
		t.Fatalf("30 scenarios with %d faults, %d crashes of a pod-scope actor: not tested under faults", faults, crashed)
	}
	t.Logf("30 scenarios, %d faults, %d crashes of a pod-scope custom actor", faults, crashed)
}
