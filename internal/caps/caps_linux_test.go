package caps

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		name    string
		want    int
		wantErr bool
	}{
		{"CAP_CHOWN", 0, false},
		{"cap_sys_admin", 21, false},
		{"NET_RAW", 13, false},
		{"CAP_CHECKPOINT_RESTORE", 40, false},
		{"CAP_TEST", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := Number(tt.name)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Number(%q) = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
		if tt.wantErr && !errors.Is(err, ErrUnknown) {
			t.Errorf("Number(%q) error %v is not ErrUnknown", tt.name, err)
		}
	}
}

func TestParse(t *testing.T) {
	s, warn, err := Parse(&specs.LinuxCapabilities{
		Bounding:  []string{"CAP_CHOWN", "CAP_KILL"},
		Effective: []string{"CAP_KILL"},
		Ambient:   []string{"CAP_NET_BIND_SERVICE"},
	})
	if err != nil || len(warn) != 0 {
		t.Fatalf("Parse: %v, warnings %v", err, warn)
	}
	if s.Bounding != 1<<0|1<<5 || s.Effective != 1<<5 || s.Ambient != 1<<10 || s.Permitted != 0 {
		t.Errorf("Parse = %+v", s)
	}
	if _, _, err := Parse(&specs.LinuxCapabilities{Permitted: []string{"CAP_TEST"}}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Parse(CAP_TEST) error = %v, want ErrUnknown", err)
	}
}
