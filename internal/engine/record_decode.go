package engine

import (
	"github.com/pelagos-go/pelagos/internal/jsondec"
	"github.com/pelagos-go/pelagos/internal/network"
)

// unmarshalRecord decodes container.json into c as json.Unmarshal would,
// by hand (see record_json.go): input that is no JSON value is refused
// with json.Unmarshal's error, and the fields are stored by its rules
// (see package jsondec). Field names are matched in the form jsondec's
// fold gives them: lower case.
func unmarshalRecord(b []byte, c *Container) error {
	d, err := jsondec.NewValue(b)
	if err != nil {
		return err
	}
	return decodeContainer(d, c)
}

func decodeContainer(d *jsondec.Decoder, c *Container) error {
	return d.Fields("Container", func(k string) (bool, error) {
		switch k {
		case "id":
			return true, jsondec.String(d, &c.ID)
		case "name":
			return true, jsondec.String(d, &c.Name)
		case "created":
			return true, jsondec.Time(d, &c.Created)
		case "path":
			return true, jsondec.String(d, &c.Path)
		case "args":
			return true, jsondec.Slice(d, &c.Args, jsondec.String)
		case "image":
			return true, jsondec.String(d, &c.Image)
		case "config":
			return true, decodeConfig(d, &c.Config)
		case "hostconfig":
			return true, decodeHostConfig(d, &c.HostConfig)
		case "state":
			return true, decodeState(d, &c.State)
		case "restartcount":
			return true, jsondec.Int(d, &c.RestartCount)
		case "monitor":
			return true, jsondec.Int(d, &c.Monitor)
		case "monitorstart":
			return true, jsondec.Uint(d, &c.MonitorStart)
		case "manualstop":
			return true, jsondec.Bool(d, &c.ManualStop)
		case "restartdelay":
			return true, jsondec.Int(d, &c.RestartDelay)
		case "mounted":
			return true, jsondec.Bool(d, &c.Mounted)
		case "runtime":
			return true, jsondec.Bool(d, &c.Runtime)
		case "networksettings":
			return true, decodeNetworkSettings(d, &c.NetworkSettings)
		case "mountpoints":
			return true, jsondec.Slice(d, &c.MountPoints, decodeMountPoint)
		case "userns":
			return true, jsondec.Ptr(d, &c.Userns, decodeUserns)
		}
		return false, nil
	})
}

func decodeConfig(d *jsondec.Decoder, c *Config) error {
	return d.Fields("Config", func(k string) (bool, error) {
		switch k {
		case "hostname":
			return true, jsondec.String(d, &c.Hostname)
		case "domainname":
			return true, jsondec.String(d, &c.Domainname)
		case "user":
			return true, jsondec.String(d, &c.User)
		case "attachstdin":
			return true, jsondec.Bool(d, &c.AttachStdin)
		case "attachstdout":
			return true, jsondec.Bool(d, &c.AttachStdout)
		case "attachstderr":
			return true, jsondec.Bool(d, &c.AttachStderr)
		case "exposedports":
			return true, jsondec.Map(d, &c.ExposedPorts, decodeEmpty)
		case "tty":
			return true, jsondec.Bool(d, &c.Tty)
		case "openstdin":
			return true, jsondec.Bool(d, &c.OpenStdin)
		case "stdinonce":
			return true, jsondec.Bool(d, &c.StdinOnce)
		case "env":
			return true, jsondec.Slice(d, &c.Env, jsondec.String)
		case "cmd":
			return true, jsondec.Slice(d, &c.Cmd, jsondec.String)
		case "image":
			return true, jsondec.String(d, &c.Image)
		case "volumes":
			return true, jsondec.Map(d, &c.Volumes, decodeEmpty)
		case "workingdir":
			return true, jsondec.String(d, &c.WorkingDir)
		case "entrypoint":
			return true, jsondec.Slice(d, &c.Entrypoint, jsondec.String)
		case "onbuild":
			return true, jsondec.Slice(d, &c.OnBuild, jsondec.String)
		case "labels":
			return true, jsondec.Map(d, &c.Labels, jsondec.String)
		case "stopsignal":
			return true, jsondec.String(d, &c.StopSignal)
		case "stoptimeout":
			return true, jsondec.Ptr(d, &c.StopTimeout, jsondec.Int)
		case "healthcheck":
			return true, jsondec.Ptr(d, &c.Healthcheck, decodeHealthcheck)
		}
		return false, nil
	})
}

