package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newLogCommand() *cobra.Command {
	o := &opsSettings{}
	var follow bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:               "log POD",
		Short:             "A pod's recent log lines (/log); -f follows",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTargets(o, true, false),
	}
	cmd = opsCommandWith(cmd, o, func(cmd *cobra.Command, o *opsSettings, args []string) error {
		if every <= 0 {
			return usagef("--every %s must be positive", every)
		}
		pods, err := o.resolve(cmd.Context(), args[0], false)
		if err != nil {
			return err
		}
		l := &logReader{o: o, client: o.podClient(), pod: pods[0]}
		lines, err := l.read(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if !follow && o.output != "table" {
			return emit(out, o.output, lines, nil)
		}
		if err := l.print(out, lines); err != nil || !follow {
			return err
		}
		return l.follow(cmd.Context(), out, lines, every)
	})
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	cmd.Flags().DurationVar(&every, "every", time.Second, "with -f: how often the pod is asked for its log")
	return cmd
}

// logReader reads one pod's /log.
type logReader struct {
	o      *opsSettings
	client *podClient
	pod    podRef
}

func (l *logReader) read(ctx context.Context) ([]string, error) {
	ctx, cancel := withTimeout(ctx, l.o.timeout)
	defer cancel()
	reply, err := l.client.post(ctx, l.pod, "/log", scopeRead, nil, nil)
	if err != nil {
		return nil, err
	}
	var lines []string
	if err := json.Unmarshal(reply, &lines); err != nil {
		return nil, fmt.Errorf("%s: /log is not a JSON array of lines", l.pod.name())
	}
	if lines == nil {
		lines = []string{}
	}
	return lines, nil
}

// print writes lines as -o asks: text, or one JSON string a line (a stream that never ends is no array).
func (l *logReader) print(w io.Writer, lines []string) error {
	for _, line := range lines {
		if l.o.output == "table" {
			if _, err := fmt.Fprintln(w, line); err != nil {
				return err
			}
			continue
		}
		b, _ := json.Marshal(line)
		if _, err := fmt.Fprintln(w, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// follow asks for /log again every tick and prints what is new. /log answers with the pod's last lines, no
// cursor: the new lines are those after the longest run of the last answer's tail that starts the new one.
// A pod that stops answering (it exited, or restarts) ends the command.
func (l *logReader) follow(ctx context.Context, w io.Writer, prev []string, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		lines, err := l.read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := l.print(w, lines[overlap(prev, lines):]); err != nil {
			return err
		}
		prev = lines
	}
}

// overlap is the length of the longest suffix of prev that is a prefix of next.
func overlap(prev, next []string) int {
	for n := min(len(prev), len(next)); n > 0; n-- {
		if equalLines(prev[len(prev)-n:], next[:n]) {
			return n
		}
	}
	return 0
}

func equalLines(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
