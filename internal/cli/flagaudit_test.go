package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The audit of issue 6's acceptance line "every command and flag above
// has a test": issue6 below is the issue's list of commands and flags,
// copied by hand, so a flag dropped from the CLI fails the audit as surely
// as a flag no test uses. TestIssue6Audit checks that the CLI has every
// one of them and that some end-to-end test that drives the pelagos binary
// (e2eDirs) gives it; its failure lists each one missing.
//
// What the tests give is read from their sources, without running them:
//
//   - An argument list is the strings given to one call
//     (c.ok("run", "-d", ...)) or written in one composite literal
//     ([]string{"run", "--rm", ...}), and any single string literal that
//     starts with a flag and holds spaces ("--pid host"), split at spaces.
//     A value that is not a literal (a container's ID) is a placeholder;
//     a concatenation keeps its literal parts ("type=bind,source=" + dir).
//   - A list that starts with a command's path (run, container ls,
//     volume create), or whose second string does (a helper's stdin
//     first: startCLI("", "run", ...)), invokes that command; its flags
//     are found by parsing the rest with a fresh copy of the command's own
//     flag set, exactly as the CLI parses them (long or short form,
//     --flag=value, -abc, values taken by flags; run's and exec's flags
//     end at the first argument). A list that does not parse counts for
//     nothing, nor one that gives a flag a value that looks like a long
//     flag (-a --no-trunc: written for another command).
//   - A list that starts with a flag (a table row's flags, flags handed to
//     a helper) counts for the one command of its enclosing function (or,
//     where the function invokes none, of its file) whose flags it parses
//     as, wholly; where it parses as several commands' it counts for none
//     (run and create, which share their flags, count as one).
//   - Error tests count for nothing: calls of fails(...), composite
//     literals holding 125 (a table row that wants it), all but the direct
//     calls of a function that runs a table through fails(code, args...),
//     and functions named TestBadInput*.
//   - Where the issue names values (--restart no|on-failure|...), each
//     value must be given to the flag somewhere: as a prefix of the value
//     or of one of its comma-separated parts (type=bind in --mount).
//     "cp (both directions)" wants a CONTAINER:PATH first and one second.
//
// Keeping it true: a flag added to the issue's lists goes into issue6 and
// gets an end-to-end test in tests/engine that reads its effect back, with
// the flag written as a literal argument.

// e2eDirs are the test packages that drive the built pelagos binary.
var e2eDirs = []string{"engine", "network", "rootless", "vm"}

// runCreateFlags are issue 6's run/create flags that both commands have;
// runOnlyFlags are docker's run's alone.
var runCreateFlags = []string{
	"-i", "-t", "--rm", "--name", "-e", "--env-file", "-v/--volume",
	"--mount=type=bind|type=volume|type=tmpfs", "--tmpfs", "--read-only", "-w", "-u",
	"--entrypoint", "-h/--hostname", "--add-host", "--dns", "--dns-search", "--dns-option",
	"--network=none|host|container:",
	"--restart=no|on-failure|always|unless-stopped",
	"--health-cmd", "--health-interval", "--health-timeout", "--health-retries",
	"--health-start-period", "--no-healthcheck",
	"-m/--memory", "--memory-swap", "--cpus", "--cpu-shares", "--cpuset-cpus", "--pids-limit",
	"--ulimit", "--cap-add", "--cap-drop", "--privileged",
	"--security-opt=seccomp=|no-new-privileges|apparmor=|label=",
	"--device", "--sysctl", "--init", "--stop-signal", "--stop-timeout", "--shm-size",
	"--pid=host", "--ipc=host", "--uts=host", "--userns", "-l/--label",
	"--pull=always|missing|never", "--platform", "--log-opt=max-size|max-file",
	"-a/--attach",
}

var runOnlyFlags = []string{"-d", "--sig-proxy", "--detach-keys"}

