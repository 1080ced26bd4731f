package cli

import (
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestArgCountErrors(t *testing.T) {
	for _, tc := range []struct {
		check cobra.PositionalArgs
		args  int
		want  string
	}{
		{cobra.MinimumNArgs(1), 0, "'pelagos x' requires at least 1 argument\nSee 'pelagos x --help'."},
		{cobra.MinimumNArgs(2), 1, "'pelagos x' requires at least 2 arguments\nSee 'pelagos x --help'."},
		{cobra.ExactArgs(2), 3, "'pelagos x' requires exactly 2 arguments\nSee 'pelagos x --help'."},
		{cobra.NoArgs, 1, "'pelagos x' accepts no arguments\nSee 'pelagos x --help'."},
		{cobra.MaximumNArgs(1), 2, "'pelagos x' requires at most 1 argument\nSee 'pelagos x --help'."},
		{cobra.RangeArgs(1, 2), 0, "'pelagos x' requires at least 1 and at most 2 arguments\nSee 'pelagos x --help'."},
		{func(*cobra.Command, []string) error { return errors.New("not a count") }, 1, "not a count\nSee 'pelagos x --help'."},
		{cobra.MinimumNArgs(1), 1, ""},
	} {
		root := &cobra.Command{Use: "pelagos"}
		x := &cobra.Command{Use: "x", Args: tc.check, Run: func(*cobra.Command, []string) {}}
		root.AddCommand(x)
		dockerArgErrors(root)
		err := x.Args(x, make([]string, tc.args))
		if got := errString(err); got != tc.want {
			t.Errorf("%d args: %q, want %q", tc.args, got, tc.want)
		}
	}
}
