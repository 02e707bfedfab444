package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/zk"
)

// ctlTasks are the tasks `ochopod ctl` sends (DESIGN §6, §8).
func ctlTasks() []string { return []string{"on", "off", "check", "ok", "kill", "signal"} }

// rolloutResult is one pod's answer in a rollout (ctl, reset).
type rolloutResult struct {
	podRef
	Task       string          `json:"task"`
	OK         bool            `json:"ok"`
	Code       int             `json:"code"` // 0 when the pod did not answer
	Reply      json.RawMessage `json:"reply"`
	Error      string          `json:"error"`
	DurationMs int64           `json:"duration_ms"`
}

// rollout sends one request to each pod, one pod at a time in seq order (like kubectl rollout): it stops at
// the first failure unless keepGoing, prints a line per pod as it goes (table) or every result at the end
// (json, yaml), then a summary. The error says how many pods failed.
type rollout struct {
	o         *opsSettings
	task      string
	keepGoing bool
	send      func(ctx context.Context, pod podRef) ([]byte, error)
}

func (r rollout) run(ctx context.Context, out io.Writer, pods []podRef) error {
	results := []rolloutResult{}
	var t *table
	if r.o.output == "table" {
		t = newTable(out)
	}
	failed := 0
	for i, pod := range pods {
		start := time.Now()
		reply, err := r.send(ctx, pod)
		res := rolloutResult{podRef: pod, Task: r.task, OK: err == nil, Reply: json.RawMessage("{}"), DurationMs: time.Since(start).Milliseconds()}
		if json.Valid(reply) && len(reply) > 0 {
			res.Reply = reply
		}
		var pe *podError
		switch {
		case errors.As(err, &pe):
			res.Code, res.Error = pe.code, pe.msg
		case err != nil:
			res.Error = err.Error()
		default:
			res.Code = 200
		}
		results = append(results, res)
		if t != nil {
			status := "ok"
			if !res.OK {
				status = "FAILED: " + res.Error
			}
			t.row(pod.name(), short(pod.Key), r.task, fmt.Sprintf("%d ms", res.DurationMs), status)
			_ = t.flush() // a line per pod as it goes: each pod may take a while
		}
		if !res.OK {
			failed++
			if !r.keepGoing && i < len(pods)-1 {
				if t != nil {
					fmt.Fprintf(out, "stopped after the first failure: %d pod(s) not sent %s (--keep-going sends to all)\n", len(pods)-i-1, r.task)
				}
				break
			}
		}
	}
	if t == nil {
		if err := emit(out, r.o.output, results, nil); err != nil {
			return err
		}
	} else if len(pods) > 1 {
		fmt.Fprintf(out, "%s: %d of %d pods ok\n", r.task, len(results)-failed, len(pods))
	}
	if failed > 0 {
		if len(pods) == 1 {
			return errors.New(results[0].Error)
		}
		return fmt.Errorf("%s failed on %d of %d pods", r.task, failed, len(pods))
	}
	return nil
}

func newCtlCommand() *cobra.Command {
	o := &opsSettings{}
	var wait time.Duration
	var keepGoing bool
	var data string
	cmd := &cobra.Command{
		Use:   "ctl TASK TARGET",
		Short: "Send on, off, check, ok, kill or signal to a pod, or to every pod of a cluster one at a time",
		Long: `Send a control task to a pod (<cluster>/<seq>, <cluster>/<key prefix>, host:port) or to every pod of a
cluster (<cluster>), one pod at a time in seq order, stopping at the first failure unless --keep-going.
check, on and ok carry the cluster as the leader sends it: the pods as last configured and the snapshots
of the pod's dependencies, read from ZooKeeper.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return ctlTasks(), cobra.ShellCompDirectiveNoFileComp
			}
			return completeTargets(o, true, true)(cmd, args[1:], toComplete)
		},
	}
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		task := args[0]
		if !slices.Contains(ctlTasks(), task) {
			return usagef("unknown task %q: want one of %v", task, ctlTasks())
		}
		if wait <= 0 {
			return usagef("--wait %s must be positive", wait)
		}
		if data != "" && (task != "signal" || !json.Valid([]byte(data))) {
			return usagef("--data goes with signal, and must be JSON")
		}
		pods, err := o.resolve(cmd.Context(), args[1], true)
		if err != nil {
			return err
		}
		client := o.podClient()
		var conn zk.Conn
		if task == "check" || task == "on" || task == "ok" {
			if conn, err = o.connect(cmd.Context()); err != nil {
				return err
			}
			defer conn.Close()
		}
		secs := strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10)
		r := rollout{o: o, task: task, keepGoing: keepGoing, send: func(ctx context.Context, pod podRef) ([]byte, error) {
			body := []byte(data)
			if conn != nil {
				var err error
				if body, err = o.clusterBody(ctx, conn, client, pod); err != nil {
					return nil, err
				}
			}
			ctx, cancel := withTimeout(ctx, wait*5/4) // the pod answers 408 at wait; leave it the time to say so
			defer cancel()
			return client.post(ctx, pod, "/control/"+task+"/"+secs, scopeControl, body, nil)
		}}
		return r.run(cmd.Context(), cmd.OutOrStdout(), pods)
	})
	cmd.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long each pod may take (its /control timeout)")
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "with a whole cluster: go on after a pod failed")
	cmd.Flags().StringVar(&data, "data", "", "with signal: the JSON payload handed to the pod's signaled callback")
	return cmd
}

func newResetCommand() *cobra.Command {
	o := &opsSettings{}
	var keepGoing bool
	cmd := &cobra.Command{
		Use:               "reset TARGET",
		Short:             "Force a pod, or every pod of a cluster one at a time, onto a new ZooKeeper session (its process is left alone)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTargets(o, true, true),
	}
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		pods, err := o.resolve(cmd.Context(), args[0], true)
		if err != nil {
			return err
		}
		client := o.podClient()
		r := rollout{o: o, task: "reset", keepGoing: keepGoing, send: func(ctx context.Context, pod podRef) ([]byte, error) {
			ctx, cancel := withTimeout(ctx, o.timeout)
			defer cancel()
			return client.post(ctx, pod, "/reset", scopeControl, nil, nil)
		}}
		return r.run(cmd.Context(), cmd.OutOrStdout(), pods)
	})
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "with a whole cluster: go on after a pod failed")
	return cmd
}
