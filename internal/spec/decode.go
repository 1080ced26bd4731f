package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/jsondec"
)

// Decode decodes a config.json as encoding/json's Decoder decodes it into
// a specs.Spec (the same result, the same inputs refused: a syntax error,
// a value of the wrong kind or out of range, trailing data), without its
// cost on a first use (see package jsondec). Unknown fields are ignored.
func Decode(b []byte) (*specs.Spec, error) {
	d, err := jsondec.New(b)
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := decodeSpec(d, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// The functions below store one runtime-spec type each. Field names are
// matched in the form fold gives them: lower case.

func decodeSpec(d *jsondec.Decoder, s *specs.Spec) error {
	return d.Fields("Spec", func(k string) (bool, error) {
		switch k {
		case "ociversion":
			return true, jsondec.String(d, &s.Version)
		case "process":
			return true, jsondec.Ptr(d, &s.Process, decodeProcess)
		case "root":
			return true, jsondec.Ptr(d, &s.Root, decodeRoot)
		case "hostname":
			return true, jsondec.String(d, &s.Hostname)
		case "domainname":
			return true, jsondec.String(d, &s.Domainname)
		case "mounts":
			return true, jsondec.Slice(d, &s.Mounts, decodeMount)
		case "hooks":
			return true, jsondec.Ptr(d, &s.Hooks, decodeHooks)
		case "annotations":
			return true, jsondec.Map(d, &s.Annotations, jsondec.String)
		case "linux":
			return true, jsondec.Ptr(d, &s.Linux, decodeLinux)
		case "solaris":
			return true, jsondec.Std(d, &s.Solaris)
		case "windows":
			return true, jsondec.Std(d, &s.Windows)
		case "vm":
			return true, jsondec.Std(d, &s.VM)
		case "zos":
			return true, jsondec.Std(d, &s.ZOS)
		case "freebsd":
			return true, jsondec.Std(d, &s.FreeBSD)
		}
		return false, nil
	})
}

func decodeProcess(d *jsondec.Decoder, p *specs.Process) error {
	return d.Fields("Process", func(k string) (bool, error) {
		switch k {
		case "terminal":
			return true, jsondec.Bool(d, &p.Terminal)
		case "consolesize":
			return true, jsondec.Ptr(d, &p.ConsoleSize, decodeBox)
		case "user":
			return true, decodeUser(d, &p.User)
		case "args":
			return true, jsondec.Slice(d, &p.Args, jsondec.String)
		case "commandline":
			return true, jsondec.String(d, &p.CommandLine)
		case "env":
			return true, jsondec.Slice(d, &p.Env, jsondec.String)
		case "cwd":
			return true, jsondec.String(d, &p.Cwd)
		case "capabilities":
			return true, jsondec.Ptr(d, &p.Capabilities, decodeCapabilities)
		case "rlimits":
			return true, jsondec.Slice(d, &p.Rlimits, decodeRlimit)
		case "nonewprivileges":
			return true, jsondec.Bool(d, &p.NoNewPrivileges)
		case "apparmorprofile":
			return true, jsondec.String(d, &p.ApparmorProfile)
		case "oomscoreadj":
			return true, jsondec.Ptr(d, &p.OOMScoreAdj, jsondec.Int)
		case "scheduler":
			return true, jsondec.Ptr(d, &p.Scheduler, decodeScheduler)
		case "selinuxlabel":
			return true, jsondec.String(d, &p.SelinuxLabel)
		case "iopriority":
			return true, jsondec.Ptr(d, &p.IOPriority, decodeIOPriority)
		case "execcpuaffinity":
			return true, jsondec.Ptr(d, &p.ExecCPUAffinity, decodeCPUAffinity)
		}
		return false, nil
	})
}

func decodeBox(d *jsondec.Decoder, b *specs.Box) error {
	return d.Fields("Box", func(k string) (bool, error) {
		switch k {
		case "height":
			return true, jsondec.Uint(d, &b.Height)
		case "width":
			return true, jsondec.Uint(d, &b.Width)
		}
		return false, nil
	})
}

func decodeUser(d *jsondec.Decoder, u *specs.User) error {
	return d.Fields("User", func(k string) (bool, error) {
		switch k {
		case "uid":
			return true, jsondec.Uint(d, &u.UID)
		case "gid":
			return true, jsondec.Uint(d, &u.GID)
		case "umask":
			return true, jsondec.Ptr(d, &u.Umask, jsondec.Uint)
		case "additionalgids":
			return true, jsondec.Slice(d, &u.AdditionalGids, jsondec.Uint)
		case "username":
			return true, jsondec.String(d, &u.Username)
		}
		return false, nil
	})
}

func decodeCapabilities(d *jsondec.Decoder, c *specs.LinuxCapabilities) error {
	return d.Fields("LinuxCapabilities", func(k string) (bool, error) {
		switch k {
		case "bounding":
			return true, jsondec.Slice(d, &c.Bounding, jsondec.String)
		case "effective":
			return true, jsondec.Slice(d, &c.Effective, jsondec.String)
		case "inheritable":
			return true, jsondec.Slice(d, &c.Inheritable, jsondec.String)
		case "permitted":
			return true, jsondec.Slice(d, &c.Permitted, jsondec.String)
		case "ambient":
			return true, jsondec.Slice(d, &c.Ambient, jsondec.String)
		}
		return false, nil
	})
}

func decodeRlimit(d *jsondec.Decoder, r *specs.POSIXRlimit) error {
	return d.Fields("POSIXRlimit", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &r.Type)
		case "hard":
			return true, jsondec.Uint(d, &r.Hard)
		case "soft":
			return true, jsondec.Uint(d, &r.Soft)
		}
		return false, nil
	})
}

