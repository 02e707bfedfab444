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

// withVersion gives root --version (-v) and the version subcommand. The flag is root's own rather than
// cobra's (root.Version): cobra prints "NAME version X" unless given a template, and its templates are
// text/template's executor, which costs the binary 2.2 MB (package runtime/tmpl says why).
func withVersion(root *cobra.Command) {
	show := root.Flags().BoolP("version", "v", false, "version for ochopod")
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if *show {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "ochopod", version.Get())
			return err
		}
		return cmd.Help()
	}
	root.AddCommand(newVersionCommand())
}
