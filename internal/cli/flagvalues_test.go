package cli

import (
	"testing"

	"github.com/spf13/pflag"
)

// Bad sizes and addresses are refused while parsing, naming the flag as
// docker does; good ones keep their text.
func TestCheckedFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-m", "64m", "--memory-swap", "-1", "--dns", "192.0.2.1", "--dns", "2001:db8::1"}, ""},
		{[]string{"-m", "-1"}, `invalid argument "-1" for "-m, --memory" flag: invalid size: '-1'`},
		{[]string{"--memory-swap", "1q"}, `invalid argument "1q" for "--memory-swap" flag: invalid size: '1q'`},
		{[]string{"--dns", "ns1"}, `invalid argument "ns1" for "--dns" flag: IP address is not correctly formatted: ns1`},
	} {
		var mem, swap string
		var dns []string
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		sizeVarP(fs, &mem, "memory", "m", "", false)
		sizeVarP(fs, &swap, "memory-swap", "", "", true)
		ipsVar(fs, &dns, "dns", "")
		err := fs.Parse(tc.args)
		if got := errString(err); got != tc.wantErr {
			t.Errorf("parse %q: error %q, want %q", tc.args, got, tc.wantErr)
		}
		if err == nil && (mem != "64m" || swap != "-1" || len(dns) != 2) {
			t.Errorf("parse %q: memory %q, swap %q, dns %q", tc.args, mem, swap, dns)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