// issue6 is the issue's "Commands" list: each command with the flags the
// issue names for it, and the volume commands.
var issue6 = []struct {
	cmd   string
	flags []string
}{
	{"run", append(runOnlyFlags, runCreateFlags...)},
	{"create", runCreateFlags},
	{"start", nil}, {"stop", nil}, {"restart", nil}, {"kill", nil},
	{"rm", []string{"-f", "-v"}},
	{"ps", []string{"-a", "-q", "-s", "-n", "-l", "--no-trunc", "--filter", "--format=table|json"}},
	{"logs", []string{"-f", "--tail", "--since", "--until", "-t"}},
	{"exec", []string{"-i", "-t", "-d", "-e", "-w", "-u", "--privileged"}},
	{"attach", []string{"--detach-keys"}},
	{"inspect", []string{"-f"}},
	{"wait", nil}, {"top", nil},
	{"stats", []string{"--no-stream", "--format"}},
	{"port", nil}, {"rename", nil}, {"pause", nil}, {"unpause", nil}, {"update", nil},
	{"cp", nil}, {"diff", nil}, {"commit", nil}, {"export", nil}, {"events", nil},
	{"container prune", nil}, {"container ls", nil}, {"container inspect", nil},
	{"system prune", nil}, {"system df", nil}, {"system boot", nil}, {"info", nil}, {"version", nil},
	{"volume create", nil}, {"volume ls", nil}, {"volume inspect", nil},
	{"volume rm", nil}, {"volume prune", nil},
}

// sharedFlags are flags whose use with one command counts for the others
// of the set: run and create share one flag set (runFlags.register).
var sharedFlags = map[string][]string{"run": {"run", "create"}, "create": {"run", "create"}}

// auditFlag is one flag of issue6: "-m/--memory", "-d", "--rm",
// "--pull=always|missing|never".
type auditFlag struct {
	short, long string
	values      []string
}

func parseAuditFlag(s string) auditFlag {
	var f auditFlag
	s, vals, ok := strings.Cut(s, "=")
	if ok {
		f.values = strings.Split(vals, "|")
	}
	for _, p := range strings.Split(s, "/") {
		if n, ok := strings.CutPrefix(p, "--"); ok {
			f.long = n
		} else {
			f.short = strings.TrimPrefix(p, "-")
		}
	}
	return f
}

func (f auditFlag) String() string {
	var names []string
	if f.short != "" {
		names = append(names, "-"+f.short)
	}
	if f.long != "" {
		names = append(names, "--"+f.long)
	}
	return strings.Join(names, "/")
}

// lookup finds f in the command's flags, or returns nil.
func (f auditFlag) lookup(fs *pflag.FlagSet) *pflag.Flag {
	if f.long != "" {
		fl := fs.Lookup(f.long)
		if fl == nil || (f.short != "" && fl.Shorthand != f.short) {
			return nil
		}
		return fl
	}
	return fs.ShorthandLookup(f.short)
}

// usage is what the test sources do with the CLI: for each command path
// ("volume create"), the flags given to it by long name, each with the
// values it was given.
type usage map[string]map[string][]string

func (u usage) add(cmd, flag string, vals []string) {
	if u[cmd] == nil {
		u[cmd] = map[string][]string{}
	}
	u[cmd][flag] = append(u[cmd][flag], vals...)
}

func (u usage) merge(o usage) {
	for cmd, flags := range o {
		if u[cmd] == nil {
			u[cmd] = map[string][]string{}
		}
		for name, vals := range flags {
			u.add(cmd, name, vals)
		}
	}
}