func decodeScheduler(d *jsondec.Decoder, s *specs.Scheduler) error {
	return d.Fields("Scheduler", func(k string) (bool, error) {
		switch k {
		case "policy":
			return true, jsondec.String(d, &s.Policy)
		case "nice":
			return true, jsondec.Int(d, &s.Nice)
		case "priority":
			return true, jsondec.Int(d, &s.Priority)
		case "flags":
			return true, jsondec.Slice(d, &s.Flags, jsondec.String)
		case "runtime":
			return true, jsondec.Uint(d, &s.Runtime)
		case "deadline":
			return true, jsondec.Uint(d, &s.Deadline)
		case "period":
			return true, jsondec.Uint(d, &s.Period)
		}
		return false, nil
	})
}

func decodeIOPriority(d *jsondec.Decoder, p *specs.LinuxIOPriority) error {
	return d.Fields("LinuxIOPriority", func(k string) (bool, error) {
		switch k {
		case "class":
			return true, jsondec.String(d, &p.Class)
		case "priority":
			return true, jsondec.Int(d, &p.Priority)
		}
		return false, nil
	})
}

func decodeCPUAffinity(d *jsondec.Decoder, a *specs.CPUAffinity) error {
	return d.Fields("CPUAffinity", func(k string) (bool, error) {
		switch k {
		case "initial":
			return true, jsondec.String(d, &a.Initial)
		case "final":
			return true, jsondec.String(d, &a.Final)
		}
		return false, nil
	})
}

func decodeRoot(d *jsondec.Decoder, r *specs.Root) error {
	return d.Fields("Root", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, jsondec.String(d, &r.Path)
		case "readonly":
			return true, jsondec.Bool(d, &r.Readonly)
		}
		return false, nil
	})
}

func decodeMount(d *jsondec.Decoder, m *specs.Mount) error {
	return d.Fields("Mount", func(k string) (bool, error) {
		switch k {
		case "destination":
			return true, jsondec.String(d, &m.Destination)
		case "type":
			return true, jsondec.String(d, &m.Type)
		case "source":
			return true, jsondec.String(d, &m.Source)
		case "options":
			return true, jsondec.Slice(d, &m.Options, jsondec.String)
		case "uidmappings":
			return true, jsondec.Slice(d, &m.UIDMappings, decodeIDMapping)
		case "gidmappings":
			return true, jsondec.Slice(d, &m.GIDMappings, decodeIDMapping)
		}
		return false, nil
	})
}

func decodeIDMapping(d *jsondec.Decoder, m *specs.LinuxIDMapping) error {
	return d.Fields("LinuxIDMapping", func(k string) (bool, error) {
		switch k {
		case "containerid":
			return true, jsondec.Uint(d, &m.ContainerID)
		case "hostid":
			return true, jsondec.Uint(d, &m.HostID)
		case "size":
			return true, jsondec.Uint(d, &m.Size)
		}
		return false, nil
	})
}

