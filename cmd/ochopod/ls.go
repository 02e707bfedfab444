package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// lsCluster is what `ochopod ls` shows of one cluster (DESIGN §14).
type lsCluster struct {
	Cluster   string         `json:"cluster"`
	Leader    string         `json:"leader"` // the lock holder's key, "" when nobody holds it or it matched no pod
	Lock      string         `json:"lock"`   // the lowest contender, "" when nobody contends
	Hash      string         `json:"hash"`
	Paused    bool           `json:"paused"`
	LastPhase *cluster.Phase `json:"last_phase,omitempty"`
	Pods      []lsPod        `json:"pods"`
	Skipped   []lsSkipped    `json:"skipped"`
}

// lsPod is one pod of lsCluster. Role comes from ZooKeeper; state, process and status from the pod's /info
// (empty with --zk-only, and process "unreachable" when the pod did not answer).
type lsPod struct {
	Key     string `json:"key"`
	Seq     int64  `json:"seq"`
	Address string `json:"address"`
	Role    string `json:"role"` // leader | follower | registering
	State   string `json:"state"`
	Process string `json:"process"`
	Status  string `json:"status"`
	ref     podRef // where its /info is
}

type lsSkipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func newLsCommand() *cobra.Command {
	var zkOnly, legacyJSON bool
	var legacyPrefix string
	cmd := &cobra.Command{
		Use:     "ls [GLOB]",
		Aliases: []string{"pods"},
		Short:   "List clusters (namespace.cluster glob), their pods, leader, process, status, hash and pause",
		Args:    cobra.MaximumNArgs(1),
	}
	o := &opsSettings{}
	cmd.ValidArgsFunction = completeTargets(o, false, true)
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		glob := "*"
		if len(args) == 1 {
			glob = args[0]
		}
		if legacyPrefix != "" { // `ochopod pods --cluster PREFIX`, as it was
			glob = legacyPrefix + "*"
		}
		if legacyJSON {
			o.output = "json"
		}
		if o.namespace != "" && !strings.Contains(glob, ".") {
			glob = o.namespace + "." + glob
		}
		if _, err := path.Match(glob, ""); err != nil {
			return usagef("bad glob %q: %v", glob, err)
		}
		views, err := o.list(cmd.Context(), glob, !zkOnly)
		if err != nil {
			return err
		}
		for _, v := range views {
			for _, s := range v.Skipped {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: skipped %s: %s\n", s.Path, s.Reason)
			}
		}
		return emit(cmd.OutOrStdout(), o.output, views, func(t *table) { lsTable(t, views, time.Now()) })
	})
	cmd.Flags().BoolVar(&zkOnly, "zk-only", false, "read ZooKeeper only: no /info from each pod (no state, process or status)")
	// The flags of the former `ochopod pods`, kept working for scripts.
	cmd.Flags().StringVar(&legacyPrefix, "cluster", "", "clusters whose qualified name starts with this (GLOB says more)")
	cmd.Flags().BoolVar(&legacyJSON, "json", false, "-o json")
	_ = cmd.Flags().MarkHidden("cluster")
	_ = cmd.Flags().MarkHidden("json")
	return cmd
}

// list reads every cluster matching glob, and with info each pod's /info.
func (o *opsSettings) list(ctx context.Context, glob string, info bool) ([]lsCluster, error) {
	views := []lsCluster{}
	err := o.withZK(ctx, func(conn zk.Conn) error {
		names, err := cluster.List(conn)
		if err != nil {
			return err
		}
		statuses, err := cluster.ReadStatuses(conn, matchClusters(names, glob))
		if err != nil {
			return err
		}
		for _, st := range statuses {
			views = append(views, o.lsView(st))
		}
		return nil
	})
	if err != nil || !info {
		return views, err
	}
	o.fillInfo(ctx, views)
	return views, nil
}