// decodeEmpty stores the value of a set's entry, an empty struct: any
// object (its keys ignored) or null.
func decodeEmpty(d *jsondec.Decoder, _ *struct{}) error {
	return d.Fields("struct {}", func(string) (bool, error) { return false, nil })
}

func decodeHealthcheck(d *jsondec.Decoder, h *Healthcheck) error {
	return d.Fields("Healthcheck", func(k string) (bool, error) {
		switch k {
		case "test":
			return true, jsondec.Slice(d, &h.Test, jsondec.String)
		case "interval":
			return true, jsondec.Int(d, &h.Interval)
		case "timeout":
			return true, jsondec.Int(d, &h.Timeout)
		case "startperiod":
			return true, jsondec.Int(d, &h.StartPeriod)
		case "startinterval":
			return true, jsondec.Int(d, &h.StartInterval)
		case "retries":
			return true, jsondec.Int(d, &h.Retries)
		}
		return false, nil
	})
}

func decodeHostConfig(d *jsondec.Decoder, h *HostConfig) error {
	return d.Fields("HostConfig", func(k string) (bool, error) {
		switch k {
		case "binds":
			return true, jsondec.Slice(d, &h.Binds, jsondec.String)
		case "logconfig":
			return true, decodeLogConfig(d, &h.LogConfig)
		case "networkmode":
			return true, jsondec.String(d, &h.NetworkMode)
		case "restartpolicy":
			return true, decodeRestartPolicy(d, &h.RestartPolicy)
		case "autoremove":
			return true, jsondec.Bool(d, &h.AutoRemove)
		case "capadd":
			return true, jsondec.Slice(d, &h.CapAdd, jsondec.String)
		case "capdrop":
			return true, jsondec.Slice(d, &h.CapDrop, jsondec.String)
		case "privileged":
			return true, jsondec.Bool(d, &h.Privileged)
		case "readonlyrootfs":
			return true, jsondec.Bool(d, &h.ReadonlyRootfs)
		case "securityopt":
			return true, jsondec.Slice(d, &h.SecurityOpt, jsondec.String)
		case "tmpfs":
			return true, jsondec.Map(d, &h.Tmpfs, jsondec.String)
		case "shmsize":
			return true, jsondec.Int(d, &h.ShmSize)
		case "cgroupparent":
			return true, jsondec.String(d, &h.CgroupParent)
		case "memory":
			return true, jsondec.Int(d, &h.Memory)
		case "memoryswap":
			return true, jsondec.Int(d, &h.MemorySwap)
		case "nanocpus":
			return true, jsondec.Int(d, &h.NanoCpus)
		case "pidslimit":
			return true, jsondec.Ptr(d, &h.PidsLimit, jsondec.Int)
		case "ulimits":
			return true, jsondec.Slice(d, &h.Ulimits, decodeUlimit)
		case "init":
			return true, jsondec.Ptr(d, &h.Init, jsondec.Bool)
		case "mounts":
			return true, jsondec.Slice(d, &h.Mounts, decodeMount)
		case "volumesfrom":
			return true, jsondec.Slice(d, &h.VolumesFrom, jsondec.String)
		case "portbindings":
			return true, decodePortMap(d, &h.PortBindings)
		case "publishallports":
			return true, jsondec.Bool(d, &h.PublishAllPorts)
		case "dns":
			return true, jsondec.Slice(d, &h.DNS, jsondec.String)
		case "dnssearch":
			return true, jsondec.Slice(d, &h.DNSSearch, jsondec.String)
		case "dnsoptions":
			return true, jsondec.Slice(d, &h.DNSOptions, jsondec.String)
		case "extrahosts":
			return true, jsondec.Slice(d, &h.ExtraHosts, jsondec.String)
		case "cpuperiod":
			return true, jsondec.Int(d, &h.CPUPeriod)
		case "cpuquota":
			return true, jsondec.Int(d, &h.CPUQuota)
		}
		return hostOptionsField(d, &h.HostOptions, k)
	})
}

