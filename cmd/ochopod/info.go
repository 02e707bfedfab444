package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
)

func newInfoCommand() *cobra.Command {
	o := &opsSettings{}
	cmd := &cobra.Command{
		Use:               "info POD",
		Short:             "A pod's /info: state, process, ports, metrics (POD: <cluster>/<seq>, <cluster>/<key prefix> or host:port)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTargets(o, true, false),
	}
	return opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		pods, err := o.resolve(cmd.Context(), args[0], false)
		if err != nil {
			return err
		}
		ctx, cancel := withTimeout(cmd.Context(), o.timeout)
		defer cancel()
		reply, err := o.podClient().post(ctx, pods[0], "/info", scopeRead, nil, nil)
		if err != nil {
			return err
		}
		var info map[string]any
		if err := json.Unmarshal(reply, &info); err != nil || info == nil {
			return fmt.Errorf("%s: /info is not a JSON object", pods[0].name())
		}
		return emit(cmd.OutOrStdout(), o.output, info, func(t *table) { infoTable(t, info) })
	})
}

// infoTable shows /info one key a line, sorted; objects and lists as compact JSON.
func infoTable(t *table, info map[string]any) {
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := info[k]
		var s string
		switch v.(type) {
		case map[string]any, []any:
			b, _ := json.Marshal(v)
			s = string(b)
		case nil:
			s = ""
		default:
			s = fmt.Sprint(v)
		}
		t.row(k, s)
	}
}