func decodeHooks(d *jsondec.Decoder, h *specs.Hooks) error {
	return d.Fields("Hooks", func(k string) (bool, error) {
		switch k {
		case "prestart":
			//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
			return true, jsondec.Slice(d, &h.Prestart, decodeHook)
		case "createruntime":
			return true, jsondec.Slice(d, &h.CreateRuntime, decodeHook)
		case "createcontainer":
			return true, jsondec.Slice(d, &h.CreateContainer, decodeHook)
		case "startcontainer":
			return true, jsondec.Slice(d, &h.StartContainer, decodeHook)
		case "poststart":
			return true, jsondec.Slice(d, &h.Poststart, decodeHook)
		case "poststop":
			return true, jsondec.Slice(d, &h.Poststop, decodeHook)
		}
		return false, nil
	})
}

func decodeHook(d *jsondec.Decoder, h *specs.Hook) error {
	return d.Fields("Hook", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, jsondec.String(d, &h.Path)
		case "args":
			return true, jsondec.Slice(d, &h.Args, jsondec.String)
		case "env":
			return true, jsondec.Slice(d, &h.Env, jsondec.String)
		case "timeout":
			return true, jsondec.Ptr(d, &h.Timeout, jsondec.Int)
		}
		return false, nil
	})
}

func decodeLinux(d *jsondec.Decoder, l *specs.Linux) error {
	return d.Fields("Linux", func(k string) (bool, error) {
		switch k {
		case "uidmappings":
			return true, jsondec.Slice(d, &l.UIDMappings, decodeIDMapping)
		case "gidmappings":
			return true, jsondec.Slice(d, &l.GIDMappings, decodeIDMapping)
		case "sysctl":
			return true, jsondec.Map(d, &l.Sysctl, jsondec.String)
		case "resources":
			return true, jsondec.Ptr(d, &l.Resources, decodeResources)
		case "cgroupspath":
			return true, jsondec.String(d, &l.CgroupsPath)
		case "namespaces":
			return true, jsondec.Slice(d, &l.Namespaces, decodeNamespace)
		case "devices":
			return true, jsondec.Slice(d, &l.Devices, decodeDevice)
		case "netdevices":
			return true, jsondec.Map(d, &l.NetDevices, decodeNetDevice)
		case "seccomp":
			return true, jsondec.Ptr(d, &l.Seccomp, decodeSeccomp)
		case "rootfspropagation":
			return true, jsondec.String(d, &l.RootfsPropagation)
		case "maskedpaths":
			return true, jsondec.Slice(d, &l.MaskedPaths, jsondec.String)
		case "readonlypaths":
			return true, jsondec.Slice(d, &l.ReadonlyPaths, jsondec.String)
		case "mountlabel":
			return true, jsondec.String(d, &l.MountLabel)
		case "intelrdt":
			return true, jsondec.Ptr(d, &l.IntelRdt, decodeIntelRdt)
		case "memorypolicy":
			return true, jsondec.Ptr(d, &l.MemoryPolicy, decodeMemoryPolicy)
		case "personality":
			return true, jsondec.Ptr(d, &l.Personality, decodePersonality)
		case "timeoffsets":
			return true, jsondec.Map(d, &l.TimeOffsets, decodeTimeOffset)
		}
		return false, nil
	})
}

func decodeNamespace(d *jsondec.Decoder, n *specs.LinuxNamespace) error {
	return d.Fields("LinuxNamespace", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &n.Type)
		case "path":
			return true, jsondec.String(d, &n.Path)
		}
		return false, nil
	})
}

func decodeDevice(d *jsondec.Decoder, v *specs.LinuxDevice) error {
	return d.Fields("LinuxDevice", func(k string) (bool, error) {
		switch k {
		case "path":
			return true, jsondec.String(d, &v.Path)
		case "type":
			return true, jsondec.String(d, &v.Type)
		case "major":
			return true, jsondec.Int(d, &v.Major)
		case "minor":
			return true, jsondec.Int(d, &v.Minor)
		case "filemode":
			return true, jsondec.Ptr(d, &v.FileMode, jsondec.Uint)
		case "uid":
			return true, jsondec.Ptr(d, &v.UID, jsondec.Uint)
		case "gid":
			return true, jsondec.Ptr(d, &v.GID, jsondec.Uint)
		}
		return false, nil
	})
}

