package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// stringsValue is a repeatable string flag (pflag's stringArray: every
// occurrence appends one value, commas are not split). pflag's own type
// renders its default through an encoding/csv writer with a 4 KiB buffer
// when the flag is registered; with dozens of such flags on run and
// create, that was a tenth of the page faults of a `pelagos run`.
type stringsValue struct{ p *[]string }

func (s stringsValue) Set(v string) error { *s.p = append(*s.p, v); return nil }

// Type names the value in help output, as pflag's stringArray does.
func (s stringsValue) Type() string { return "stringArray" }

// String is empty for no values, so help shows no default.
func (s stringsValue) String() string {
	if len(*s.p) == 0 {
		return ""
	}
	return "[" + strings.Join(*s.p, ",") + "]"
}

// Append, Replace and GetSlice make it a pflag.SliceValue.
func (s stringsValue) Append(v string) error     { return s.Set(v) }
func (s stringsValue) Replace(vs []string) error { *s.p = append((*s.p)[:0], vs...); return nil }
func (s stringsValue) GetSlice() []string        { return *s.p }
func stringsVar(f *pflag.FlagSet, p *[]string, name, usage string) {
	stringsVarP(f, p, name, "", usage)
}

// stringsVarP registers a repeatable string flag with a shorthand.
func stringsVarP(f *pflag.FlagSet, p *[]string, name, short, usage string) {
	*p = nil
	f.VarP(stringsValue{p}, name, short, usage)
}