func TestIssue6Audit(t *testing.T) {
	full := newRoot(&globals{})
	got := scanE2E(t, full)
	var missing []string
	for _, e := range issue6 {
		cmd, _, err := full.Find(strings.Fields(e.cmd))
		if err != nil || cmd.CommandPath() != "pelagos "+e.cmd {
			missing = append(missing, "pelagos "+e.cmd+": no such command in the CLI")
			continue
		}
		used, invoked := got[e.cmd]
		for _, other := range sharedFlags[e.cmd] {
			if _, ok := got[other]; ok {
				invoked = true
			}
		}
		if !invoked {
			missing = append(missing, "pelagos "+e.cmd+": no end-to-end test invokes it")
		}
		for _, s := range e.flags {
			af := parseAuditFlag(s)
			fl := af.lookup(cmd.Flags())
			if fl == nil {
				missing = append(missing, "pelagos "+e.cmd+" "+af.String()+": no such flag in the CLI")
				continue
			}
			vals, ok := used[fl.Name]
			for _, other := range sharedFlags[e.cmd] {
				if v, o := got[other][fl.Name]; o {
					vals, ok = append(vals, v...), true
				}
			}
			if e.cmd == "create" {
				continue // run's entry reports the flags they share
			}
			name := e.cmd
			if e.cmd == "run" && slices.Contains(runCreateFlags, s) {
				name = "run|create"
			}
			if !ok {
				missing = append(missing, "pelagos "+name+" "+af.String()+": no end-to-end test gives it")
				continue
			}
			for _, want := range af.values {
				if !slices.ContainsFunc(vals, func(v string) bool { return valueMatches(v, want) }) {
					missing = append(missing, "pelagos "+name+" "+af.String()+" "+want+": no end-to-end test gives this value")
				}
			}
		}
	}
	missing = append(missing, cpDirections(got)...)
	if len(missing) > 0 {
		t.Errorf("issue 6's commands and flags without an end-to-end test under tests/%v (see the comment at the top of flagaudit_test.go):\n%s",
			e2eDirs, strings.Join(missing, "\n"))
	}
}

// valueMatches reports whether v, or one of its comma-separated parts,
// starts with want.
func valueMatches(v, want string) bool {
	for _, p := range strings.Split(v, ",") {
		if strings.HasPrefix(p, want) {
			return true
		}
	}
	return false
}

// Every container command has its `container ...` form, with the same
// flags; the management group adds ls, inspect and prune.
func TestContainerManagementForms(t *testing.T) {
	full := newRoot(&globals{})
	names := []string{"ls", "list", "inspect", "prune"}
	for _, c := range containerCommands {
		names = append(names, c.name)
	}
	for _, name := range names {
		cmd, _, err := full.Find([]string{"container", name})
		if err != nil || cmd.Parent().Name() != "container" {
			t.Errorf("pelagos container %s: no such command (%v)", name, err)
			continue
		}
		top, _, err := full.Find([]string{name})
		if err != nil || top.Parent() != full || name == "ls" || name == "list" || name == "prune" {
			continue
		}
		if got, want := flagNames(cmd), flagNames(top); !slices.Equal(got, want) {
			t.Errorf("pelagos container %s has flags %v, pelagos %s has %v", name, got, name, want)
		}
	}
	for _, name := range []string{"create", "ls", "inspect", "rm", "prune"} {
		if cmd, _, err := full.Find([]string{"volume", name}); err != nil || cmd.Name() != name {
			t.Errorf("pelagos volume %s: no such command (%v)", name, err)
		}
	}
}

func flagNames(c *cobra.Command) []string {
	var out []string
	c.Flags().VisitAll(func(f *pflag.Flag) { out = append(out, f.Name+"/"+f.Shorthand) })
	return out
}

