package spec

import (
	"encoding/json"
	"errors"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Decode decodes a config.json as encoding/json's Decoder decodes it into
// a specs.Spec (the same result, the same inputs refused: a syntax error,
// a value of the wrong kind or out of range, trailing data), without its
// cost on a first use (see decoder). Unknown fields are ignored.
func Decode(b []byte) (*specs.Spec, error) {
	// encoding/json checks the syntax (a RawMessage costs it no
	// reflection tables), so the walk below can trust it.
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	var s specs.Spec
	d := &decoder{b: raw}
	if err := decodeSpec(d, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// The functions below store one runtime-spec type each. Field names are
// matched in the form fold gives them: lower case.

func decodeSpec(d *decoder, s *specs.Spec) error {
	return d.fields("Spec", func(k string) (bool, error) {
		switch k {
		case "ociversion":
			return true, strOf(d, &s.Version)
		case "process":
			return true, ptr(d, &s.Process, decodeProcess)
		case "root":
			return true, ptr(d, &s.Root, decodeRoot)
		case "hostname":
			return true, strOf(d, &s.Hostname)
		case "domainname":
			return true, strOf(d, &s.Domainname)
		case "mounts":
			return true, slice(d, &s.Mounts, decodeMount)
		case "hooks":
			return true, ptr(d, &s.Hooks, decodeHooks)
		case "annotations":
			return true, mapOf(d, &s.Annotations, strOf)
		case "linux":
			return true, ptr(d, &s.Linux, decodeLinux)
		case "solaris":
			return true, viaJSON(d, &s.Solaris)
		case "windows":
			return true, viaJSON(d, &s.Windows)
		case "vm":
			return true, viaJSON(d, &s.VM)
		case "zos":
			return true, viaJSON(d, &s.ZOS)
		case "freebsd":
			return true, viaJSON(d, &s.FreeBSD)
		}
		return false, nil
	})
}

func decodeProcess(d *decoder, p *specs.Process) error {
	return d.fields("Process", func(k string) (bool, error) {
		switch k {
		case "terminal":
			return true, boolean(d, &p.Terminal)
		case "consolesize":
			return true, ptr(d, &p.ConsoleSize, decodeBox)
		case "user":
			return true, decodeUser(d, &p.User)
		case "args":
			return true, slice(d, &p.Args, strOf)
		case "commandline":
			return true, strOf(d, &p.CommandLine)
		case "env":
			return true, slice(d, &p.Env, strOf)
		case "cwd":
			return true, strOf(d, &p.Cwd)
		case "capabilities":
			return true, ptr(d, &p.Capabilities, decodeCapabilities)
		case "rlimits":
			return true, slice(d, &p.Rlimits, decodeRlimit)
		case "nonewprivileges":
			return true, boolean(d, &p.NoNewPrivileges)
		case "apparmorprofile":
			return true, strOf(d, &p.ApparmorProfile)
		case "oomscoreadj":
			return true, ptr(d, &p.OOMScoreAdj, intOf)
		case "scheduler":
			return true, ptr(d, &p.Scheduler, decodeScheduler)
		case "selinuxlabel":
			return true, strOf(d, &p.SelinuxLabel)
		case "iopriority":
			return true, ptr(d, &p.IOPriority, decodeIOPriority)
		case "execcpuaffinity":
			return true, ptr(d, &p.ExecCPUAffinity, decodeCPUAffinity)
		}
		return false, nil
	})
}

func decodeBox(d *decoder, b *specs.Box) error {
	return d.fields("Box", func(k string) (bool, error) {
		switch k {
		case "height":
			return true, uintOf(d, &b.Height)
		case "width":
			return true, uintOf(d, &b.Width)
		}
		return false, nil
	})
}

func decodeUser(d *decoder, u *specs.User) error {
	return d.fields("User", func(k string) (bool, error) {
		switch k {
		case "uid":
			return true, uintOf(d, &u.UID)
		case "gid":
			return true, uintOf(d, &u.GID)
		case "umask":
			return true, ptr(d, &u.Umask, uintOf)
		case "additionalgids":
			return true, slice(d, &u.AdditionalGids, uintOf)
		case "username":
			return true, strOf(d, &u.Username)
		}
		return false, nil
	})
}

func decodeCapabilities(d *decoder, c *specs.LinuxCapabilities) error {
	return d.fields("LinuxCapabilities", func(k string) (bool, error) {
		switch k {
		case "bounding":
			return true, slice(d, &c.Bounding, strOf)
		case "effective":
			return true, slice(d, &c.Effective, strOf)
		case "inheritable":
			return true, slice(d, &c.Inheritable, strOf)
		case "permitted":
			return true, slice(d, &c.Permitted, strOf)
		case "ambient":
			return true, slice(d, &c.Ambient, strOf)
		}
		return false, nil
	})
}

func decodeRlimit(d *decoder, r *specs.POSIXRlimit) error {
	return d.fields("POSIXRlimit", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, strOf(d, &r.Type)
		case "hard":
			return true, uintOf(d, &r.Hard)
		case "soft":
			return true, uintOf(d, &r.Soft)
		}
		return false, nil
	})
}

func decodeScheduler(d *decoder, s *specs.Scheduler) error {
	return d.fields("Scheduler", func(k string) (bool, error) {
		switch k {
		case "policy":
			return true, strOf(d, &s.Policy)
		case "nice":
			return true, intOf(d, &s.Nice)
		case "priority":
			return true, intOf(d, &s.Priority)
		case "flags":
			return true, slice(d, &s.Flags, strOf)
		case "runtime":
			return true, uintOf(d, &s.Runtime)
		case "deadline":
			return true, uintOf(d, &s.Deadline)
		case "period":
			return true, uintOf(d, &s.Period)
		}
		return false, nil
	})
}

func decodeIOPriority(d *decoder, p *specs.LinuxIOPriority) error {
	return d.fields("LinuxIOPriority", func(k string) (bool, error) {
		switch k {
		case "class":
			return true, strOf(d, &p.Class)
		case "priority":
			return true, intOf(d, &p.Priority)
		}
		return false, nil
	})
}

func decodeCPUAffinity(d *decoder, a *specs.CPUAffinity) error {
	return d.fields("CPUAffinity", func(k string) (bool, error) {
		switch k {
		case "initial":
			return true, strOf(d, &a.Initial)
		case "final":
			return true, strOf(d, &a.Final)
		}
		return false, nil
	})
}

func decodeRoot(d *decoder, r *specs.Root) error {
	return d.fields("Root", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, strOf(d, &r.Path)
		case "readonly":
			return true, boolean(d, &r.Readonly)
		}
		return false, nil
	})
}