// hostOptionsField stores a field of the embedded HostOptions, whose keys
// encoding/json matches in HostConfig itself.
func hostOptionsField(d *jsondec.Decoder, o *HostOptions, k string) (bool, error) {
	switch k {
	case "devices":
		return true, jsondec.Slice(d, &o.Devices, decodeDeviceMapping)
	case "devicecgrouprules":
		return true, jsondec.Slice(d, &o.DeviceCgroupRules, jsondec.String)
	case "sysctls":
		return true, jsondec.Map(d, &o.Sysctls, jsondec.String)
	case "pidmode":
		return true, jsondec.String(d, &o.PidMode)
	case "ipcmode":
		return true, jsondec.String(d, &o.IpcMode)
	case "utsmode":
		return true, jsondec.String(d, &o.UTSMode)
	case "usernsmode":
		return true, jsondec.String(d, &o.UsernsMode)
	case "cgroupnsmode":
		return true, jsondec.String(d, &o.CgroupnsMode)
	case "cpushares":
		return true, jsondec.Int(d, &o.CPUShares)
	case "cpusetcpus":
		return true, jsondec.String(d, &o.CpusetCpus)
	case "cpusetmems":
		return true, jsondec.String(d, &o.CpusetMems)
	case "memoryreservation":
		return true, jsondec.Int(d, &o.MemoryReservation)
	case "oomkilldisable":
		return true, jsondec.Ptr(d, &o.OomKillDisable, jsondec.Bool)
	case "oomscoreadj":
		return true, jsondec.Int(d, &o.OomScoreAdj)
	case "groupadd":
		return true, jsondec.Slice(d, &o.GroupAdd, jsondec.String)
	}
	return false, nil
}

func decodeLogConfig(d *jsondec.Decoder, l *LogConfig) error {
	return d.Fields("LogConfig", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &l.Type)
		case "config":
			return true, jsondec.Map(d, &l.Config, jsondec.String)
		}
		return false, nil
	})
}

func decodeRestartPolicy(d *jsondec.Decoder, r *RestartPolicy) error {
	return d.Fields("RestartPolicy", func(k string) (bool, error) {
		switch k {
		case "name":
			return true, jsondec.String(d, &r.Name)
		case "maximumretrycount":
			return true, jsondec.Int(d, &r.MaximumRetryCount)
		}
		return false, nil
	})
}

func decodeUlimit(d *jsondec.Decoder, u *Ulimit) error {
	return d.Fields("Ulimit", func(k string) (bool, error) {
		switch k {
		case "name":
			return true, jsondec.String(d, &u.Name)
		case "hard":
			return true, jsondec.Int(d, &u.Hard)
		case "soft":
			return true, jsondec.Int(d, &u.Soft)
		}
		return false, nil
	})
}

func decodeDeviceMapping(d *jsondec.Decoder, m *DeviceMapping) error {
	return d.Fields("DeviceMapping", func(k string) (bool, error) {
		switch k {
		case "pathonhost":
			return true, jsondec.String(d, &m.PathOnHost)
		case "pathincontainer":
			return true, jsondec.String(d, &m.PathInContainer)
		case "cgrouppermissions":
			return true, jsondec.String(d, &m.CgroupPermissions)
		}
		return false, nil
	})
}

func decodeMount(d *jsondec.Decoder, m *Mount) error {
	return d.Fields("Mount", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &m.Type)
		case "source":
			return true, jsondec.String(d, &m.Source)
		case "target":
			return true, jsondec.String(d, &m.Target)
		case "readonly":
			return true, jsondec.Bool(d, &m.ReadOnly)
		case "bindoptions":
			return true, jsondec.Ptr(d, &m.BindOptions, decodeBindOptions)
		case "tmpfsoptions":
			return true, jsondec.Ptr(d, &m.TmpfsOptions, decodeTmpfsOptions)
		case "volumeoptions":
			return true, jsondec.Ptr(d, &m.VolumeOptions, decodeVolumeOptions)
		case "flag":
			return true, jsondec.String(d, &m.Flag)
		}
		return false, nil
	})
}

