package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ochopod/ochopod/runtime/version"
)

// newVersionCommand is `ochopod version` (DESIGN §14); the root's --version prints the same line.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary (module version, VCS revision, Go version, platform)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "ochopod", version.Get())
			return err
		},
	}
}

// withVersion gives root --version and the version subcommand.
func withVersion(root *cobra.Command) {
	root.Version = version.Get().String()
	root.SetVersionTemplate("ochopod {{.Version}}\n")
	root.AddCommand(newVersionCommand())
}
