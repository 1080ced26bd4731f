package runccli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// A small command layer over the standard library's flag package, kept
// here instead of a CLI framework: pelagos-runc runs on every container
// start (and is copied into memory for every init), so what it links is
// paid for each time. flag's syntax is what runc's CLI accepts: -x and --x,
// --x=v and --x v, flags before positional arguments.

// command is one verb of the CLI.
type command struct {
	Use     string // "create [flags] <container-id>"
	Short   string
	Aliases []string
	Args    func(cmd *command, args []string) error
	RunE    func(cmd *command, args []string) error
	fs      *flagSet
	ctx     context.Context
}

// Name is the verb.
func (c *command) Name() string { return strings.Fields(c.Use)[0] }

// Flags returns the verb's flags.
func (c *command) Flags() *flagSet {
	if c.fs == nil {
		c.fs = newFlagSet(c.Name())
	}
	return c.fs
}

// Context is the context the verb runs under.
func (c *command) Context() context.Context { return c.ctx }

func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: pelagos-runc %s\n\n%s\n", c.Use, c.Short)
	if c.fs != nil && c.fs.hasFlags() {
		fmt.Fprintln(w, "\nFlags:")
		c.fs.printDefaults(w)
	}
}

// run parses args and runs the verb.
func (c *command) run(ctx context.Context, args []string) error {
	c.ctx = ctx
	fs := c.Flags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			c.usage(os.Stdout)
			return nil
		}
		return fmt.Errorf("%s: %w (see pelagos-runc %s --help)", c.Name(), err, c.Name())
	}
	rest := fs.Args()
	if c.Args != nil {
		if err := c.Args(c, rest); err != nil {
			return err
		}
	}
	return c.RunE(c, rest)
}

func minArgs(n int) func(*command, []string) error {
	return func(cmd *command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%s: expects at least %d argument(s), got %d", cmd.Name(), n, len(args))
		}
		return nil
	}
}

func noArgs(cmd *command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s: takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}

// flagSet is flag.FlagSet with short aliases and "was it given" queries.
type flagSet struct {
	*flag.FlagSet
	short map[string]string // long name -> short alias
}

func newFlagSet(name string) *flagSet {
	return &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), short: map[string]string{}}
}

func (f *flagSet) alias(name, short string) {
	if short != "" {
		f.short[name] = short
		f.FlagSet.Var(f.FlagSet.Lookup(name).Value, short, "")
	}
}

func (f *flagSet) StringVarP(p *string, name, short, def, usage string) {
	f.StringVar(p, name, def, usage)
	f.alias(name, short)
}

func (f *flagSet) BoolVarP(p *bool, name, short string, def bool, usage string) {
	f.BoolVar(p, name, def, usage)
	f.alias(name, short)
}

// StringArrayVarP collects every occurrence of a repeatable flag.
func (f *flagSet) StringArrayVarP(p *[]string, name, short string, def []string, usage string) {
	*p = def
	f.Var((*stringArray)(p), name, usage)
	f.alias(name, short)
}

// Changed reports whether the flag (or its short alias) was given.
func (f *flagSet) Changed(name string) bool {
	seen := false
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == name || fl.Name == f.short[name] {
			seen = true
		}
	})
	return seen
}

// SetInterspersed is a no-op: flags always end at the first positional
// argument, as in runc, so "exec <id> sh -c x" keeps "-c" for sh.
func (f *flagSet) SetInterspersed(bool) {}

func (f *flagSet) hasFlags() bool {
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func (f *flagSet) printDefaults(w io.Writer) {
	shortOf := map[string]string{}
	aliases := map[string]bool{}
	for long, s := range f.short {
		shortOf[long] = s
		aliases[s] = true
	}
	var lines []string
	f.VisitAll(func(fl *flag.Flag) {
		if aliases[fl.Name] || fl.Usage == "" {
			return
		}
		name := "--" + fl.Name
		if s := shortOf[fl.Name]; s != "" {
			name = "-" + s + ", " + name
		}
		def := ""
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", fl.DefValue)
		}
		lines = append(lines, fmt.Sprintf("  %-24s %s%s", name, fl.Usage, def))
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

type stringArray []string

func (s *stringArray) String() string { return strings.Join(*s, ",") }

func (s *stringArray) Set(v string) error {
	*s = append(*s, v)
	return nil
}