func decodeBindOptions(d *jsondec.Decoder, o *BindOptions) error {
	return d.Fields("BindOptions", func(k string) (bool, error) {
		switch k {
		case "propagation":
			return true, jsondec.String(d, &o.Propagation)
		case "createmountpoint":
			return true, jsondec.Bool(d, &o.CreateMountpoint)
		case "idmap":
			return true, jsondec.Bool(d, &o.IDMap)
		}
		return false, nil
	})
}

func decodeTmpfsOptions(d *jsondec.Decoder, o *TmpfsOptions) error {
	return d.Fields("TmpfsOptions", func(k string) (bool, error) {
		switch k {
		case "sizebytes":
			return true, jsondec.Int(d, &o.SizeBytes)
		case "mode":
			return true, jsondec.Uint(d, &o.Mode)
		case "options":
			return true, jsondec.Slice(d, &o.Options, jsondec.String)
		}
		return false, nil
	})
}

func decodeVolumeOptions(d *jsondec.Decoder, o *VolumeOptions) error {
	return d.Fields("VolumeOptions", func(k string) (bool, error) {
		switch k {
		case "nocopy":
			return true, jsondec.Bool(d, &o.NoCopy)
		case "labels":
			return true, jsondec.Map(d, &o.Labels, jsondec.String)
		case "driverconfig":
			return true, jsondec.Ptr(d, &o.DriverConfig, decodeVolumeDriver)
		}
		return false, nil
	})
}

func decodeVolumeDriver(d *jsondec.Decoder, v *VolumeDriver) error {
	return d.Fields("VolumeDriver", func(k string) (bool, error) {
		switch k {
		case "name":
			return true, jsondec.String(d, &v.Name)
		case "options":
			return true, jsondec.Map(d, &v.Options, jsondec.String)
		}
		return false, nil
	})
}

func decodePortMap(d *jsondec.Decoder, m *map[string][]network.PortBinding) error {
	return jsondec.Map(d, m, func(d *jsondec.Decoder, s *[]network.PortBinding) error {
		return jsondec.Slice(d, s, decodePortBinding)
	})
}

func decodePortBinding(d *jsondec.Decoder, p *network.PortBinding) error {
	return d.Fields("PortBinding", func(k string) (bool, error) {
		switch k {
		case "hostip":
			return true, jsondec.String(d, &p.HostIP)
		case "hostport":
			return true, jsondec.String(d, &p.HostPort)
		}
		return false, nil
	})
}

func decodeState(d *jsondec.Decoder, s *State) error {
	return d.Fields("State", func(k string) (bool, error) {
		switch k {
		case "status":
			return true, jsondec.String(d, &s.Status)
		case "running":
			return true, jsondec.Bool(d, &s.Running)
		case "paused":
			return true, jsondec.Bool(d, &s.Paused)
		case "restarting":
			return true, jsondec.Bool(d, &s.Restarting)
		case "oomkilled":
			return true, jsondec.Bool(d, &s.OOMKilled)
		case "dead":
			return true, jsondec.Bool(d, &s.Dead)
		case "pid":
			return true, jsondec.Int(d, &s.Pid)
		case "exitcode":
			return true, jsondec.Int(d, &s.ExitCode)
		case "error":
			return true, jsondec.String(d, &s.Error)
		case "startedat":
			return true, jsondec.Time(d, &s.StartedAt)
		case "finishedat":
			return true, jsondec.Time(d, &s.FinishedAt)
		case "health":
			return true, jsondec.Ptr(d, &s.Health, decodeHealth)
		}
		return false, nil
	})
}

func decodeHealth(d *jsondec.Decoder, h *Health) error {
	return d.Fields("Health", func(k string) (bool, error) {
		switch k {
		case "status":
			return true, jsondec.String(d, &h.Status)
		case "failingstreak":
			return true, jsondec.Int(d, &h.FailingStreak)
		case "log":
			return true, jsondec.Slice(d, &h.Log, decodeHealthResult)
		}
		return false, nil
	})
}

