package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

func newHistoryCommand() *cobra.Command {
	o := &opsSettings{}
	var last int
	cmd := &cobra.Command{
		Use:               "history CLUSTER",
		Short:             "A cluster's last configuration phases, oldest first: when, leader, pods, hash, duration, outcome",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTargets(o, false, true),
	}
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		var st cluster.Status
		err := o.withZK(cmd.Context(), func(conn zk.Conn) error {
			q, err := o.existing(conn, args[0])
			if err != nil {
				return err
			}
			st, err = cluster.ReadStatus(conn, q)
			return err
		})
		if err != nil {
			return err
		}
		if st.HistoryErr != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s: the history node does not parse: %s\n", st.Cluster, st.HistoryErr)
		}
		phases := st.History
		if last > 0 && len(phases) > last {
			phases = phases[len(phases)-last:]
		}
		return emit(cmd.OutOrStdout(), o.output, phases, func(t *table) { historyTable(t, phases, st.Pods, time.Now()) })
	})
	cmd.Flags().IntVar(&last, "last", 0, "only the last N phases")
	return cmd
}

func historyTable(t *table, phases []cluster.Phase, pods []cluster.Pod, now time.Time) {
	seqs := map[string]int64{}
	for _, p := range pods {
		seqs[p.Key] = p.Seq
	}
	t.row("AT", "AGO", "LEADER", "PODS", "HASH", "DURATION", "OUTCOME", "DROPPED")
	for _, ph := range phases {
		leader := short(ph.Leader)
		if seq, ok := seqs[ph.Leader]; ok {
			leader = fmt.Sprintf("%d (%s)", seq, leader)
		}
		dropped := make([]string, len(ph.Dropped))
		for i, k := range ph.Dropped {
			dropped[i] = short(k)
		}
		t.row(ph.At, ago(ph.At, now), leader, ph.Pods, shortHash(ph.Hash), fmt.Sprintf("%d ms", ph.DurationMs), ph.Outcome, strings.Join(dropped, ","))
	}
}
