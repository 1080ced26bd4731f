package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// sizeValue is a size flag (docker's "bytes": 64m, 1g): checked as it is
// parsed, so that a bad one gets docker's words, exit 125, and names the
// flag: invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'.
// It keeps the text; the command converts it (engine.ParseBytes) as before.
type sizeValue struct {
	p *string
	// unlimited allows "-1" (--memory-swap: unlimited swap).
	unlimited bool
}

func (s sizeValue) Set(v string) error {
	if !(s.unlimited && v == "-1") {
		if _, err := engine.ParseBytes(v); err != nil {
			return err
		}
	}
	*s.p = v
	return nil
}

// Type names the value in help output, as docker's does.
func (s sizeValue) Type() string   { return "bytes" }
func (s sizeValue) String() string { return *s.p }

// sizeVarP registers a size flag.
func sizeVarP(f *pflag.FlagSet, p *string, name, short, usage string, unlimited bool) {
	f.VarP(sizeValue{p: p, unlimited: unlimited}, name, short, usage)
}

// ipsValue is a repeatable IP address flag (--dns), checked as it is
// parsed, as docker's is: invalid argument "x" for "--dns" flag: IP
// address is not correctly formatted: x.
type ipsValue struct{ stringsValue }

func (v ipsValue) Set(s string) error {
	if _, err := netip.ParseAddr(strings.TrimSpace(s)); err != nil {
		return fmt.Errorf("IP address is not correctly formatted: %s", s)
	}
	return v.stringsValue.Set(s)
}

// ipsVar registers a repeatable IP address flag.
func ipsVar(f *pflag.FlagSet, p *[]string, name, usage string) {
	*p = nil
	f.Var(ipsValue{stringsValue{p}}, name, usage)
}