// The audit's scanner finds what it should and nothing else.
func TestScanArgLists(t *testing.T) {
	src := `package x
func TestA(t *testing.T) {
	c.ok("run", "-d", "--name", "x", "-m", "64m", "img", "sh", "-c", "exec -t")
	c.ok("ps", "-aq", "--format", "table {{.Names}}")
	c.run(nil, "volume", "create", "v")
	c.ok("run", "-v", dir+":/d", "--rm", id, "--cap-add", "ALL")
	c.fails(125, "run", "--cpus", "lots", "img")
	args := []string{"run", "--restart=on-failure:3", "img"}
	for _, tc := range []struct{ args string }{{"--pid host"}, {"--no-such thing"}} {}
	c.ok("run", "--nosuch", "--memory-swap", "1g", "img")
	c.startCLI("", "attach", "--sig-proxy=false", id)
	c.ok("cp", "-a", filepath.Join(dir, "f"), id+":/tmp/")
}
func helper() { c.ok(append([]string{"exec", "-i"}, flags...)...) }
func TestBadInputX(t *testing.T) { c.ok("run", "--shm-size", "1m", "img") }
`
	full := newRoot(&globals{})
	got := usage{}
	scanFile(t, full, "x_test.go", src, got)
	want := usage{
		"run":           {"detach": nil, "name": {"x"}, "memory": {"64m"}, "restart": {"on-failure:3"}, "pid": {"host"}, "volume": {"\x00:/d"}, "rm": {"true"}},
		"ps":            {"all": {"true"}, "quiet": {"true"}, "format": {"table {{.Names}}"}},
		"volume create": {},
		"exec":          {"interactive": {"true"}},
		"attach":        {"sig-proxy": {"false"}},
		"cp":            {"archive": {"true"}},
	}
	want["run"]["detach"] = []string{"true"}
	if got := cpDirections(got); len(got) != 1 || !strings.Contains(got[0], "out of a container") {
		t.Errorf("cpDirections after a copy into a container: %q, want only the copy out missing", got)
	}
	for cmd, flags := range want {
		for name, vals := range flags {
			if gv, ok := got[cmd][name]; !ok || !slices.Equal(gv, vals) {
				t.Errorf("%s --%s: got %q (present %v), want %q", cmd, name, gv, ok, vals)
			}
		}
		if _, ok := got[cmd]; !ok {
			t.Errorf("%s: not seen", cmd)
		}
	}
	for cmd, flags := range got {
		for name := range flags {
			if _, ok := want[cmd][name]; !ok && name != argsKey {
				t.Errorf("%s --%s: seen, but the source only gives it in an error test or after the image", cmd, name)
			}
		}
	}
}

// scanE2E scans the end-to-end tests' sources.
func scanE2E(t *testing.T, full *cobra.Command) usage {
	t.Helper()
	u := usage{}
	for _, d := range e2eDirs {
		dir := filepath.Join("..", "..", "tests", d)
		err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.HasSuffix(path, "_test.go") {
				return err
			}
			scanFile(t, full, path, nil, u)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// scanFile adds what the Go file at path (or src) does with the CLI to u.
func scanFile(t *testing.T, full *cobra.Command, path string, src any, u usage) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	type fnLists struct{ cmds, flagOnly [][]string }
	var fns []fnLists
	fileCmds := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || strings.HasPrefix(fd.Name.Name, "TestBadInput") {
			continue
		}
		var fl fnLists
		errTable := callsFailsSpread(fd.Body)
		for _, l := range argLists(fd.Body, errTable) {
			if len(l) == 0 {
				continue
			}
			if strings.HasPrefix(l[0], "-") {
				fl.flagOnly = append(fl.flagOnly, l)
				continue
			}
			// A helper may take a string before the command line
			// (startCLI(stdin, "run", ...)).
			if commandPath(full, l) == nil && len(l) > 1 {
				l = l[1:]
			}
			if path := commandPath(full, l); path != nil {
				fl.cmds = append(fl.cmds, l)
				fileCmds[strings.Join(path, " ")] = true
			}
		}
		fns = append(fns, fl)
	}
	for _, fl := range fns {
		cmds := map[string]bool{}
		for _, l := range fl.cmds {
			path := commandPath(full, l)
			cmds[strings.Join(path, " ")] = true
			u.merge(parse(path, l[len(path):], false))
		}
		if len(cmds) == 0 {
			cmds = fileCmds
		}
		for _, l := range fl.flagOnly {
			fits := usage{}
			for c := range cmds {
				fits.merge(parse(strings.Fields(c), l, true))
			}
			_, run := fits["run"]
			_, create := fits["create"]
			if len(fits) == 1 || (len(fits) == 2 && run && create) {
				u.merge(fits)
			}
		}
	}
}

// callsFailsSpread reports whether body calls fails(code, args...): a
// table of error cases, whose rows' flags are not seen working.
func callsFailsSpread(body ast.Node) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && call.Ellipsis.IsValid() {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "fails" {
				found = true
			}
		}
		return !found
	})
	return found
}

