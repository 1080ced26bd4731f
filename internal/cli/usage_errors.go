package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// refuseUnknownSubcommands makes every command group under root (pelagos
// container, volume, system ...) refuse a subcommand it does not have, as
// docker does ("unknown command: pelagos container nosuch", exit 1);
// cobra would print the group's help and exit 0, so a typo in a script
// would pass unnoticed. A group alone still prints its help.
func refuseUnknownSubcommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		if !c.HasSubCommands() || c.Runnable() {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return &seeHelpError{err: fmt.Errorf("unknown command: %s %s", cmd.CommandPath(), args[0]), cmd: cmd.CommandPath()}
		}
		refuseUnknownSubcommands(c)
	}
}

// seeHelpError is a usage error as docker prints it: the error, then
// where to look ("See 'pelagos run --help'.").
type seeHelpError struct {
	err error
	cmd string // the command's path: pelagos run
}

func (e *seeHelpError) Error() string { return e.err.Error() + "\nSee '" + e.cmd + " --help'." }
func (e *seeHelpError) Unwrap() error { return e.err }
