package spec

import (
	"encoding/json"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/jsonenc"
)

// Encode encodes s as json.Marshal does, byte for byte, without its cost
// on a first use (see package jsonenc): the engine writes a config.json
// for every start. The other platforms' sections (Solaris, Windows, VM,
// z/OS, FreeBSD), never set by the engine, go through encoding/json when
// present.
func Encode(s *specs.Spec) ([]byte, error) {
	return appendSpec(make([]byte, 0, 4096), s)
}

// The functions below append one runtime-spec type each, fields in
// declaration order, with the type's omitempty rules. Each object begins
// with jsonenc.Start and its fields with a comma (see jsonenc.End).

func appendSpec(b []byte, s *specs.Spec) ([]byte, error) {
	start := jsonenc.Start(b)
	b = jsonenc.String(append(b, `,"ociVersion":`...), s.Version)
	if s.Process != nil {
		b = appendProcess(append(b, `,"process":`...), s.Process)
	}
	if s.Root != nil {
		b = appendRoot(append(b, `,"root":`...), s.Root)
	}
	if s.Hostname != "" {
		b = jsonenc.String(append(b, `,"hostname":`...), s.Hostname)
	}
	if s.Domainname != "" {
		b = jsonenc.String(append(b, `,"domainname":`...), s.Domainname)
	}
	if len(s.Mounts) > 0 {
		b = jsonenc.Slice(append(b, `,"mounts":`...), s.Mounts, appendMount)
	}
	if s.Hooks != nil {
		b = appendHooks(append(b, `,"hooks":`...), s.Hooks)
	}
	if len(s.Annotations) > 0 {
		b = jsonenc.StringMap(append(b, `,"annotations":`...), s.Annotations)
	}
	if s.Linux != nil {
		b = appendLinux(append(b, `,"linux":`...), s.Linux)
	}
	others := []struct {
		key   string
		isSet bool
		v     any
	}{
		{`,"solaris":`, s.Solaris != nil, s.Solaris},
		{`,"windows":`, s.Windows != nil, s.Windows},
		{`,"vm":`, s.VM != nil, s.VM},
		{`,"zos":`, s.ZOS != nil, s.ZOS},
		{`,"freebsd":`, s.FreeBSD != nil, s.FreeBSD},
	}
	for _, o := range others {
		if !o.isSet {
			continue
		}
		enc, err := json.Marshal(o.v)
		if err != nil {
			return nil, err
		}
		b = append(append(b, o.key...), enc...)
	}
	return jsonenc.End(b, start), nil
}

func appendProcess(b []byte, p *specs.Process) []byte {
	start := jsonenc.Start(b)
	if p.Terminal {
		b = append(b, `,"terminal":true`...)
	}
	if p.ConsoleSize != nil {
		b = jsonenc.Uint(append(b, `,"consoleSize":{"height":`...), p.ConsoleSize.Height)
		b = append(jsonenc.Uint(append(b, `,"width":`...), p.ConsoleSize.Width), '}')
	}
	b = appendUser(append(b, `,"user":`...), &p.User)
	if len(p.Args) > 0 {
		b = jsonenc.Strings(append(b, `,"args":`...), p.Args)
	}
	if p.CommandLine != "" {
		b = jsonenc.String(append(b, `,"commandLine":`...), p.CommandLine)
	}
	if len(p.Env) > 0 {
		b = jsonenc.Strings(append(b, `,"env":`...), p.Env)
	}
	b = jsonenc.String(append(b, `,"cwd":`...), p.Cwd)
	if p.Capabilities != nil {
		b = appendCapabilities(append(b, `,"capabilities":`...), p.Capabilities)
	}
	if len(p.Rlimits) > 0 {
		b = jsonenc.Slice(append(b, `,"rlimits":`...), p.Rlimits, appendRlimit)
	}
	if p.NoNewPrivileges {
		b = append(b, `,"noNewPrivileges":true`...)
	}
	if p.ApparmorProfile != "" {
		b = jsonenc.String(append(b, `,"apparmorProfile":`...), p.ApparmorProfile)
	}
	if p.OOMScoreAdj != nil {
		b = jsonenc.Int(append(b, `,"oomScoreAdj":`...), *p.OOMScoreAdj)
	}
	if p.Scheduler != nil {
		b = appendScheduler(append(b, `,"scheduler":`...), p.Scheduler)
	}
	if p.SelinuxLabel != "" {
		b = jsonenc.String(append(b, `,"selinuxLabel":`...), p.SelinuxLabel)
	}
	if p.IOPriority != nil {
		b = jsonenc.String(append(b, `,"ioPriority":{"class":`...), p.IOPriority.Class)
		b = append(jsonenc.Int(append(b, `,"priority":`...), p.IOPriority.Priority), '}')
	}
	if a := p.ExecCPUAffinity; a != nil {
		b = append(b, `,"execCPUAffinity":`...)
		st := jsonenc.Start(b)
		if a.Initial != "" {
			b = jsonenc.String(append(b, `,"initial":`...), a.Initial)
		}
		if a.Final != "" {
			b = jsonenc.String(append(b, `,"final":`...), a.Final)
		}
		b = jsonenc.End(b, st)
	}
	return jsonenc.End(b, start)
}

