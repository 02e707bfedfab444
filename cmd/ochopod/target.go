package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// podRef is one pod a verb talks to: where it answers, and who it is when ZooKeeper said.
type podRef struct {
	Cluster string `json:"cluster"`
	Key     string `json:"key"`
	Seq     int64  `json:"seq"`
	Address string `json:"address"` // host:port of the control API
	Scheme  string `json:"-"`       // http or https
}

// name is how messages call the pod: <cluster>/<seq>, or its address when it was given as one.
func (p podRef) name() string {
	if p.Cluster == "" {
		return p.Address
	}
	return fmt.Sprintf("%s/%d", p.Cluster, p.Seq)
}

// resolve turns a target into pods (DESIGN §14): host:port (or http[s]://host:port) is one pod, reached
// without ZooKeeper; <cluster>/<seq> and <cluster>/<key prefix> one registered pod; a bare <cluster>, when
// whole allows it, every pod of the cluster in seq order.
func (o *opsSettings) resolve(ctx context.Context, target string, whole bool) ([]podRef, error) {
	if ref, ok := o.addressTarget(target); ok {
		return []podRef{ref}, nil
	}
	name, sel, hasSel := strings.Cut(target, "/")
	if !hasSel && !whole {
		return nil, usagef("%q: give <cluster>/<seq>, <cluster>/<key prefix> or host:port", target)
	}
	var out []podRef
	err := o.withZK(ctx, func(conn zk.Conn) error {
		q, err := o.existing(conn, name)
		if err != nil {
			return err
		}
		pods, _, err := cluster.ReadPods(conn, zk.Cluster{Qualified: q})
		if err != nil {
			return err
		}
		out, err = o.selectPods(q, pods, sel, hasSel)
		return err
	})
	return out, err
}

// selectPods picks the pods sel names among a cluster's (every one when hasSel is false).
func (o *opsSettings) selectPods(q string, pods []cluster.Pod, sel string, hasSel bool) ([]podRef, error) {
	var out []podRef
	seq, err := strconv.ParseInt(sel, 10, 64)
	bySeq := err == nil
	pick := func(match func(cluster.Pod) bool) {
		for _, p := range newestByKey(pods) {
			if !hasSel || match(p) {
				out = append(out, o.refOf(q, p))
			}
		}
	}
	pick(func(p cluster.Pod) bool { return bySeq && p.Seq == seq })
	if len(out) == 0 && hasSel && sel != "" { // a key prefix, digits only or not ("664807" is both)
		pick(func(p cluster.Pod) bool { return strings.HasPrefix(p.Key, sel) })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	switch {
	case len(out) == 0 && hasSel:
		return nil, fmt.Errorf("no pod %s/%s (ochopod ls %s lists its pods)", q, sel, q)
	case len(out) == 0:
		return nil, fmt.Errorf("cluster %s has no pod", q)
	case hasSel && len(out) > 1:
		var names []string
		for _, r := range out {
			names = append(names, r.Key)
		}
		return nil, fmt.Errorf("%s/%s names %d pods (%s): give a longer key prefix or the seq", q, sel, len(out), strings.Join(names, ", "))
	}
	for _, r := range out {
		if r.Address == "" {
			return nil, fmt.Errorf("pod %s does not say where its control port is (no ip, port or ports in its payload)", r.name())
		}
	}
	return out, nil
}

// newestByKey keeps one node per key, the newest: a pod that re-registered (a reset) may leave its old
// session's node behind for a moment, and it is one pod.
func newestByKey(pods []cluster.Pod) []cluster.Pod {
	newest := map[string]int{}
	var out []cluster.Pod
	for _, p := range pods {
		i, seen := newest[p.Key]
		if !seen {
			newest[p.Key] = len(out)
			out = append(out, p)
			continue
		}
		if p.Node > out[i].Node { // same key, so the names differ only in their 10-digit sequence
			out[i] = p
		}
	}
	return out
}

func (o *opsSettings) refOf(q string, p cluster.Pod) podRef {
	scheme := "http"
	if p.Payload.String("scheme") == "https" { // DESIGN §12: such a pod serves TLS
		scheme = "https"
	}
	return podRef{Cluster: q, Key: p.Key, Seq: p.Seq, Address: p.Payload.ControlAddress(), Scheme: scheme}
}

// addressTarget reads host:port or http[s]://host:port.
func (o *opsSettings) addressTarget(target string) (podRef, bool) {
	scheme := "http"
	if o.security.tls != nil {
		scheme = "https"
	}
	for _, s := range []string{"http", "https"} {
		if rest, ok := strings.CutPrefix(target, s+"://"); ok {
			scheme, target = s, strings.TrimSuffix(rest, "/")
		}
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || strings.Contains(target, "/") {
		return podRef{}, false
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return podRef{}, false
	}
	return podRef{Address: target, Scheme: scheme}, true
}

// completeTargets is the shell completion of clusters and pods, read from ZooKeeper: "ns.cluster/" first,
// then, once a cluster is typed, its pods as <cluster>/<seq> with their key as description. withClusters
// offers the bare cluster too (verbs that take a whole cluster).
func completeTargets(o *opsSettings, withPods, withClusters bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if err := o.prepare(cmd); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		o.timeout = min(o.timeout, 3*time.Second)
		var out []cobra.Completion
		err := o.withZK(cmd.Context(), func(conn zk.Conn) error {
			names, err := cluster.List(conn)
			if err != nil {
				return err
			}
			name, _, typed := strings.Cut(toComplete, "/")
			if !typed || !withPods {
				for _, q := range names {
					if withClusters {
						out = append(out, q)
					}
					if withPods {
						out = append(out, q+"/")
					}
				}
				return nil
			}
			pods, _, err := cluster.ReadPods(conn, zk.Cluster{Qualified: name})
			if err != nil {
				return err
			}
			sort.SliceStable(pods, func(i, j int) bool { return pods[i].Seq < pods[j].Seq })
			for _, p := range pods {
				out = append(out, cobra.CompletionWithDesc(fmt.Sprintf("%s/%d", name, p.Seq), p.Key))
			}
			return nil
		})
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		directive := cobra.ShellCompDirectiveNoFileComp
		if withPods && !strings.Contains(toComplete, "/") {
			directive |= cobra.ShellCompDirectiveNoSpace // a cluster is followed by /<seq>
		}
		return out, directive
	}
}
