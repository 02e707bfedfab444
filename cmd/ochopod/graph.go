package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// graphNode is one cluster of the dependency graph: what it declares (depends_on, from its pods' /info:
// ZooKeeper does not hold it) and the clusters that matches now.
type graphNode struct {
	Cluster   string   `json:"cluster"`
	DependsOn []string `json:"depends_on"`
	Resolved  []string `json:"resolved"`
	Known     bool     `json:"known"` // false: no pod answered /info, so its dependencies are unknown
}

type graphView struct {
	Clusters []graphNode `json:"clusters"`
	Edges    []graphEdge `json:"edges"`
}

type graphEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func newGraphCommand() *cobra.Command {
	o := &opsSettings{}
	cmd := &cobra.Command{
		Use:               "graph [GLOB]",
		Short:             "The dependency graph of the clusters (text; -o dot for Graphviz, json, yaml)",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeTargets(o, false, true),
	}
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		glob := "*"
		if len(args) == 1 {
			glob = args[0]
		}
		if _, err := path.Match(glob, ""); err != nil {
			return usagef("bad glob %q: %v", glob, err)
		}
		g, err := o.graph(cmd.Context(), glob)
		if err != nil {
			return err
		}
		if o.output == "dot" {
			return writeDot(cmd.OutOrStdout(), g)
		}
		return emit(cmd.OutOrStdout(), o.output, g, func(t *table) { graphTable(t, g) })
	})
	cmd.Flag("output").Usage = "table | json | yaml | dot"
	return cmd
}

// graph reads the clusters matching glob and asks each one's pods, leader first, for its dependencies.
func (o *opsSettings) graph(ctx context.Context, glob string) (graphView, error) {
	g := graphView{Clusters: []graphNode{}, Edges: []graphEdge{}}
	var all []string
	var statuses []cluster.Status
	err := o.withZK(ctx, func(conn zk.Conn) error {
		var err error
		if all, err = cluster.List(conn); err != nil {
			return err
		}
		statuses, err = cluster.ReadStatuses(conn, matchClusters(all, glob))
		return err
	})
	if err != nil {
		return g, err
	}
	client := o.podClient()
	for _, st := range statuses {
		n := graphNode{Cluster: st.Cluster, DependsOn: []string{}, Resolved: []string{}}
		if deps, ok := o.dependsOn(ctx, client, st); ok {
			ns := st.Cluster[:max(strings.LastIndex(st.Cluster, "."), 0)]
			n.Known, n.DependsOn = true, deps
			n.Resolved = append(n.Resolved, model.ResolveDependencies(ns, st.Cluster, deps, all)...)
		}
		for _, to := range n.Resolved {
			g.Edges = append(g.Edges, graphEdge{From: st.Cluster, To: to})
		}
		g.Clusters = append(g.Clusters, n)
	}
	return g, nil
}

// dependsOn asks the cluster's pods, leader first, for their declared dependencies; ok is false when none
// answered.
func (o *opsSettings) dependsOn(ctx context.Context, client *podClient, st cluster.Status) ([]string, bool) {
	pods := st.Pods
	if l := st.Leader(); l != nil {
		pods = append([]cluster.Pod{*l}, pods...)
	}
	for _, p := range pods[:min(len(pods), 3)] {
		ref := o.refOf(st.Cluster, p)
		if ref.Address == "" {
			continue
		}
		rctx, cancel := withTimeout(ctx, min(o.timeout, 2*time.Second))
		reply, err := client.post(rctx, ref, "/info", scopeRead, nil, nil)
		cancel()
		var id podIdentity
		if err == nil && json.Unmarshal(reply, &id) == nil {
			if id.Dependencies == nil {
				id.Dependencies = []string{}
			}
			return id.Dependencies, true
		}
	}
	return nil, false
}

func graphTable(t *table, g graphView) {
	t.row("CLUSTER", "DEPENDS ON", "RESOLVED")
	for _, n := range g.Clusters {
		declared := strings.Join(n.DependsOn, ",")
		if !n.Known {
			declared = "? (no pod answered)"
		}
		t.row(n.Cluster, declared, strings.Join(n.Resolved, ","))
	}
}

// writeDot renders the graph for Graphviz: an edge from each cluster to each cluster it depends on.
func writeDot(w io.Writer, g graphView) error {
	var b strings.Builder
	b.WriteString("digraph ochopod {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range g.Clusters {
		attrs := ""
		if !n.Known {
			attrs = " [style=dashed]"
		}
		fmt.Fprintf(&b, "  %s%s;\n", strconv.Quote(n.Cluster), attrs)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s;\n", strconv.Quote(e.From), strconv.Quote(e.To))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
