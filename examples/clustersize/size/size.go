// Package size is the worked example of a custom actor (DESIGN §4 "Custom actors"): on the pod that leads
// its cluster, it publishes how many pods the cluster is configured with to a node of its own,
// <cluster's node>/actors/size, fenced by the leader's lock, so any tool reads the size in one get.
//
// It is level-triggered: each ClusterConfigured (the model wrote snapshot and hash) sets what the node must
// hold, one write is in flight at a time and the latest wins, a failed write is tried again a second later,
// and a fenced one ends the actor's writes: its pod lost the lock, and the new leader's actor writes.
//
// examples/clustersize runs it in a real program (pod.Config.Actors); its tests run it on real ZooKeeper and
// in the simulation under faults (testkit/sim, Options.Actors and Options.Converged with Check).
package size

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ochopod/ochopod/actors/custom"
	"github.com/ochopod/ochopod/actors/host"
	v1 "github.com/ochopod/ochopod/messages/ochopod/v1"
	"github.com/ochopod/ochopod/runtime/zk"
)

// Name is the actor's name, and its node's.
const Name = "size"

// retry is how long a failed write waits before it is tried again.
const retry = time.Second

// Record is what the node holds.
type Record struct {
	Size   int    `json:"size"`   // pods configured
	Hash   string `json:"hash"`   // the configuration's hash (DESIGN §2)
	Leader string `json:"leader"` // the key of the pod whose actor wrote it
	Lock   string `json:"lock"`   // the lock node the write was fenced by
}

// Actor is the custom actor to put in pod.Config.Actors (or sim.Options.Actors).
func Actor() custom.Actor {
	return custom.Actor{Name: Name, Scope: custom.ScopeLeader, Supervisor: host.DefaultSupervisor(),
		New: func(env custom.Env) host.Behaviour {
			return &publisher{env: env, epoch: env.Incarnation << 32} // past its predecessor's epochs
		}}
}

// publisher is one incarnation of the actor.
type publisher struct {
	env      custom.Env
	epoch    uint64  // of the last write
	want     *Record // what the node must hold; nil before the first ClusterConfigured
	inFlight *Record // the write in flight, nil when none
	done     *Record // the last write that succeeded
	fenced   bool    // the pod lost the lock: nothing more is written
	retrying bool    // a retry timer runs
}

func (p *publisher) Started(host.Context)       {}
func (p *publisher) Release(host.Context, bool) {}

func (p *publisher) Receive(ctx host.Context, msg proto.Message) {
	switch m := msg.(type) {
	case *v1.ClusterConfigured:
		p.want = &Record{Size: len(m.GetPods()), Hash: m.GetHash(), Leader: p.env.Key, Lock: p.env.Nodes.Lock()}
		p.write(ctx)
	case *v1.NodeWritten:
		if m.GetEpoch() != p.epoch || p.inFlight == nil {
			return // an earlier incarnation's write
		}
		r := p.inFlight
		p.inFlight = nil
		switch {
		case m.GetFailure().GetKind() == v1.ErrorKind_ERROR_KIND_FENCED:
			p.fenced = true
			ctx.Logger().Warn("the size is not ours to write any more: the pod lost the lock", "err", m.GetFailure().GetMessage())
		case m.GetFailure() != nil:
			ctx.Logger().Warn("cannot write the size: trying again", "err", m.GetFailure().GetMessage(), "retry_in", retry)
			p.retrying = true
			ctx.After(retry, &v1.TimerFired{Timer: v1.Timer_TIMER_RETRY, Epoch: p.epoch})
		default:
			p.done = r
			p.write(ctx) // a newer configuration may have come during the write
		}
	case *v1.TimerFired:
		if m.GetTimer() == v1.Timer_TIMER_RETRY && m.GetEpoch() == p.epoch && p.retrying {
			p.retrying = false
			p.write(ctx)
		}
	}
}

// write sends what the node must hold, unless it holds it, a write is in flight or waits, or the lock is lost.
func (p *publisher) write(ctx host.Context) {
	if p.want == nil || p.fenced || p.inFlight != nil || p.retrying || (p.done != nil && *p.done == *p.want) {
		return
	}
	data, err := json.Marshal(p.want)
	if err != nil {
		ctx.Logger().Error("cannot encode the size", "err", err)
		return
	}
	p.epoch++
	p.inFlight = p.want
	p.env.Nodes.Set(ctx, p.epoch, "", data)
}

// Read returns what cluster's node holds.
func Read(conn zk.Conn, cluster zk.Cluster) (Record, error) {
	var r Record
	data, _, err := conn.Get(custom.Dir(cluster, Name))
	if err != nil {
		return r, fmt.Errorf("size: read: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("size: %s holds %q: %w", custom.Dir(cluster, Name), data, err)
	}
	return r, nil
}

// Check is the example's invariant once cluster converged with pods (keys), led by leader: its node holds
// the number of pods, written by the leader's actor, with the hash in ZooKeeper.
func Check(conn zk.Conn, cluster zk.Cluster, pods []string, leader string) error {
	r, err := Read(conn, cluster)
	if err != nil {
		return err
	}
	hash, _, err := conn.Get(cluster.Hash())
	if err != nil {
		return fmt.Errorf("size: hash: %w", err)
	}
	var errs []error
	if r.Size != len(pods) {
		errs = append(errs, fmt.Errorf("size %d, the cluster has %d pods", r.Size, len(pods)))
	}
	if r.Leader != leader {
		errs = append(errs, fmt.Errorf("written by %s, the leader is %s", r.Leader, leader))
	}
	if r.Hash != string(hash) {
		errs = append(errs, fmt.Errorf("hash %q, ZooKeeper's is %q", r.Hash, hash))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("size of %s: %w", cluster.Qualified, err)
	}
	return nil
}
