package engine

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/cpu"

	"github.com/pelagos-go/pelagos/internal/image/store"
)

// HostPlatform is the platform this host runs, as docker's daemon
// detects it: on amd64 with the CPU's micro-architecture level
// (linux/amd64/v3), on arm64 v8, on arm v7.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "amd64":
		p.Variant = amd64Level()
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
	}
	return p
}

// amd64Level is the x86-64 psABI micro-architecture level of this CPU.
func amd64Level() string {
	x := cpu.X86
	v2 := x.HasCX16 && x.HasPOPCNT && x.HasSSE3 && x.HasSSSE3 && x.HasSSE41 && x.HasSSE42
	v3 := v2 && x.HasAVX && x.HasAVX2 && x.HasBMI1 && x.HasBMI2 && x.HasF16C && x.HasFMA &&
		x.HasLZCNT && x.HasMOVBE && x.HasOSXSAVE
	v4 := v3 && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512CD && x.HasAVX512DQ && x.HasAVX512VL
	switch {
	case v4:
		return "v4"
	case v3:
		return "v3"
	case v2:
		return "v2"
	}
	return "v1"
}

// ParsePlatform parses --platform: os/arch[/variant], or an architecture
// alone (linux is implied), with the usual aliases (x86_64, aarch64).
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) == 1 && knownArch(normalizeArch(parts[0])) {
		parts = []string{"linux", parts[0]}
	}
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return v1.Platform{}, invalid("invalid platform %q: want os/arch[/variant]", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: normalizeArch(parts[1])}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.OS != "linux" {
		return v1.Platform{}, invalid("invalid platform %q: operating system %q is not supported (linux is)", s, p.OS)
	}
	if !knownArch(p.Architecture) {
		return v1.Platform{}, invalid("invalid platform %q: unknown architecture %q", s, parts[1])
	}
	return p, nil
}

func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i386", "i686":
		return "386"
	case "armhf", "armel":
		return "arm"
	}
	return a
}

func knownArch(a string) bool {
	switch a {
	case "amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64", "mips64le", "mips64", "loong64", "wasm":
		return true
	}
	return false
}

// PlatformMatches reports whether an image built for img runs where want
// is asked for, as containerd's matcher decides: same OS and
// architecture; a variant level up to want's (an amd64/v2 image on a v3
// host, arm/v6 on v7; no variant is the base level: amd64 v1, arm64 v8,
// arm v7); want without a variant takes any.
func PlatformMatches(img, want v1.Platform) bool {
	if img.OS != want.OS || normalizeArch(img.Architecture) != normalizeArch(want.Architecture) {
		return false
	}
	if want.Variant == "" {
		return true
	}
	arch := normalizeArch(want.Architecture)
	il, iok := variantLevel(arch, img.Variant)
	wl, wok := variantLevel(arch, want.Variant)
	if iok && wok {
		return il <= wl
	}
	return img.Variant == want.Variant
}

// variantLevel is the number in a variant (v3 → 3), the architecture's
// base level when there is none.
func variantLevel(arch, variant string) (int, bool) {
	if variant == "" {
		switch arch {
		case "amd64":
			return 1, true
		case "arm64":
			return 8, true
		case "arm":
			return 7, true
		}
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(variant, "v"))
	if !strings.HasPrefix(variant, "v") || err != nil {
		return 0, false
	}
	return n, true
}

// ImagePlatform is the platform a stored image is for, from its config
// (a stored image is always one platform's).
func ImagePlatform(st *store.Store, img store.Image) (v1.Platform, error) {
	b, err := st.ReadBlob(img.ID)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	return configPlatform(cf), nil
}

func configPlatform(cf *v1.ConfigFile) v1.Platform {
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
}

// PlatformMismatch is docker's error for a local image of another
// platform than --platform asked for.
func PlatformMismatch(ref string, want, got v1.Platform) error {
	return errorf(ErrInvalid, "image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", ref, want.String(), got.String())
}

// checkPlatform applies --platform to the image a create uses: with one,
// the image must match it; without, an image of another platform than
// the host's runs with docker's warning.
func (e *Engine) checkPlatform(ref string, cf *v1.ConfigFile, want *v1.Platform) error {
	got := configPlatform(cf)
	if want != nil {
		if !PlatformMatches(got, *want) {
			return PlatformMismatch(ref, *want, got)
		}
		return nil
	}
	if host := HostPlatform(); !PlatformMatches(got, host) {
		e.warn(fmt.Sprintf("The requested image's platform (%s) does not match the detected host platform (%s) and no specific platform was requested", got.String(), host.String()))
	}
	return nil
}
