package landlock

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    *Ruleset
		wantErr bool
	}{
		{"ro=/usr,/bin;rw=/tmp", &Ruleset{ReadOnly: []string{"/usr", "/bin"}, ReadWrite: []string{"/tmp"}}, false},
		{" rw=/ ; ", &Ruleset{ReadWrite: []string{"/"}}, false},
		{"ro=usr", nil, true},
		{"wx=/tmp", nil, true},
		{"/tmp", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