func (o *opsSettings) lsView(st cluster.Status) lsCluster {
	v := lsCluster{Cluster: st.Cluster, Lock: st.Holder.Contender, Hash: st.Hash, Paused: st.Paused, Pods: []lsPod{}, Skipped: []lsSkipped{}}
	leader := st.Leader()
	if leader != nil {
		v.Leader = leader.Key
	}
	if n := len(st.History); n > 0 {
		v.LastPhase = &st.History[n-1]
	}
	for i, p := range st.Pods {
		role := "follower"
		switch {
		case leader != nil && &st.Pods[i] == leader:
			role = "leader"
		case p.Registering:
			role = "registering" // its seq is not written yet: no leader counts it
		}
		ref := o.refOf(st.Cluster, p)
		v.Pods = append(v.Pods, lsPod{Key: p.Key, Seq: p.Seq, Address: ref.Address, Role: role, ref: ref})
	}
	sort.SliceStable(v.Pods, func(i, j int) bool { return v.Pods[i].Seq < v.Pods[j].Seq })
	for _, s := range st.Skipped {
		v.Skipped = append(v.Skipped, lsSkipped{Path: s.Path, Reason: s.Reason})
	}
	return v
}

// matchClusters keeps the qualified names glob matches; a glob without a dot may match the cluster's own
// name too (`ls web` lists every namespace's web).
func matchClusters(names []string, glob string) []string {
	var out []string
	for _, q := range names {
		ok, _ := path.Match(glob, q)
		if !ok && !strings.Contains(glob, ".") {
			ok, _ = path.Match(glob, q[strings.LastIndex(q, ".")+1:])
		}
		if ok {
			out = append(out, q)
		}
	}
	return out
}

// infoWorkers bounds the /info requests in flight: enough for 200 pods in a few round trips.
const infoWorkers = 32

// fillInfo asks every pod for /info at once (bounded), each within a short timeout: a pod that does not
// answer shows as unreachable instead of holding the listing.
func (o *opsSettings) fillInfo(ctx context.Context, views []lsCluster) {
	client := o.podClient()
	slots := make(chan struct{}, infoWorkers)
	var wg sync.WaitGroup
	for i := range views {
		for j := range views[i].Pods {
			p := &views[i].Pods[j]
			if p.Address == "" {
				p.Process = "unreachable"
				continue
			}
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				rctx, cancel := withTimeout(ctx, min(o.timeout, 2*time.Second))
				defer cancel()
				reply, err := client.post(rctx, p.ref, "/info", scopeRead, nil, nil)
				var info struct {
					State   string `json:"state"`
					Process string `json:"process"`
					Status  string `json:"status"`
				}
				if err != nil || json.Unmarshal(reply, &info) != nil {
					p.Process = "unreachable"
					return
				}
				p.State, p.Process, p.Status = info.State, info.Process, info.Status
			})
		}
	}
	wg.Wait()
}

func lsTable(t *table, views []lsCluster, now time.Time) {
	t.row("CLUSTER", "PODS", "LEADER", "PAUSED", "HASH", "LAST PHASE")
	for _, v := range views {
		leader := "-"
		for _, p := range v.Pods {
			if p.Key == v.Leader && p.Role == "leader" {
				leader = fmt.Sprintf("%d (%s)", p.Seq, short(p.Key))
			}
		}
		if leader == "-" && v.Lock != "" {
			leader = "? (" + v.Lock + ")" // a contender no pod's session matched
		}
		paused := "no"
		if v.Paused {
			paused = "PAUSED"
		}
		last := "-"
		if ph := v.LastPhase; ph != nil {
			last = fmt.Sprintf("%s %s (%d ms)", firstWord(ph.Outcome), ago(ph.At, now), ph.DurationMs)
		}
		t.row(v.Cluster, len(v.Pods), leader, paused, shortHash(v.Hash), last)
	}
	t.blank()
	t.row("CLUSTER", "SEQ", "KEY", "ADDRESS", "ROLE", "PROCESS", "STATE", "STATUS")
	for _, v := range views {
		for _, p := range v.Pods {
			t.row(v.Cluster, p.Seq, short(p.Key), p.Address, p.Role, p.Process, p.State, p.Status)
		}
	}
}

// shortHash is the first four bytes of a hash: enough to tell configurations apart at a glance.
func shortHash(h string) string {
	if len(h) > 11 {
		return h[:11] + "…"
	}
	return h
}

// firstWord is an outcome without its reason ("failed: pod x: 406" → "failed").
func firstWord(outcome string) string {
	w, _, _ := strings.Cut(outcome, ":")
	return w
}
