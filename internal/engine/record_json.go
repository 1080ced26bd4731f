package engine

import (
	"github.com/pelagos-go/pelagos/internal/jsonenc"
	"github.com/pelagos-go/pelagos/internal/network"
)

// container.json is written several times by every run and read by every
// command: it is encoded here by hand, in the bytes json.Marshal gives
// the record's types, so that no short-lived process pays encoding/json's
// first-use cost for them (see package jsonenc). Tests hold the encoder
// to json.Marshal on records of containers with many flags and with
// random values.

// marshal encodes c as json.Marshal does.
func (c *Container) marshal() ([]byte, error) {
	var err error
	b := appendContainer(make([]byte, 0, 2048), c, &err)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// The functions below append one record type each, fields in
// declaration order with their omitempty rules; a time that
// encoding/json cannot encode is kept in *err (see jsonenc.Time).

func appendContainer(b []byte, c *Container, err *error) []byte {
	b = jsonenc.String(append(b, `{"Id":`...), c.ID)
	b = jsonenc.String(append(b, `,"Name":`...), c.Name)
	b = jsonenc.Time(append(b, `,"Created":`...), c.Created, err)
	b = jsonenc.String(append(b, `,"Path":`...), c.Path)
	b = jsonenc.Strings(append(b, `,"Args":`...), c.Args)
	b = jsonenc.String(append(b, `,"Image":`...), c.Image)
	b = appendConfig(append(b, `,"Config":`...), &c.Config)
	b = appendHostConfig(append(b, `,"HostConfig":`...), &c.HostConfig)
	b = appendState(append(b, `,"State":`...), &c.State, err)
	b = jsonenc.Int(append(b, `,"RestartCount":`...), c.RestartCount)
	if c.Monitor != 0 {
		b = jsonenc.Int(append(b, `,"Monitor":`...), c.Monitor)
	}
	if c.MonitorStart != 0 {
		b = jsonenc.Uint(append(b, `,"MonitorStart":`...), c.MonitorStart)
	}
	if c.ManualStop {
		b = append(b, `,"ManualStop":true`...)
	}
	if c.RestartDelay != 0 {
		b = jsonenc.Int(append(b, `,"RestartDelay":`...), c.RestartDelay)
	}
	if c.Mounted {
		b = append(b, `,"Mounted":true`...)
	}
	if c.Runtime {
		b = append(b, `,"Runtime":true`...)
	}
	b = appendNetworkSettings(append(b, `,"NetworkSettings":`...), &c.NetworkSettings)
	if len(c.MountPoints) > 0 {
		b = jsonenc.Slice(append(b, `,"MountPoints":`...), c.MountPoints, appendMountPoint)
	}
	if u := c.Userns; u != nil {
		b = jsonenc.Uint(append(b, `,"Userns":{"HostUID":`...), u.HostUID)
		b = jsonenc.Uint(append(b, `,"HostGID":`...), u.HostGID)
		b = append(jsonenc.Uint(append(b, `,"Size":`...), u.Size), '}')
	}
	return append(b, '}')
}

func appendConfig(b []byte, c *Config) []byte {
	b = jsonenc.String(append(b, `{"Hostname":`...), c.Hostname)
	b = jsonenc.String(append(b, `,"Domainname":`...), c.Domainname)
	b = jsonenc.String(append(b, `,"User":`...), c.User)
	b = jsonenc.Bool(append(b, `,"AttachStdin":`...), c.AttachStdin)
	b = jsonenc.Bool(append(b, `,"AttachStdout":`...), c.AttachStdout)
	b = jsonenc.Bool(append(b, `,"AttachStderr":`...), c.AttachStderr)
	if len(c.ExposedPorts) > 0 {
		b = jsonenc.Set(append(b, `,"ExposedPorts":`...), c.ExposedPorts)
	}
	b = jsonenc.Bool(append(b, `,"Tty":`...), c.Tty)
	b = jsonenc.Bool(append(b, `,"OpenStdin":`...), c.OpenStdin)
	b = jsonenc.Bool(append(b, `,"StdinOnce":`...), c.StdinOnce)
	b = jsonenc.Strings(append(b, `,"Env":`...), c.Env)
	b = jsonenc.Strings(append(b, `,"Cmd":`...), c.Cmd)
	b = jsonenc.String(append(b, `,"Image":`...), c.Image)
	b = jsonenc.Set(append(b, `,"Volumes":`...), c.Volumes)
	b = jsonenc.String(append(b, `,"WorkingDir":`...), c.WorkingDir)
	b = jsonenc.Strings(append(b, `,"Entrypoint":`...), c.Entrypoint)
	b = jsonenc.Strings(append(b, `,"OnBuild":`...), c.OnBuild)
	b = jsonenc.StringMap(append(b, `,"Labels":`...), c.Labels)
	if c.StopSignal != "" {
		b = jsonenc.String(append(b, `,"StopSignal":`...), c.StopSignal)
	}
	if c.StopTimeout != nil {
		b = jsonenc.Int(append(b, `,"StopTimeout":`...), *c.StopTimeout)
	}
	if c.Healthcheck != nil {
		b = appendHealthcheck(append(b, `,"Healthcheck":`...), c.Healthcheck)
	}
	return append(b, '}')
}

func appendHealthcheck(b []byte, h *Healthcheck) []byte {
	start := jsonenc.Start(b)
	if len(h.Test) > 0 {
		b = jsonenc.Strings(append(b, `,"Test":`...), h.Test)
	}
	for _, d := range []struct {
		key string
		v   int64
	}{
		{`,"Interval":`, int64(h.Interval)},
		{`,"Timeout":`, int64(h.Timeout)},
		{`,"StartPeriod":`, int64(h.StartPeriod)},
		{`,"StartInterval":`, int64(h.StartInterval)},
		{`,"Retries":`, int64(h.Retries)},
	} {
		if d.v != 0 {
			b = jsonenc.Int(append(b, d.key...), d.v)
		}
	}
	return jsonenc.End(b, start)
}

func appendHostConfig(b []byte, h *HostConfig) []byte {
	b = jsonenc.Strings(append(b, `{"Binds":`...), h.Binds)
	b = jsonenc.String(append(b, `,"LogConfig":{"Type":`...), h.LogConfig.Type)
	b = append(jsonenc.StringMap(append(b, `,"Config":`...), h.LogConfig.Config), '}')
	b = jsonenc.String(append(b, `,"NetworkMode":`...), h.NetworkMode)
	b = jsonenc.String(append(b, `,"RestartPolicy":{"Name":`...), h.RestartPolicy.Name)
	b = append(jsonenc.Int(append(b, `,"MaximumRetryCount":`...), h.RestartPolicy.MaximumRetryCount), '}')
	b = jsonenc.Bool(append(b, `,"AutoRemove":`...), h.AutoRemove)
	b = jsonenc.Strings(append(b, `,"CapAdd":`...), h.CapAdd)
	b = jsonenc.Strings(append(b, `,"CapDrop":`...), h.CapDrop)
	b = jsonenc.Bool(append(b, `,"Privileged":`...), h.Privileged)
	b = jsonenc.Bool(append(b, `,"ReadonlyRootfs":`...), h.ReadonlyRootfs)
	b = jsonenc.Strings(append(b, `,"SecurityOpt":`...), h.SecurityOpt)
	if len(h.Tmpfs) > 0 {
		b = jsonenc.StringMap(append(b, `,"Tmpfs":`...), h.Tmpfs)
	}
	b = jsonenc.Int(append(b, `,"ShmSize":`...), h.ShmSize)
	b = jsonenc.String(append(b, `,"CgroupParent":`...), h.CgroupParent)
	b = jsonenc.Int(append(b, `,"Memory":`...), h.Memory)
	b = jsonenc.Int(append(b, `,"MemorySwap":`...), h.MemorySwap)
	b = jsonenc.Int(append(b, `,"NanoCpus":`...), h.NanoCpus)
	b = jsonenc.Ptr(append(b, `,"PidsLimit":`...), h.PidsLimit, jsonenc.IntElem)
	b = jsonenc.Slice(append(b, `,"Ulimits":`...), h.Ulimits, appendUlimit)
	b = jsonenc.Ptr(append(b, `,"Init":`...), h.Init, jsonenc.BoolElem)
	if len(h.Mounts) > 0 {
		b = jsonenc.Slice(append(b, `,"Mounts":`...), h.Mounts, appendMount)
	}
	b = jsonenc.Strings(append(b, `,"VolumesFrom":`...), h.VolumesFrom)
	b = appendPortMap(append(b, `,"PortBindings":`...), h.PortBindings)
	b = jsonenc.Bool(append(b, `,"PublishAllPorts":`...), h.PublishAllPorts)
	b = jsonenc.Strings(append(b, `,"Dns":`...), h.DNS)
	b = jsonenc.Strings(append(b, `,"DnsSearch":`...), h.DNSSearch)
	b = jsonenc.Strings(append(b, `,"DnsOptions":`...), h.DNSOptions)
	b = jsonenc.Strings(append(b, `,"ExtraHosts":`...), h.ExtraHosts)
	b = appendHostOptions(b, &h.HostOptions)
	b = jsonenc.Int(append(b, `,"CpuPeriod":`...), h.CPUPeriod)
	b = jsonenc.Int(append(b, `,"CpuQuota":`...), h.CPUQuota)
	return append(b, '}')
}

// appendHostOptions appends the embedded HostOptions' fields, which
// encoding/json writes in HostConfig in place of the embedding.
func appendHostOptions(b []byte, o *HostOptions) []byte {
	b = jsonenc.Slice(append(b, `,"Devices":`...), o.Devices, appendDeviceMapping)
	b = jsonenc.Strings(append(b, `,"DeviceCgroupRules":`...), o.DeviceCgroupRules)
	if len(o.Sysctls) > 0 {
		b = jsonenc.StringMap(append(b, `,"Sysctls":`...), o.Sysctls)
	}
	b = jsonenc.String(append(b, `,"PidMode":`...), o.PidMode)
	b = jsonenc.String(append(b, `,"IpcMode":`...), o.IpcMode)
	b = jsonenc.String(append(b, `,"UTSMode":`...), o.UTSMode)
	b = jsonenc.String(append(b, `,"UsernsMode":`...), o.UsernsMode)
	b = jsonenc.String(append(b, `,"CgroupnsMode":`...), o.CgroupnsMode)
	b = jsonenc.Int(append(b, `,"CpuShares":`...), o.CPUShares)
	b = jsonenc.String(append(b, `,"CpusetCpus":`...), o.CpusetCpus)
	b = jsonenc.String(append(b, `,"CpusetMems":`...), o.CpusetMems)
	b = jsonenc.Int(append(b, `,"MemoryReservation":`...), o.MemoryReservation)
	b = jsonenc.Ptr(append(b, `,"OomKillDisable":`...), o.OomKillDisable, jsonenc.BoolElem)
	b = jsonenc.Int(append(b, `,"OomScoreAdj":`...), o.OomScoreAdj)
	return jsonenc.Strings(append(b, `,"GroupAdd":`...), o.GroupAdd)
}

func appendDeviceMapping(b []byte, d *DeviceMapping) []byte {
	b = jsonenc.String(append(b, `{"PathOnHost":`...), d.PathOnHost)
	b = jsonenc.String(append(b, `,"PathInContainer":`...), d.PathInContainer)
	b = jsonenc.String(append(b, `,"CgroupPermissions":`...), d.CgroupPermissions)
	return append(b, '}')
}

func appendUlimit(b []byte, u *Ulimit) []byte {
	b = jsonenc.String(append(b, `{"Name":`...), u.Name)
	b = jsonenc.Int(append(b, `,"Hard":`...), u.Hard)
	b = jsonenc.Int(append(b, `,"Soft":`...), u.Soft)
	return append(b, '}')
}

func appendMount(b []byte, m *Mount) []byte {
	b = jsonenc.String(append(b, `{"Type":`...), m.Type)
	if m.Source != "" {
		b = jsonenc.String(append(b, `,"Source":`...), m.Source)
	}
	b = jsonenc.String(append(b, `,"Target":`...), m.Target)
	if m.ReadOnly {
		b = append(b, `,"ReadOnly":true`...)
	}
	if o := m.BindOptions; o != nil {
		b = append(b, `,"BindOptions":`...)
		start := jsonenc.Start(b)
		if o.Propagation != "" {
			b = jsonenc.String(append(b, `,"Propagation":`...), o.Propagation)
		}
		if o.CreateMountpoint {
			b = append(b, `,"CreateMountpoint":true`...)
		}
		if o.IDMap {
			b = append(b, `,"IDMap":true`...)
		}
		b = jsonenc.End(b, start)
	}
	if o := m.TmpfsOptions; o != nil {
		b = append(b, `,"TmpfsOptions":`...)
		start := jsonenc.Start(b)
		if o.SizeBytes != 0 {
			b = jsonenc.Int(append(b, `,"SizeBytes":`...), o.SizeBytes)
		}
		if o.Mode != 0 {
			b = jsonenc.Uint(append(b, `,"Mode":`...), o.Mode)
		}
		if len(o.Options) > 0 {
			b = jsonenc.Strings(append(b, `,"Options":`...), o.Options)
		}
		b = jsonenc.End(b, start)
	}
	if m.VolumeOptions != nil {
		b = appendVolumeOptions(append(b, `,"VolumeOptions":`...), m.VolumeOptions)
	}
	if m.Flag != "" {
		b = jsonenc.String(append(b, `,"Flag":`...), m.Flag)
	}
	return append(b, '}')
}

func appendVolumeOptions(b []byte, o *VolumeOptions) []byte {
	start := jsonenc.Start(b)
	if o.NoCopy {
		b = append(b, `,"NoCopy":true`...)
	}
	if len(o.Labels) > 0 {
		b = jsonenc.StringMap(append(b, `,"Labels":`...), o.Labels)
	}
	if d := o.DriverConfig; d != nil {
		b = append(b, `,"DriverConfig":`...)
		st := jsonenc.Start(b)
		if d.Name != "" {
			b = jsonenc.String(append(b, `,"Name":`...), d.Name)
		}
		if len(d.Options) > 0 {
			b = jsonenc.StringMap(append(b, `,"Options":`...), d.Options)
		}
		b = jsonenc.End(b, st)
	}
	return jsonenc.End(b, start)
}

func appendPortMap(b []byte, m map[string][]network.PortBinding) []byte {
	return jsonenc.Map(b, m, func(b []byte, s *[]network.PortBinding) []byte {
		return jsonenc.Slice(b, *s, appendPortBinding)
	})
}

func appendPortBinding(b []byte, p *network.PortBinding) []byte {
	b = jsonenc.String(append(b, `{"HostIp":`...), p.HostIP)
	b = jsonenc.String(append(b, `,"HostPort":`...), p.HostPort)
	return append(b, '}')
}

func appendState(b []byte, s *State, err *error) []byte {
	b = jsonenc.String(append(b, `{"Status":`...), s.Status)
	b = jsonenc.Bool(append(b, `,"Running":`...), s.Running)
	b = jsonenc.Bool(append(b, `,"Paused":`...), s.Paused)
	b = jsonenc.Bool(append(b, `,"Restarting":`...), s.Restarting)
	b = jsonenc.Bool(append(b, `,"OOMKilled":`...), s.OOMKilled)
	b = jsonenc.Bool(append(b, `,"Dead":`...), s.Dead)
	b = jsonenc.Int(append(b, `,"Pid":`...), s.Pid)
	b = jsonenc.Int(append(b, `,"ExitCode":`...), s.ExitCode)
	b = jsonenc.String(append(b, `,"Error":`...), s.Error)
	b = jsonenc.Time(append(b, `,"StartedAt":`...), s.StartedAt, err)
	b = jsonenc.Time(append(b, `,"FinishedAt":`...), s.FinishedAt, err)
	if h := s.Health; h != nil {
		b = jsonenc.String(append(b, `,"Health":{"Status":`...), h.Status)
		b = jsonenc.Int(append(b, `,"FailingStreak":`...), h.FailingStreak)
		b = jsonenc.Slice(append(b, `,"Log":`...), h.Log, func(b []byte, r *HealthResult) []byte {
			b = jsonenc.Time(append(b, `{"Start":`...), r.Start, err)
			b = jsonenc.Time(append(b, `,"End":`...), r.End, err)
			b = jsonenc.Int(append(b, `,"ExitCode":`...), r.ExitCode)
			return append(jsonenc.String(append(b, `,"Output":`...), r.Output), '}')
		})
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendNetworkSettings(b []byte, n *NetworkSettings) []byte {
	b = jsonenc.String(append(b, `{"SandboxKey":`...), n.SandboxKey)
	b = appendPortMap(append(b, `,"Ports":`...), n.Ports)
	b = jsonenc.Map(append(b, `,"Networks":`...), n.Networks, func(b []byte, e **EndpointSettings) []byte {
		return jsonenc.Ptr(b, *e, appendEndpoint)
	})
	if len(n.Order) > 0 {
		b = jsonenc.Strings(append(b, `,"Order":`...), n.Order)
	}
	return append(b, '}')
}

func appendEndpoint(b []byte, e *EndpointSettings) []byte {
	b = append(b, `{"IPAMConfig":`...)
	if c := e.IPAMConfig; c == nil {
		b = append(b, "null"...)
	} else {
		start := jsonenc.Start(b)
		if c.IPv4Address != "" {
			b = jsonenc.String(append(b, `,"IPv4Address":`...), c.IPv4Address)
		}
		if c.IPv6Address != "" {
			b = jsonenc.String(append(b, `,"IPv6Address":`...), c.IPv6Address)
		}
		b = jsonenc.End(b, start)
	}
	b = jsonenc.Strings(append(b, `,"Links":`...), e.Links)
	b = jsonenc.Strings(append(b, `,"Aliases":`...), e.Aliases)
	b = jsonenc.String(append(b, `,"MacAddress":`...), e.MacAddress)
	b = jsonenc.String(append(b, `,"NetworkID":`...), e.NetworkID)
	b = jsonenc.String(append(b, `,"EndpointID":`...), e.EndpointID)
	b = jsonenc.String(append(b, `,"Gateway":`...), e.Gateway)
	b = jsonenc.String(append(b, `,"IPAddress":`...), e.IPAddress)
	b = jsonenc.Int(append(b, `,"IPPrefixLen":`...), e.IPPrefixLen)
	b = jsonenc.String(append(b, `,"IPv6Gateway":`...), e.IPv6Gateway)
	b = jsonenc.String(append(b, `,"GlobalIPv6Address":`...), e.GlobalIPv6Address)
	b = jsonenc.Int(append(b, `,"GlobalIPv6PrefixLen":`...), e.GlobalIPv6PrefixLen)
	b = jsonenc.Strings(append(b, `,"DNSNames":`...), e.DNSNames)
	if e.MacRequested != "" {
		b = jsonenc.String(append(b, `,"MacRequested":`...), e.MacRequested)
	}
	return append(b, '}')
}

func appendMountPoint(b []byte, m *MountPoint) []byte {
	b = jsonenc.String(append(b, `{"Type":`...), m.Type)
	b = jsonenc.String(append(b, `,"Name":`...), m.Name)
	b = jsonenc.String(append(b, `,"Destination":`...), m.Destination)
	b = jsonenc.String(append(b, `,"Driver":`...), m.Driver)
	b = jsonenc.Bool(append(b, `,"RW":`...), m.RW)
	b = jsonenc.String(append(b, `,"Mode":`...), m.Mode)
	if m.Anonymous {
		b = append(b, `,"Anonymous":true`...)
	}
	if m.CopyData {
		b = append(b, `,"CopyData":true`...)
	}
	return append(b, '}')
}

// marshal encodes ev as json.Marshal does: every command appends events
// to the journal (see appendEvent).
func (ev *Event) marshal() []byte {
	b := make([]byte, 0, 256)
	start := jsonenc.Start(b)
	if ev.Status != "" {
		b = jsonenc.String(append(b, `,"status":`...), ev.Status)
	}
	if ev.ID != "" {
		b = jsonenc.String(append(b, `,"id":`...), ev.ID)
	}
	if ev.From != "" {
		b = jsonenc.String(append(b, `,"from":`...), ev.From)
	}
	b = jsonenc.String(append(b, `,"Type":`...), ev.Type)
	b = jsonenc.String(append(b, `,"Action":`...), ev.Action)
	b = jsonenc.String(append(b, `,"Actor":{"ID":`...), ev.Actor.ID)
	b = append(jsonenc.StringMap(append(b, `,"Attributes":`...), ev.Actor.Attributes), '}')
	b = jsonenc.String(append(b, `,"scope":`...), ev.Scope)
	b = jsonenc.Int(append(b, `,"time":`...), ev.Time)
	b = jsonenc.Int(append(b, `,"timeNano":`...), ev.TimeNano)
	return jsonenc.End(b, start)
}
