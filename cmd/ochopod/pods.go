package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/binding"
	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
	"github.com/ochopod/ochopod/runtime/zk/gozk"
)

// podsSettings are the settings of `ochopod pods`.
type podsSettings struct {
	zk      string
	filter  string
	asJSON  bool
	timeout time.Duration
	sec     securitySettings // the --zk-* settings of DESIGN §12
}

func newPodsCommand() *cobra.Command {
	s := &podsSettings{}
	cmd := &cobra.Command{
		Use:   "pods [flags]",
		Short: "List the clusters registered in ZooKeeper, their pods and leaders",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if s.zk == "" {
				s.zk = envOr("ochopod_zk", "")
			}
			if err := applySecurityEnv(cmd, binding.FromEnviron(os.Environ())); err != nil {
				return err
			}
			if s.zk == "" {
				return usagef("no ZooKeeper: give --zk or set ochopod_zk")
			}
			ens, err := zk.ParseEnsemble(s.zk)
			if err != nil {
				return usagef("--zk: %v", err)
			}
			return listPods(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), ens, s)
		},
	}
	cmd.Flags().StringVar(&s.zk, "zk", "", "ZooKeeper ensemble (env ochopod_zk)")
	cmd.Flags().StringVar(&s.filter, "cluster", "", "only clusters whose qualified name (namespace.cluster) starts with this")
	cmd.Flags().BoolVar(&s.asJSON, "json", false, "print JSON instead of a table")
	cmd.Flags().DurationVar(&s.timeout, "timeout", 10*time.Second, "how long to wait for ZooKeeper")
	s.sec.registerZK(cmd.Flags())
	return cmd
}

// clusterView is what `pods` shows of one cluster.
type clusterView struct {
	Cluster string        `json:"cluster"`
	Leader  string        `json:"leader"` // the leader's key
	Pods    []cluster.Pod `json:"pods"`
}

func listPods(ctx context.Context, out, errOut io.Writer, ens zk.Ensemble, s *podsSettings) error {
	waitCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sec, err := s.sec.open(nil)
	if err != nil {
		return err
	}
	conn, err := gozk.ConnectWith(waitCtx, sec.dialer(nil), ens, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	names, err := cluster.List(conn)
	if err != nil {
		return err
	}
	var views []clusterView
	for _, q := range names {
		if !strings.HasPrefix(q, s.filter) {
			continue
		}
		c := zk.Cluster{Qualified: q}
		pods, skipped, err := cluster.ReadPods(conn, c)
		if err != nil {
			return err
		}
		for _, sk := range skipped {
			fmt.Fprintf(errOut, "warning: skipped %s: %s\n", sk.Path, sk.Reason)
		}
		holder, err := cluster.Leader(conn, c)
		if err != nil {
			return err
		}
		v := clusterView{Cluster: q, Pods: pods}
		for _, p := range pods {
			if strings.ReplaceAll(p.Key, "-", "") == holder {
				v.Leader = p.Key
			}
		}
		views = append(views, v)
	}
	if s.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tKEY\tSEQ\tIP\tPORTS\tROLE")
	for _, v := range views {
		for _, p := range v.Pods {
			role := "follower"
			switch {
			case p.Key == v.Leader:
				role = "leader"
			case p.Registering:
				role = "registering" // its seq is not written yet: no leader counts it
			}
			ports, _ := json.Marshal(p.Payload.Ports())
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", v.Cluster, p.Key, p.Seq, p.Payload.String("ip"), ports, role)
		}
	}
	return tw.Flush()
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