func appendUser(b []byte, u *specs.User) []byte {
	b = jsonenc.Uint(append(b, `{"uid":`...), u.UID)
	b = jsonenc.Uint(append(b, `,"gid":`...), u.GID)
	if u.Umask != nil {
		b = jsonenc.Uint(append(b, `,"umask":`...), *u.Umask)
	}
	if len(u.AdditionalGids) > 0 {
		b = jsonenc.Slice(append(b, `,"additionalGids":`...), u.AdditionalGids, jsonenc.UintElem)
	}
	if u.Username != "" {
		b = jsonenc.String(append(b, `,"username":`...), u.Username)
	}
	return append(b, '}')
}

func appendCapabilities(b []byte, c *specs.LinuxCapabilities) []byte {
	start := jsonenc.Start(b)
	for _, set := range []struct {
		key  string
		caps []string
	}{
		{`,"bounding":`, c.Bounding},
		{`,"effective":`, c.Effective},
		{`,"inheritable":`, c.Inheritable},
		{`,"permitted":`, c.Permitted},
		{`,"ambient":`, c.Ambient},
	} {
		if len(set.caps) > 0 {
			b = jsonenc.Strings(append(b, set.key...), set.caps)
		}
	}
	return jsonenc.End(b, start)
}

func appendRlimit(b []byte, r *specs.POSIXRlimit) []byte {
	b = jsonenc.String(append(b, `{"type":`...), r.Type)
	b = jsonenc.Uint(append(b, `,"hard":`...), r.Hard)
	b = jsonenc.Uint(append(b, `,"soft":`...), r.Soft)
	return append(b, '}')
}

func appendScheduler(b []byte, s *specs.Scheduler) []byte {
	b = jsonenc.String(append(b, `{"policy":`...), s.Policy)
	if s.Nice != 0 {
		b = jsonenc.Int(append(b, `,"nice":`...), s.Nice)
	}
	if s.Priority != 0 {
		b = jsonenc.Int(append(b, `,"priority":`...), s.Priority)
	}
	if len(s.Flags) > 0 {
		b = jsonenc.Strings(append(b, `,"flags":`...), s.Flags)
	}
	if s.Runtime != 0 {
		b = jsonenc.Uint(append(b, `,"runtime":`...), s.Runtime)
	}
	if s.Deadline != 0 {
		b = jsonenc.Uint(append(b, `,"deadline":`...), s.Deadline)
	}
	if s.Period != 0 {
		b = jsonenc.Uint(append(b, `,"period":`...), s.Period)
	}
	return append(b, '}')
}

func appendRoot(b []byte, r *specs.Root) []byte {
	b = jsonenc.String(append(b, `{"path":`...), r.Path)
	if r.Readonly {
		b = append(b, `,"readonly":true`...)
	}
	return append(b, '}')
}

func appendMount(b []byte, m *specs.Mount) []byte {
	b = jsonenc.String(append(b, `{"destination":`...), m.Destination)
	if m.Type != "" {
		b = jsonenc.String(append(b, `,"type":`...), m.Type)
	}
	if m.Source != "" {
		b = jsonenc.String(append(b, `,"source":`...), m.Source)
	}
	if len(m.Options) > 0 {
		b = jsonenc.Strings(append(b, `,"options":`...), m.Options)
	}
	if len(m.UIDMappings) > 0 {
		b = jsonenc.Slice(append(b, `,"uidMappings":`...), m.UIDMappings, appendIDMapping)
	}
	if len(m.GIDMappings) > 0 {
		b = jsonenc.Slice(append(b, `,"gidMappings":`...), m.GIDMappings, appendIDMapping)
	}
	return append(b, '}')
}

func appendIDMapping(b []byte, m *specs.LinuxIDMapping) []byte {
	b = jsonenc.Uint(append(b, `{"containerID":`...), m.ContainerID)
	b = jsonenc.Uint(append(b, `,"hostID":`...), m.HostID)
	b = jsonenc.Uint(append(b, `,"size":`...), m.Size)
	return append(b, '}')
}

