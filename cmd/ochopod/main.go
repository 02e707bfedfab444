// Command ochopod is the entrypoint of every container of a distributed application (DESIGN §11).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/pod"
)

func main() {
	pod.LightRegistry() // before any actor system: most of a pod's start-up CPU, and memory that only grew
	os.Exit(run(os.Args[1:]))
}

// exitError carries the status the process must exit with (the sub-process's, for instance).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ue usageError
	var ee exitError
	var fe failure
	var ce commandError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		fmt.Fprintln(os.Stderr, "ochopod:", err)
		return ce.code
	case errors.As(err, &fe) && !errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "ochopod:", err)
		return 1
	default: // the user's mistake: a bad flag, an unknown command, a bad setting
		fmt.Fprintln(os.Stderr, "ochopod:", err)
		return 2
	}
}

// failure marks an error a command returned while running, as opposed to cobra's errors about the command line.
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// markFailures wraps every command's RunE so that its errors are told apart from command-line errors.
func markFailures(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				return failure{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markFailures(sub)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "ochopod",
		Short:         "Ochopod: the entrypoint that clusters your containers through ZooKeeper",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCommand())
	root.AddCommand(operatorCommands()...)
	withVersion(root)
	markFailures(root)
	return root
}
