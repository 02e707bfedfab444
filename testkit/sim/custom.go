package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// The program's own actors (DESIGN §4 "Custom actors", Options.Actors) run in every simulated pod, wired by
// the code runtime/pod wires them with (custom.Wiring): the pod-scope group spawned by the pod's root before
// the session, the leader-scope group by the shipped leader with its worker. They hear what the pod's
// actors publish (host.go's publish), their writes of their own nodes are fenced writes under invariant (a),
// and the leader-scope ones are among the actors the crash fault picks from. Their requests to the
// lifecycle go to the shipped root and lifecycle, as in production.

// wiring is the custom actors of pod p, whose root is root.
func (s *Sim) wiring(p *pod, root *actor) custom.Wiring {
	w := custom.Wiring{Actors: s.opts.Actors, Cluster: p.cl.zc, Key: p.key}
	if root != nil { // else the pod-scope group's parent, the root (custom.Wiring)
		w.Pod = root
	}
	return w
}

// customProps are the pod's pod-scope custom actors, which runtime/pod's root spawns, and the cluster the
// pod's lifecycle announces its configurations of, for them to hear (as runtime/pod sets it); zero: none.
func (s *Sim) customProps(p *pod) (host.Props, string) {
	props, ok := s.wiring(p, nil).PodProps()
	if !ok {
		return props, ""
	}
	return props, p.cl.zc.Qualified
}

// View is what Options.Converged checks: the clusters once every one converged, and the sim's own
// ZooKeeper session to read them with (reads only).
type View struct {
	Conn     zk.Conn
	Clusters []ClusterView
}

// ClusterView is one converged cluster.
type ClusterView struct {
	Cluster zk.Cluster
	Pods    []string // the keys of its live pods, sorted
	Leader  string   // the key of the pod that leads it
	// OK is, by pod key, the phase of the last ok the pod answered at its control port (200, or 500 when
	// configured() failed): the last configuration it ran to its end, as the leader saw it answered.
	OK map[string]string
}

// customConverged runs Options.Converged on the converged clusters.
func (s *Sim) customConverged() error {
	if s.opts.Converged == nil {
		return nil
	}
	v := View{Conn: s.admin}
	for _, c := range s.clusters {
		cv := ClusterView{Cluster: c.zc, OK: map[string]string{}}
		for _, p := range c.pods {
			if !p.live() {
				continue
			}
			cv.Pods = append(cv.Pods, p.key)
			cv.OK[p.key] = p.lastOK
			if st := p.sessionOf().status(); st.GetRole() == v1.Role_ROLE_LEADER {
				cv.Leader = p.key
			}
		}
		slices.Sort(cv.Pods)
		v.Clusters = append(v.Clusters, cv)
	}
	if err := s.opts.Converged(v); err != nil {
		return fmt.Errorf("Options.Converged: %w", err)
	}
	return nil
}

// customNode reports whether path is a custom actor's node of cluster c (custom.Dir and below): only the
// lock holder writes there.
func customNode(c *cluster, path string) bool {
	return strings.HasPrefix(path, c.zc.Path()+"/actors/") || path == c.zc.Path()+"/actors"
}
