package seccomp

import (
	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerCaps is Docker's default capability set (moby oci/caps/defaults.go).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func allowed(t *testing.T, p *specs.LinuxSeccomp, name string) bool {
	t.Helper()
	for _, s := range p.Syscalls {
		if s.Action == specs.ActAllow && len(s.Args) == 0 && slices.Contains(s.Names, name) {
			return true
		}
	}
	return false
}

func TestDefaultProfileCapabilities(t *testing.T) {
	plain, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dockerprofile.Default(append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"))
	if err != nil {
		t.Fatal(err)
	}
	if plain.DefaultAction != specs.ActErrno {
		t.Errorf("DefaultAction = %s, want SCMP_ACT_ERRNO", plain.DefaultAction)
	}
	for _, name := range []string{"mount", "unshare", "setns", "umount2", "clone3"} {
		if allowed(t, plain, name) {
			t.Errorf("%s allowed without CAP_SYS_ADMIN", name)
		}
		if !allowed(t, admin, name) {
			t.Errorf("%s not allowed with CAP_SYS_ADMIN", name)
		}
	}
	if !allowed(t, plain, "chroot") {
		t.Error("chroot not allowed with CAP_SYS_CHROOT")
	}
	if allowed(t, plain, "kcmp") || !allowed(t, admin, "kcmp") {
		t.Errorf("kcmp allowed: %v without CAP_SYS_PTRACE, %v with it; want false, true", allowed(t, plain, "kcmp"), allowed(t, admin, "kcmp"))
	}
	if allowed(t, plain, "keyctl") || allowed(t, admin, "keyctl") {
		t.Error("keyctl allowed")
	}
}

func TestDefaultProfileCompiles(t *testing.T) {
	p, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	for _, native := range []archID{archX8664, archAARCH64} {
		prog, err := compile(p, native)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %d instructions, unknown %v, ignored arches %v", native, len(prog.Filter), prog.UnknownSyscalls, prog.IgnoredArches)
		// The search must keep every call short: bound the worst case over
		// all syscall numbers this ABI has (arguments all zero).
		worst := 0
		for _, e := range sysTable {
			nr := e.nr[native]
			if nr < 0 {
				continue
			}
			_, steps, err := Evaluate(prog.Filter, seccompData{Nr: uint32(nr), Arch: arches[native].audit})
			if err != nil {
				t.Fatal(err)
			}
			worst = max(worst, steps)
		}
		t.Logf("%v: worst path %d instructions", native, worst)
	}
}

func BenchmarkCompileDockerDefault(b *testing.B) {
	p, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}