func appendHooks(b []byte, h *specs.Hooks) []byte {
	start := jsonenc.Start(b)
	for _, list := range []struct {
		key   string
		hooks []specs.Hook
	}{
		//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
		{`,"prestart":`, h.Prestart},
		{`,"createRuntime":`, h.CreateRuntime},
		{`,"createContainer":`, h.CreateContainer},
		{`,"startContainer":`, h.StartContainer},
		{`,"poststart":`, h.Poststart},
		{`,"poststop":`, h.Poststop},
	} {
		if len(list.hooks) > 0 {
			b = jsonenc.Slice(append(b, list.key...), list.hooks, appendHook)
		}
	}
	return jsonenc.End(b, start)
}

func appendHook(b []byte, h *specs.Hook) []byte {
	b = jsonenc.String(append(b, `{"path":`...), h.Path)
	if len(h.Args) > 0 {
		b = jsonenc.Strings(append(b, `,"args":`...), h.Args)
	}
	if len(h.Env) > 0 {
		b = jsonenc.Strings(append(b, `,"env":`...), h.Env)
	}
	if h.Timeout != nil {
		b = jsonenc.Int(append(b, `,"timeout":`...), *h.Timeout)
	}
	return append(b, '}')
}

func appendLinux(b []byte, l *specs.Linux) []byte {
	start := jsonenc.Start(b)
	if len(l.UIDMappings) > 0 {
		b = jsonenc.Slice(append(b, `,"uidMappings":`...), l.UIDMappings, appendIDMapping)
	}
	if len(l.GIDMappings) > 0 {
		b = jsonenc.Slice(append(b, `,"gidMappings":`...), l.GIDMappings, appendIDMapping)
	}
	if len(l.Sysctl) > 0 {
		b = jsonenc.StringMap(append(b, `,"sysctl":`...), l.Sysctl)
	}
	if l.Resources != nil {
		b = appendResources(append(b, `,"resources":`...), l.Resources)
	}
	if l.CgroupsPath != "" {
		b = jsonenc.String(append(b, `,"cgroupsPath":`...), l.CgroupsPath)
	}
	if len(l.Namespaces) > 0 {
		b = jsonenc.Slice(append(b, `,"namespaces":`...), l.Namespaces, appendNamespace)
	}
	if len(l.Devices) > 0 {
		b = jsonenc.Slice(append(b, `,"devices":`...), l.Devices, appendDevice)
	}
	if len(l.NetDevices) > 0 {
		b = jsonenc.Map(append(b, `,"netDevices":`...), l.NetDevices, appendNetDevice)
	}
	if l.Seccomp != nil {
		b = appendSeccomp(append(b, `,"seccomp":`...), l.Seccomp)
	}
	if l.RootfsPropagation != "" {
		b = jsonenc.String(append(b, `,"rootfsPropagation":`...), l.RootfsPropagation)
	}
	if len(l.MaskedPaths) > 0 {
		b = jsonenc.Strings(append(b, `,"maskedPaths":`...), l.MaskedPaths)
	}
	if len(l.ReadonlyPaths) > 0 {
		b = jsonenc.Strings(append(b, `,"readonlyPaths":`...), l.ReadonlyPaths)
	}
	if l.MountLabel != "" {
		b = jsonenc.String(append(b, `,"mountLabel":`...), l.MountLabel)
	}
	if l.IntelRdt != nil {
		b = appendIntelRdt(append(b, `,"intelRdt":`...), l.IntelRdt)
	}
	if p := l.MemoryPolicy; p != nil {
		b = jsonenc.String(append(b, `,"memoryPolicy":{"mode":`...), p.Mode)
		b = jsonenc.String(append(b, `,"nodes":`...), p.Nodes)
		if len(p.Flags) > 0 {
			b = jsonenc.Strings(append(b, `,"flags":`...), p.Flags)
		}
		b = append(b, '}')
	}
	if p := l.Personality; p != nil {
		b = jsonenc.String(append(b, `,"personality":{"domain":`...), p.Domain)
		if len(p.Flags) > 0 {
			b = jsonenc.Strings(append(b, `,"flags":`...), p.Flags)
		}
		b = append(b, '}')
	}
	if len(l.TimeOffsets) > 0 {
		b = jsonenc.Map(append(b, `,"timeOffsets":`...), l.TimeOffsets, appendTimeOffset)
	}
	return jsonenc.End(b, start)
}