// argLists returns the argument lists in body (see the comment at the
// top), skipping calls of fails and table rows that want exit 125. In an
// error table (errTable), only the arguments of direct calls count.
func argLists(body ast.Node, errTable bool) [][]string {
	var out [][]string
	// A list starts at its first string; an expression after it that is
	// not a string is some value (a container's ID), kept as a
	// placeholder so that the flags stay aligned with their values.
	literals := func(exprs []ast.Expr) []string {
		var l []string
		for _, e := range exprs {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				e = kv.Value
			}
			if s, ok := stringExpr(e); ok || len(l) > 0 {
				l = append(l, s)
			}
		}
		return l
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "fails" {
				return false
			}
			args := n.Args
			if n.Ellipsis.IsValid() {
				args = args[:len(args)-1] // what it spreads is unknown here
			}
			out = append(out, literals(args))
		case *ast.CompositeLit:
			if slices.ContainsFunc(n.Elts, isExit125) {
				return false
			}
			if !errTable {
				out = append(out, literals(n.Elts))
			}
		case *ast.BasicLit:
			if s, ok := stringLit(n); ok && !errTable && strings.HasPrefix(s, "-") && strings.Contains(s, " ") {
				out = append(out, strings.Fields(s))
			}
		}
		return true
	})
	return out
}

func isExit125(e ast.Expr) bool {
	bl, ok := e.(*ast.BasicLit)
	return ok && bl.Kind == token.INT && bl.Value == "125"
}

// placeholder stands for a value the scanner cannot know.
const placeholder = "\x00"

// stringExpr returns the text of a string literal or of a concatenation
// holding one ("type=bind,source=" + dir), with placeholders for the
// parts it cannot know, and whether e held a string literal at all.
func stringExpr(e ast.Expr) (string, bool) {
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.ADD {
		x, okx := stringExpr(b.X)
		y, oky := stringExpr(b.Y)
		return x + y, okx || oky
	}
	if s, ok := stringLit(e); ok {
		return s, true
	}
	return placeholder, false
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// commandPath returns the longest prefix of l that names a command of
// full (by name or alias), or nil.
func commandPath(full *cobra.Command, l []string) []string {
	cur, n := full, 0
	for n < len(l) {
		next := subcommand(cur, l[n])
		if next == nil {
			break
		}
		cur, n = next, n+1
	}
	if n == 0 || !cur.Runnable() {
		return nil
	}
	return l[:n]
}

func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name || slices.Contains(s.Aliases, name) {
			return s
		}
	}
	return nil
}

// parse parses args with a fresh copy of the command at path and returns
// the flags it set, or nil if args do not parse. With flagsOnly, args
// must be flags alone. A value that looks like a long flag (-a --no-trunc)
// means the list was written for another command.
func parse(path, args []string, flagsOnly bool) usage {
	root := newRootFor(&globals{}, path)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	cmd, _, err := root.Find(path)
	if err != nil || cmd.ParseFlags(args) != nil {
		return nil
	}
	if flagsOnly && len(cmd.Flags().Args()) > 0 {
		return nil
	}
	name := strings.TrimPrefix(cmd.CommandPath(), "pelagos ")
	u := usage{name: {}}
	bad := false
	cmd.Flags().Visit(func(f *pflag.Flag) {
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			bad = bad || strings.HasPrefix(v, "--")
		}
		u.add(name, f.Name, vals)
	})
	if bad {
		return nil
	}
	if args := cmd.Flags().Args(); len(args) > 0 {
		u.add(name, argsKey, []string{strings.Join(args, "\x01")})
	}
	return u
}

// argsKey records a command's arguments in usage, joined by \x01.
const argsKey = "<args>"

// cpDirections lists what cp's arguments lack of the issue's "cp (both
// directions)": a copy out of a container (CONTAINER:PATH first) and one
// into it (CONTAINER:PATH second).
func cpDirections(u usage) []string {
	var out, in bool
	for _, a := range u["cp"][argsKey] {
		f := strings.Split(a, "\x01")
		out = out || (len(f) == 2 && strings.Contains(f[0], ":"))
		in = in || (len(f) == 2 && strings.Contains(f[1], ":"))
	}
	var missing []string
	if !out {
		missing = append(missing, "pelagos cp CONTAINER:SRC DEST: no end-to-end test copies out of a container")
	}
	if !in {
		missing = append(missing, "pelagos cp SRC CONTAINER:DEST: no end-to-end test copies into a container")
	}
	return missing
}
