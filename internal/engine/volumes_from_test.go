package engine

import (
	"errors"
	"testing"
)

func TestParseVolumesFrom(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ref     string
		ro, bad bool
	}{
		{in: "src", ref: "src"},
		{in: "src:rw", ref: "src"},
		{in: "src:ro", ref: "src", ro: true},
		{in: "src:ro,z", ref: "src", ro: true},
		{in: "src:Z", ref: "src"},
		{in: "", bad: true},
		{in: ":ro", bad: true},
		{in: "src:", ref: "src"},
		{in: "src:rx", bad: true},
		{in: "src:ro,rw", bad: true},
		{in: "src:z,Z", bad: true},
		{in: "src:rprivate", bad: true},
		{in: "src:nocopy", bad: true},
	} {
		ref, ro, err := parseVolumesFrom(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("parseVolumesFrom(%q) = %q, %v, %v, want an ErrInvalid", tc.in, ref, ro, err)
			}
			continue
		}
		if err != nil || ref != tc.ref || ro != tc.ro {
			t.Errorf("parseVolumesFrom(%q) = %q, %v, %v, want %q, %v", tc.in, ref, ro, err, tc.ref, tc.ro)
		}
	}
}
