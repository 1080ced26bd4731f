package spec

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/caps"
	"github.com/pelagos-go/pelagos/internal/landlock"
	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// ErrNotSupported marks a valid config field this version of pelagos
// cannot honour yet. It is refused rather than ignored.
var ErrNotSupported = errors.New("not supported yet")

// ipcSysctls are the kernel.* sysctls scoped to an IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// CheckHost checks what validity alone does not: that each sysctl is
// confined to a namespace the container owns (as runc checks), that
// capability names exist, and that nothing the config asks for is beyond
// what this version supports.
func CheckHost(s *specs.Spec) error {
	checks := []func(*specs.Spec) error{checkSysctls, checkCaps, checkUnsupported, checkHostname, checkLandlock}
	for _, check := range checks {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func checkSysctls(s *specs.Spec) error {
	for key := range s.Linux.Sysctl {
		var need specs.LinuxNamespaceType
		switch {
		case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
			need = specs.IPCNamespace
		case strings.HasPrefix(key, "net."):
			need = specs.NetworkNamespace
		case key == "kernel.hostname" || key == "kernel.domainname":
			need = specs.UTSNamespace
		default:
			return invalid("linux.sysctl %q is not confined to a namespace the container owns: refusing to change it for the whole host", key)
		}
		if !hasNS(s, need) {
			return invalid("linux.sysctl %q needs a %s namespace", key, need)
		}
		if strings.Contains(key, "/") || strings.Contains(key, "..") {
			return invalid("linux.sysctl %q is not a sysctl name", key)
		}
	}
	return nil
}

func checkCaps(s *specs.Spec) error {
	if s.Process == nil {
		return nil
	}
	if _, _, err := caps.Parse(s.Process.Capabilities); err != nil {
		return fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	return nil
}

func checkHostname(s *specs.Spec) error {
	if (s.Hostname != "" || s.Domainname != "") && !hasNS(s, specs.UTSNamespace) {
		return invalid("hostname/domainname need a uts namespace")
	}
	return nil
}

func checkUnsupported(s *specs.Spec) error {
	l := s.Linux
	if l.IntelRdt != nil {
		return fmt.Errorf("linux.intelRdt: %w", ErrNotSupported)
	}
	for i, m := range s.Mounts {
		o := mountopt.Parse(m.Options)
		mapped := len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
		if !o.IDMap && !mapped {
			continue
		}
		if (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0) {
			return invalid("mounts[%d] %s: uidMappings and gidMappings go together", i, m.Destination)
		}
		if !mapped && !hasNS(s, specs.UserNamespace) {
			return invalid("mounts[%d] %s: idmap without uidMappings/gidMappings needs a user namespace to take the mapping from", i, m.Destination)
		}
		if !o.IsBind() && m.Type != "bind" {
			return invalid("mounts[%d] %s: idmapped mounts are bind mounts here (add bind or rbind)", i, m.Destination)
		}
	}
	return nil
}

// checkLandlock validates the landlock annotation and refuses it on a
// kernel without Landlock rather than run the process unconfined.
func checkLandlock(s *specs.Spec) error {
	v, ok := s.Annotations[landlock.Annotation]
	if !ok {
		return nil
	}
	if _, err := landlock.Parse(v); err != nil {
		return fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	if _, err := landlock.ABI(); err != nil {
		return fmt.Errorf("annotation %s: %w", landlock.Annotation, err)
	}
	return nil
}
