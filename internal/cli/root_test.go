package cli

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "img"}, "run"},
		{[]string{"--root", "/x", "run", "img"}, "run"},
		{[]string{"--root=/x", "--runroot", "/r", "ps", "-a"}, "ps"},
		{[]string{"--registries-config", "run", "images"}, "images"}, // "run" is the flag's value
		{[]string{"-h", "run"}, ""},
		{[]string{"--help"}, ""},
		{[]string{"--debug", "run"}, ""},
		{[]string{"--", "run"}, ""},
		{[]string{"--root"}, ""},
		{nil, ""},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// commandName skips exactly the root's flags, each with its value.
func TestGlobalFlagsAreTheRoots(t *testing.T) {
	var got []string
	newBareRoot(&globals{}).PersistentFlags().VisitAll(func(f *pflag.Flag) {
		got = append(got, f.Name)
		if f.Value.Type() == "bool" {
			t.Errorf("global flag --%s takes no value: commandName would skip the command's name after it", f.Name)
		}
	})
	if diff := cmp.Diff(globalFlags, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("globalFlags differ from the root's flags (-globalFlags +root):\n%s", diff)
	}
}

// A command in a tree of its own (newRootFor) is the command of the
// whole tree: same name, flags, defaults and help text.
func TestStandaloneCommandsMatchTheFullTree(t *testing.T) {
	full := newRoot(&globals{})
	names := []string{stepName}
	for _, c := range containerCommands {
		names = append(names, c.name)
	}
	for _, name := range names {
		root := newRootFor(&globals{}, []string{"--root", "/x", name})
		if n := len(root.Commands()); n != 1 {
			t.Errorf("%s: the tree has %d commands, want 1", name, n)
			continue
		}
		alone := root.Commands()[0]
		if alone.Name() != name {
			t.Errorf("maker of %q makes %q", name, alone.Name())
			continue
		}
		inFull, _, err := full.Find([]string{name})
		if err != nil || inFull.Name() != name {
			t.Errorf("%s: not in the full tree (%v)", name, err)
			continue
		}
		if got, want := helpOf(alone), helpOf(inFull); got != want {
			t.Errorf("%s: help differs from the full tree's:\n%s\nwant:\n%s", name, got, want)
		}
	}
	if n := len(newRootFor(&globals{}, []string{"images"}).Commands()); n != len(full.Commands()) {
		t.Errorf("images: %d top-level commands, want the whole tree's %d", n, len(full.Commands()))
	}
}

func helpOf(c *cobra.Command) string {
	var b bytes.Buffer
	c.SetOut(&b)
	c.SetErr(&b)
	c.Help()
	return b.String()
}
