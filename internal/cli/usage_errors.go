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

// dockerArgErrors words every command's argument-count errors as
// docker's ('pelagos run' requires at least 1 argument / See 'pelagos
// run --help'.) instead of cobra's ("requires at least 1 arg(s), only
// received 0"). The bounds are found by asking the command's own
// validator, on the error path only, so no command states them twice.
func dockerArgErrors(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &seeHelpError{err: argCountError(cmd, check, err), cmd: cmd.CommandPath()}
			}
			return nil
		}
	}
	for _, s := range c.Commands() {
		dockerArgErrors(s)
	}
}

// argProbe is how many arguments argCountError tries: more than any
// command's bound.
const argProbe = 8

// argCountError says, in docker's words, how many arguments cmd takes;
// err where check is not a count (it accepts no count of empty ones).
func argCountError(cmd *cobra.Command, check cobra.PositionalArgs, err error) error {
	lo, hi := -1, -1
	for n := 0; n <= argProbe; n++ {
		if check(cmd, make([]string, n)) == nil {
			if lo < 0 {
				lo = n
			}
			hi = n
		}
	}
	name := cmd.CommandPath()
	switch {
	case lo < 0:
		return err
	case hi == 0:
		return fmt.Errorf("'%s' accepts no arguments", name)
	case hi == argProbe:
		return fmt.Errorf("'%s' requires at least %s", name, arguments(lo))
	case lo == hi:
		return fmt.Errorf("'%s' requires exactly %s", name, arguments(lo))
	case lo == 0:
		return fmt.Errorf("'%s' requires at most %s", name, arguments(hi))
	}
	return fmt.Errorf("'%s' requires at least %d and at most %s", name, lo, arguments(hi))
}

func arguments(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return fmt.Sprintf("%d arguments", n)
}
