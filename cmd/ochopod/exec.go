package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// execReply is /exec's answer (DESIGN §8).
type execReply struct {
	Code   int      `json:"code"`
	Stdout []string `json:"stdout"`
}

func newExecCommand() *cobra.Command {
	o := &opsSettings{}
	cmd := &cobra.Command{
		Use:               "exec POD -- TOOL [ARGS...]",
		Short:             "Run a tool the pod registered (/exec) and print its output; exits with the tool's code",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeTargets(o, true, false),
	}
	return opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		if dash := cmd.ArgsLenAtDash(); dash != 1 {
			return usagef("want: ochopod exec POD -- TOOL [ARGS...]")
		}
		for _, a := range args[1:] {
			if a == "" || strings.ContainsAny(a, " \t\n\r") {
				// the pod splits X-Shell on white space: an argument holding some would arrive as several
				return usagef("argument %q: /exec takes arguments without white space", a)
			}
		}
		pods, err := o.resolve(cmd.Context(), args[0], false)
		if err != nil {
			return err
		}
		ctx, cancel := withTimeout(cmd.Context(), o.timeout)
		defer cancel()
		reply, err := o.podClient().post(ctx, pods[0], "/exec", scopeExec, nil, map[string]string{"X-Shell": strings.Join(args[1:], " ")})
		if err != nil {
			return err
		}
		var r execReply
		if err := json.Unmarshal(reply, &r); err != nil {
			return fmt.Errorf("%s: /exec did not answer {code, stdout}", pods[0].name())
		}
		if r.Stdout == nil {
			r.Stdout = []string{}
		}
		err = emit(cmd.OutOrStdout(), o.output, r, func(t *table) {})
		if o.output == "table" {
			for _, line := range r.Stdout {
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
		}
		if err == nil && r.Code != 0 {
			return exitError{code: min(max(r.Code, 1), 255)}
		}
		return err
	})
}
