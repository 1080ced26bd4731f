package engine

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want v1.Platform
		bad  bool
	}{
		{in: "linux/amd64", want: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "linux/arm64/v8", want: v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{in: "Linux/AArch64", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "linux/x86_64/v3", want: v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}},
		{in: "arm64", want: v1.Platform{OS: "linux", Architecture: "arm64"}},
		{in: "", bad: true},
		{in: "linux", bad: true},
		{in: "linux/", bad: true},
		{in: "linux/amd64/", bad: true},
		{in: "linux/amd64/v3/x", bad: true},
		{in: "windows/amd64", bad: true},
		{in: "linux/z80", bad: true},
	} {
		got, err := ParsePlatform(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParsePlatform(%q) = %v, %v, want an ErrInvalid", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want.String() {
			t.Errorf("ParsePlatform(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPlatformMatches(t *testing.T) {
	p := func(s string) v1.Platform {
		t.Helper()
		pl, err := ParsePlatform(s)
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	for _, tc := range []struct {
		img, want string
		ok        bool
	}{
		{"linux/amd64", "linux/amd64", true},
		{"linux/amd64", "linux/amd64/v3", true},
		{"linux/amd64/v2", "linux/amd64/v3", true},
		{"linux/amd64/v4", "linux/amd64/v3", false},
		{"linux/amd64/v3", "linux/amd64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm/v6", "linux/arm/v7", true},
		{"linux/arm/v7", "linux/arm/v6", false},
		{"linux/arm64", "linux/amd64", false},
		{"linux/amd64", "linux/arm64", false},
		{"linux/s390x", "linux/s390x", true},
	} {
		if got := PlatformMatches(p(tc.img), p(tc.want)); got != tc.ok {
			t.Errorf("PlatformMatches(%s, %s) = %v, want %v", tc.img, tc.want, got, tc.ok)
		}
	}
	if h := HostPlatform(); !PlatformMatches(p("linux/"+h.Architecture), h) {
		t.Errorf("an image for the host's architecture without a variant does not match the host %s", h)
	}
}
