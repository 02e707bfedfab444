package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ochopod/ochopod/actors/model"
	"github.com/ochopod/ochopod/runtime/zk"
)

// podIdentity is what a pod's /info says of itself that a control body needs.
type podIdentity struct {
	Key          string   `json:"key"`
	Cluster      string   `json:"cluster"`
	Dependencies []string `json:"dependencies"`
}

// clusterBody builds the body of check, on and ok for one pod as its leader would (DESIGN §7): the pods as
// last configured (the cluster's snapshot) when the pod is among them, else the pods registered now; the
// snapshots of the clusters its dependencies match; its own key. The pod's /info says who it is and what
// it depends on.
func (o *opsSettings) clusterBody(ctx context.Context, conn zk.Conn, client *podClient, pod podRef) ([]byte, error) {
	rctx, cancel := withTimeout(ctx, o.timeout)
	defer cancel()
	reply, err := client.post(rctx, pod, "/info", scopeRead, nil, nil)
	if err != nil {
		return nil, err
	}
	var id podIdentity
	if err := json.Unmarshal(reply, &id); err != nil || id.Key == "" || !strings.Contains(id.Cluster, ".") {
		return nil, fmt.Errorf("%s: /info does not say which pod it is (key, cluster)", pod.name())
	}
	ns := id.Cluster[:strings.LastIndex(id.Cluster, ".")]
	cfg := model.MachineConfig{Cluster: zk.Cluster{Qualified: id.Cluster}, Namespace: ns, DependsOn: id.Dependencies}
	read := model.ReadCluster(conn, cfg, nil, 0, slog.New(slog.DiscardHandler))
	if f := read.GetFailure(); f != nil {
		return nil, fmt.Errorf("read %s: %s", id.Cluster, f.GetMessage())
	}
	pods := map[string]json.RawMessage{}
	for k, v := range read.GetPods() {
		pods[k] = v
	}
	if snap, _, err := conn.Get(cfg.Cluster.Snapshot()); err == nil {
		var last map[string]json.RawMessage
		if json.Unmarshal(snap, &last) == nil && last[id.Key] != nil {
			pods = last
		}
	} else if !errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("read %s: %w", cfg.Cluster.Snapshot(), err)
	}
	if pods[id.Key] == nil {
		return nil, fmt.Errorf("%s (key %s) is not registered in %s", pod.name(), id.Key, id.Cluster)
	}
	snaps := map[string]json.RawMessage{}
	for k, v := range read.GetDependencies() {
		if string(v) == "null" {
			v = []byte("{}") // that cluster has no leader now: no pods, as the leader would send
		}
		snaps[k] = v
	}
	// Keyed as the pod's depends_on declares them, as its leader sends them (DESIGN §11).
	deps, err := model.DeclaredDependencies(ns, id.Cluster, id.Dependencies, read.GetClusters(), snaps)
	if err != nil {
		return nil, err
	}
	w, err := model.WireOf(pods, deps)
	if err != nil {
		return nil, err
	}
	w.Key = id.Key
	return json.Marshal(w)
}