func decodeMount(d *decoder, m *specs.Mount) error {
	return d.fields("Mount", func(k string) (bool, error) {
		switch k {
		case "destination":
			return true, strOf(d, &m.Destination)
		case "type":
			return true, strOf(d, &m.Type)
		case "source":
			return true, strOf(d, &m.Source)
		case "options":
			return true, slice(d, &m.Options, strOf)
		case "uidmappings":
			return true, slice(d, &m.UIDMappings, decodeIDMapping)
		case "gidmappings":
			return true, slice(d, &m.GIDMappings, decodeIDMapping)
		}
		return false, nil
	})
}

func decodeIDMapping(d *decoder, m *specs.LinuxIDMapping) error {
	return d.fields("LinuxIDMapping", func(k string) (bool, error) {
		switch k {
		case "containerid":
			return true, uintOf(d, &m.ContainerID)
		case "hostid":
			return true, uintOf(d, &m.HostID)
		case "size":
			return true, uintOf(d, &m.Size)
		}
		return false, nil
	})
}

func decodeHooks(d *decoder, h *specs.Hooks) error {
	return d.fields("Hooks", func(k string) (bool, error) {
		switch k {
		case "prestart":
			//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
			return true, slice(d, &h.Prestart, decodeHook)
		case "createruntime":
			return true, slice(d, &h.CreateRuntime, decodeHook)
		case "createcontainer":
			return true, slice(d, &h.CreateContainer, decodeHook)
		case "startcontainer":
			return true, slice(d, &h.StartContainer, decodeHook)
		case "poststart":
			return true, slice(d, &h.Poststart, decodeHook)
		case "poststop":
			return true, slice(d, &h.Poststop, decodeHook)
		}
		return false, nil
	})
}

func decodeHook(d *decoder, h *specs.Hook) error {
	return d.fields("Hook", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, strOf(d, &h.Path)
		case "args":
			return true, slice(d, &h.Args, strOf)
		case "env":
			return true, slice(d, &h.Env, strOf)
		case "timeout":
			return true, ptr(d, &h.Timeout, intOf)
		}
		return false, nil
	})
}

func decodeLinux(d *decoder, l *specs.Linux) error {
	return d.fields("Linux", func(k string) (bool, error) {
		switch k {
		case "uidmappings":
			return true, slice(d, &l.UIDMappings, decodeIDMapping)
		case "gidmappings":
			return true, slice(d, &l.GIDMappings, decodeIDMapping)
		case "sysctl":
			return true, mapOf(d, &l.Sysctl, strOf)
		case "resources":
			return true, ptr(d, &l.Resources, decodeResources)
		case "cgroupspath":
			return true, strOf(d, &l.CgroupsPath)
		case "namespaces":
			return true, slice(d, &l.Namespaces, decodeNamespace)
		case "devices":
			return true, slice(d, &l.Devices, decodeDevice)
		case "netdevices":
			return true, mapOf(d, &l.NetDevices, decodeNetDevice)
		case "seccomp":
			return true, ptr(d, &l.Seccomp, decodeSeccomp)
		case "rootfspropagation":
			return true, strOf(d, &l.RootfsPropagation)
		case "maskedpaths":
			return true, slice(d, &l.MaskedPaths, strOf)
		case "readonlypaths":
			return true, slice(d, &l.ReadonlyPaths, strOf)
		case "mountlabel":
			return true, strOf(d, &l.MountLabel)
		case "intelrdt":
			return true, ptr(d, &l.IntelRdt, decodeIntelRdt)
		case "memorypolicy":
			return true, ptr(d, &l.MemoryPolicy, decodeMemoryPolicy)
		case "personality":
			return true, ptr(d, &l.Personality, decodePersonality)
		case "timeoffsets":
			return true, mapOf(d, &l.TimeOffsets, decodeTimeOffset)
		}
		return false, nil
	})
}

