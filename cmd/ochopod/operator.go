package main

import "github.com/spf13/cobra"

// operatorCommands are the verbs of DESIGN §14, one file each (ls.go, info.go, ...).
func operatorCommands() []*cobra.Command {
	return []*cobra.Command{newLsCommand(), newInfoCommand(), newLogCommand(), newCtlCommand(), newResetCommand(),
		newExecCommand(), newHistoryCommand(), newGraphCommand(), newPauseCommand(true), newPauseCommand(false)}
}