func decodeHealthResult(d *jsondec.Decoder, r *HealthResult) error {
	return d.Fields("HealthResult", func(k string) (bool, error) {
		switch k {
		case "start":
			return true, jsondec.Time(d, &r.Start)
		case "end":
			return true, jsondec.Time(d, &r.End)
		case "exitcode":
			return true, jsondec.Int(d, &r.ExitCode)
		case "output":
			return true, jsondec.String(d, &r.Output)
		}
		return false, nil
	})
}

func decodeNetworkSettings(d *jsondec.Decoder, n *NetworkSettings) error {
	return d.Fields("NetworkSettings", func(k string) (bool, error) {
		switch k {
		case "sandboxkey":
			return true, jsondec.String(d, &n.SandboxKey)
		case "ports":
			return true, decodePortMap(d, &n.Ports)
		case "networks":
			return true, jsondec.Map(d, &n.Networks, func(d *jsondec.Decoder, e **EndpointSettings) error {
				return jsondec.Ptr(d, e, decodeEndpoint)
			})
		case "order":
			return true, jsondec.Slice(d, &n.Order, jsondec.String)
		}
		return false, nil
	})
}

func decodeEndpoint(d *jsondec.Decoder, e *EndpointSettings) error {
	return d.Fields("EndpointSettings", func(k string) (bool, error) {
		switch k {
		case "ipamconfig":
			return true, jsondec.Ptr(d, &e.IPAMConfig, decodeIPAMConfig)
		case "links":
			return true, jsondec.Slice(d, &e.Links, jsondec.String)
		case "aliases":
			return true, jsondec.Slice(d, &e.Aliases, jsondec.String)
		case "macaddress":
			return true, jsondec.String(d, &e.MacAddress)
		case "networkid":
			return true, jsondec.String(d, &e.NetworkID)
		case "endpointid":
			return true, jsondec.String(d, &e.EndpointID)
		case "gateway":
			return true, jsondec.String(d, &e.Gateway)
		case "ipaddress":
			return true, jsondec.String(d, &e.IPAddress)
		case "ipprefixlen":
			return true, jsondec.Int(d, &e.IPPrefixLen)
		case "ipv6gateway":
			return true, jsondec.String(d, &e.IPv6Gateway)
		case "globalipv6address":
			return true, jsondec.String(d, &e.GlobalIPv6Address)
		case "globalipv6prefixlen":
			return true, jsondec.Int(d, &e.GlobalIPv6PrefixLen)
		case "dnsnames":
			return true, jsondec.Slice(d, &e.DNSNames, jsondec.String)
		case "macrequested":
			return true, jsondec.String(d, &e.MacRequested)
		}
		return false, nil
	})
}

func decodeIPAMConfig(d *jsondec.Decoder, c *EndpointIPAMConfig) error {
	return d.Fields("EndpointIPAMConfig", func(k string) (bool, error) {
		switch k {
		case "ipv4address":
			return true, jsondec.String(d, &c.IPv4Address)
		case "ipv6address":
			return true, jsondec.String(d, &c.IPv6Address)
		}
		return false, nil
	})
}

func decodeMountPoint(d *jsondec.Decoder, m *MountPoint) error {
	return d.Fields("MountPoint", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &m.Type)
		case "name":
			return true, jsondec.String(d, &m.Name)
		case "destination":
			return true, jsondec.String(d, &m.Destination)
		case "driver":
			return true, jsondec.String(d, &m.Driver)
		case "rw":
			return true, jsondec.Bool(d, &m.RW)
		case "mode":
			return true, jsondec.String(d, &m.Mode)
		case "anonymous":
			return true, jsondec.Bool(d, &m.Anonymous)
		case "copydata":
			return true, jsondec.Bool(d, &m.CopyData)
		}
		return false, nil
	})
}

func decodeUserns(d *jsondec.Decoder, u *Userns) error {
	return d.Fields("Userns", func(k string) (bool, error) {
		switch k {
		case "hostuid":
			return true, jsondec.Uint(d, &u.HostUID)
		case "hostgid":
			return true, jsondec.Uint(d, &u.HostGID)
		case "size":
			return true, jsondec.Uint(d, &u.Size)
		}
		return false, nil
	})
}