func decodeNamespace(d *decoder, n *specs.LinuxNamespace) error {
	return d.fields("LinuxNamespace", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, strOf(d, &n.Type)
		case "path":
			return true, strOf(d, &n.Path)
		}
		return false, nil
	})
}

func decodeDevice(d *decoder, v *specs.LinuxDevice) error {
	return d.fields("LinuxDevice", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, strOf(d, &v.Path)
		case "type":
			return true, strOf(d, &v.Type)
		case "major":
			return true, intOf(d, &v.Major)
		case "minor":
			return true, intOf(d, &v.Minor)
		case "filemode":
			return true, ptr(d, &v.FileMode, uintOf)
		case "uid":
			return true, ptr(d, &v.UID, uintOf)
		case "gid":
			return true, ptr(d, &v.GID, uintOf)
		}
		return false, nil
	})
}

func decodeNetDevice(d *decoder, n *specs.LinuxNetDevice) error {
	return d.fields("LinuxNetDevice", func(k string) (bool, error) {
		if k == "name" {
			return true, strOf(d, &n.Name)
		}
		return false, nil
	})
}

func decodeSeccomp(d *decoder, s *specs.LinuxSeccomp) error {
	return d.fields("LinuxSeccomp", func(k string) (bool, error) {
		switch k {
		case "defaultaction":
			return true, strOf(d, &s.DefaultAction)
		case "defaulterrnoret":
			return true, ptr(d, &s.DefaultErrnoRet, uintOf)
		case "architectures":
			return true, slice(d, &s.Architectures, strOf)
		case "flags":
			return true, slice(d, &s.Flags, strOf)
		case "listenerpath":
			return true, strOf(d, &s.ListenerPath)
		case "listenermetadata":
			return true, strOf(d, &s.ListenerMetadata)
		case "syscalls":
			return true, slice(d, &s.Syscalls, decodeSyscall)
		}
		return false, nil
	})
}

func decodeSyscall(d *decoder, s *specs.LinuxSyscall) error {
	return d.fields("LinuxSyscall", func(k string) (bool, error) {
		switch k {
		case "names":
			return true, slice(d, &s.Names, strOf)
		case "action":
			return true, strOf(d, &s.Action)
		case "errnoret":
			return true, ptr(d, &s.ErrnoRet, uintOf)
		case "args":
			return true, slice(d, &s.Args, decodeSeccompArg)
		}
		return false, nil
	})
}

func decodeSeccompArg(d *decoder, a *specs.LinuxSeccompArg) error {
	return d.fields("LinuxSeccompArg", func(k string) (bool, error) {
		switch k {
		case "index":
			return true, uintOf(d, &a.Index)
		case "value":
			return true, uintOf(d, &a.Value)
		case "valuetwo":
			return true, uintOf(d, &a.ValueTwo)
		case "op":
			return true, strOf(d, &a.Op)
		}
		return false, nil
	})
}

func decodeIntelRdt(d *decoder, r *specs.LinuxIntelRdt) error {
	return d.fields("LinuxIntelRdt", func(k string) (bool, error) {
		switch k {
		case "closid":
			return true, strOf(d, &r.ClosID)
		case "schemata":
			return true, slice(d, &r.Schemata, strOf)
		case "l3cacheschema":
			return true, strOf(d, &r.L3CacheSchema)
		case "membwschema":
			return true, strOf(d, &r.MemBwSchema)
		case "enablemonitoring":
			return true, boolean(d, &r.EnableMonitoring)
		}
		return false, nil
	})
}

func decodeMemoryPolicy(d *decoder, p *specs.LinuxMemoryPolicy) error {
	return d.fields("LinuxMemoryPolicy", func(k string) (bool, error) {
		switch k {
		case "mode":
			return true, strOf(d, &p.Mode)
		case "nodes":
			return true, strOf(d, &p.Nodes)
		case "flags":
			return true, slice(d, &p.Flags, strOf)
		}
		return false, nil
	})
}

func decodePersonality(d *decoder, p *specs.LinuxPersonality) error {
	return d.fields("LinuxPersonality", func(k string) (bool, error) {
		switch k {
		case "domain":
			return true, strOf(d, &p.Domain)
		case "flags":
			return true, slice(d, &p.Flags, strOf)
		}
		return false, nil
	})
}

func decodeTimeOffset(d *decoder, t *specs.LinuxTimeOffset) error {
	return d.fields("LinuxTimeOffset", func(k string) (bool, error) {
		switch k {
		case "secs":
			return true, intOf(d, &t.Secs)
		case "nanosecs":
			return true, uintOf(d, &t.Nanosecs)
		}
		return false, nil
	})
}
