package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/cluster"
	"github.com/ochopod/ochopod/runtime/zk"
)

// pauseView is what pause and resume print.
type pauseView struct {
	Cluster string `json:"cluster"`
	Paused  bool   `json:"paused"`
	Changed bool   `json:"changed"` // false: it was so already
}

// pauseNote is the paused node's data: who paused, and when (for people reading ZooKeeper).
type pauseNote struct {
	At string `json:"at"`
	By string `json:"by"`
}

func newPauseCommand(pause bool) *cobra.Command {
	o := &opsSettings{}
	use, short := "pause CLUSTER", "Stop the cluster's leader from starting configuration phases (the paused node, DESIGN §13)"
	if !pause {
		use, short = "resume CLUSTER", "Let the leader configure again: a cluster that changed while paused is configured at once"
	}
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1), ValidArgsFunction: completeTargets(o, false, true)}
	return opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		v := pauseView{Paused: pause}
		err := o.withZK(cmd.Context(), func(conn zk.Conn) error {
			q, err := o.existing(conn, args[0])
			if err != nil {
				return err
			}
			v.Cluster = q
			c := zk.Cluster{Qualified: q}
			if pause {
				note, _ := json.Marshal(pauseNote{At: time.Now().UTC().Format(cluster.TimeFormat), By: whoAmI()})
				_, err = conn.Create(c.Paused(), note, zk.Persistent)
				v.Changed = err == nil
				if errors.Is(err, zk.ErrNodeExists) {
					err = nil
				}
			} else {
				err = conn.Delete(c.Paused(), zk.AnyVersion)
				v.Changed = err == nil
				if errors.Is(err, zk.ErrNoNode) {
					err = nil
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		return emit(cmd.OutOrStdout(), o.output, v, func(t *table) {
			state := map[bool]string{true: "paused", false: "resumed"}[pause]
			if !v.Changed {
				state = "was " + state + " already"
			}
			t.row(v.Cluster, state)
		})
	})
}

// whoAmI names the operator for the paused node: user@host, as far as the environment tells.
func whoAmI() string {
	user := os.Getenv("USER")
	if user == "" {
		user = fmt.Sprint(os.Getuid())
	}
	host, _ := os.Hostname()
	return user + "@" + host
}