func appendNamespace(b []byte, n *specs.LinuxNamespace) []byte {
	b = jsonenc.String(append(b, `{"type":`...), n.Type)
	if n.Path != "" {
		b = jsonenc.String(append(b, `,"path":`...), n.Path)
	}
	return append(b, '}')
}

func appendDevice(b []byte, d *specs.LinuxDevice) []byte {
	b = jsonenc.String(append(b, `{"path":`...), d.Path)
	b = jsonenc.String(append(b, `,"type":`...), d.Type)
	b = jsonenc.Int(append(b, `,"major":`...), d.Major)
	b = jsonenc.Int(append(b, `,"minor":`...), d.Minor)
	if d.FileMode != nil {
		b = jsonenc.Uint(append(b, `,"fileMode":`...), *d.FileMode)
	}
	if d.UID != nil {
		b = jsonenc.Uint(append(b, `,"uid":`...), *d.UID)
	}
	if d.GID != nil {
		b = jsonenc.Uint(append(b, `,"gid":`...), *d.GID)
	}
	return append(b, '}')
}

func appendNetDevice(b []byte, n *specs.LinuxNetDevice) []byte {
	if n.Name == "" {
		return append(b, "{}"...)
	}
	return append(jsonenc.String(append(b, `{"name":`...), n.Name), '}')
}

func appendSeccomp(b []byte, s *specs.LinuxSeccomp) []byte {
	b = jsonenc.String(append(b, `{"defaultAction":`...), s.DefaultAction)
	if s.DefaultErrnoRet != nil {
		b = jsonenc.Uint(append(b, `,"defaultErrnoRet":`...), *s.DefaultErrnoRet)
	}
	if len(s.Architectures) > 0 {
		b = jsonenc.Strings(append(b, `,"architectures":`...), s.Architectures)
	}
	if len(s.Flags) > 0 {
		b = jsonenc.Strings(append(b, `,"flags":`...), s.Flags)
	}
	if s.ListenerPath != "" {
		b = jsonenc.String(append(b, `,"listenerPath":`...), s.ListenerPath)
	}
	if s.ListenerMetadata != "" {
		b = jsonenc.String(append(b, `,"listenerMetadata":`...), s.ListenerMetadata)
	}
	if len(s.Syscalls) > 0 {
		b = jsonenc.Slice(append(b, `,"syscalls":`...), s.Syscalls, appendSyscall)
	}
	return append(b, '}')
}

func appendSyscall(b []byte, s *specs.LinuxSyscall) []byte {
	b = jsonenc.Strings(append(b, `{"names":`...), s.Names)
	b = jsonenc.String(append(b, `,"action":`...), s.Action)
	if s.ErrnoRet != nil {
		b = jsonenc.Uint(append(b, `,"errnoRet":`...), *s.ErrnoRet)
	}
	if len(s.Args) > 0 {
		b = jsonenc.Slice(append(b, `,"args":`...), s.Args, appendSeccompArg)
	}
	return append(b, '}')
}

func appendSeccompArg(b []byte, a *specs.LinuxSeccompArg) []byte {
	b = jsonenc.Uint(append(b, `{"index":`...), a.Index)
	b = jsonenc.Uint(append(b, `,"value":`...), a.Value)
	if a.ValueTwo != 0 {
		b = jsonenc.Uint(append(b, `,"valueTwo":`...), a.ValueTwo)
	}
	b = jsonenc.String(append(b, `,"op":`...), a.Op)
	return append(b, '}')
}

func appendIntelRdt(b []byte, r *specs.LinuxIntelRdt) []byte {
	start := jsonenc.Start(b)
	if r.ClosID != "" {
		b = jsonenc.String(append(b, `,"closID":`...), r.ClosID)
	}
	if len(r.Schemata) > 0 {
		b = jsonenc.Strings(append(b, `,"schemata":`...), r.Schemata)
	}
	if r.L3CacheSchema != "" {
		b = jsonenc.String(append(b, `,"l3CacheSchema":`...), r.L3CacheSchema)
	}
	if r.MemBwSchema != "" {
		b = jsonenc.String(append(b, `,"memBwSchema":`...), r.MemBwSchema)
	}
	if r.EnableMonitoring {
		b = append(b, `,"enableMonitoring":true`...)
	}
	return jsonenc.End(b, start)
}

func appendTimeOffset(b []byte, t *specs.LinuxTimeOffset) []byte {
	start := jsonenc.Start(b)
	if t.Secs != 0 {
		b = jsonenc.Int(append(b, `,"secs":`...), t.Secs)
	}
	if t.Nanosecs != 0 {
		b = jsonenc.Uint(append(b, `,"nanosecs":`...), t.Nanosecs)
	}
	return jsonenc.End(b, start)
}