func decodeNetDevice(d *jsondec.Decoder, n *specs.LinuxNetDevice) error {
	return d.Fields("LinuxNetDevice", func(k string) (bool, error) {
		if k == "name" {
			return true, jsondec.String(d, &n.Name)
		}
		return false, nil
	})
}

func decodeSeccomp(d *jsondec.Decoder, s *specs.LinuxSeccomp) error {
	return d.Fields("LinuxSeccomp", func(k string) (bool, error) {
		switch k {
		case "defaultaction":
			return true, jsondec.String(d, &s.DefaultAction)
		case "defaulterrnoret":
			return true, jsondec.Ptr(d, &s.DefaultErrnoRet, jsondec.Uint)
		case "architectures":
			return true, jsondec.Slice(d, &s.Architectures, jsondec.String)
		case "flags":
			return true, jsondec.Slice(d, &s.Flags, jsondec.String)
		case "listenerpath":
			return true, jsondec.String(d, &s.ListenerPath)
		case "listenermetadata":
			return true, jsondec.String(d, &s.ListenerMetadata)
		case "syscalls":
			return true, jsondec.Slice(d, &s.Syscalls, decodeSyscall)
		}
		return false, nil
	})
}

func decodeSyscall(d *jsondec.Decoder, s *specs.LinuxSyscall) error {
	return d.Fields("LinuxSyscall", func(k string) (bool, error) {
		switch k {
		case "names":
			return true, jsondec.Slice(d, &s.Names, jsondec.String)
		case "action":
			return true, jsondec.String(d, &s.Action)
		case "errnoret":
			return true, jsondec.Ptr(d, &s.ErrnoRet, jsondec.Uint)
		case "args":
			return true, jsondec.Slice(d, &s.Args, decodeSeccompArg)
		}
		return false, nil
	})
}

func decodeSeccompArg(d *jsondec.Decoder, a *specs.LinuxSeccompArg) error {
	return d.Fields("LinuxSeccompArg", func(k string) (bool, error) {
		switch k {
		case "index":
			return true, jsondec.Uint(d, &a.Index)
		case "value":
			return true, jsondec.Uint(d, &a.Value)
		case "valuetwo":
			return true, jsondec.Uint(d, &a.ValueTwo)
		case "op":
			return true, jsondec.String(d, &a.Op)
		}
		return false, nil
	})
}

func decodeIntelRdt(d *jsondec.Decoder, r *specs.LinuxIntelRdt) error {
	return d.Fields("LinuxIntelRdt", func(k string) (bool, error) {
		switch k {
		case "closid":
			return true, jsondec.String(d, &r.ClosID)
		case "schemata":
			return true, jsondec.Slice(d, &r.Schemata, jsondec.String)
		case "l3cacheschema":
			return true, jsondec.String(d, &r.L3CacheSchema)
		case "membwschema":
			return true, jsondec.String(d, &r.MemBwSchema)
		case "enablemonitoring":
			return true, jsondec.Bool(d, &r.EnableMonitoring)
		}
		return false, nil
	})
}

func decodeMemoryPolicy(d *jsondec.Decoder, p *specs.LinuxMemoryPolicy) error {
	return d.Fields("LinuxMemoryPolicy", func(k string) (bool, error) {
		switch k {
		case "mode":
			return true, jsondec.String(d, &p.Mode)
		case "nodes":
			return true, jsondec.String(d, &p.Nodes)
		case "flags":
			return true, jsondec.Slice(d, &p.Flags, jsondec.String)
		}
		return false, nil
	})
}

func decodePersonality(d *jsondec.Decoder, p *specs.LinuxPersonality) error {
	return d.Fields("LinuxPersonality", func(k string) (bool, error) {
		switch k {
		case "domain":
			return true, jsondec.String(d, &p.Domain)
		case "flags":
			return true, jsondec.Slice(d, &p.Flags, jsondec.String)
		}
		return false, nil
	})
}

func decodeTimeOffset(d *jsondec.Decoder, t *specs.LinuxTimeOffset) error {
	return d.Fields("LinuxTimeOffset", func(k string) (bool, error) {
		switch k {
		case "secs":
			return true, jsondec.Int(d, &t.Secs)
		case "nanosecs":
			return true, jsondec.Uint(d, &t.Nanosecs)
		}
		return false, nil
	})
}
