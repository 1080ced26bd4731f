package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// The linux.resources types, stored as decode.go's are.

func decodeResources(d *decoder, r *specs.LinuxResources) error {
	return d.fields("LinuxResources", func(k string) (bool, error) {
		switch k {
		case "devices":
			return true, slice(d, &r.Devices, decodeDeviceCgroup)
		case "memory":
			return true, ptr(d, &r.Memory, decodeMemory)
		case "cpu":
			return true, ptr(d, &r.CPU, decodeCPU)
		case "pids":
			return true, ptr(d, &r.Pids, decodePids)
		case "blockio":
			return true, ptr(d, &r.BlockIO, decodeBlockIO)
		case "hugepagelimits":
			return true, slice(d, &r.HugepageLimits, decodeHugepageLimit)
		case "network":
			return true, ptr(d, &r.Network, decodeNetwork)
		case "rdma":
			return true, mapOf(d, &r.Rdma, decodeRdma)
		case "unified":
			return true, mapOf(d, &r.Unified, strOf)
		}
		return false, nil
	})
}

func decodeDeviceCgroup(d *decoder, c *specs.LinuxDeviceCgroup) error {
	return d.fields("LinuxDeviceCgroup", func(k string) (bool, error) {
		switch k {
		case "allow":
			return true, boolean(d, &c.Allow)
		case "type":
			return true, strOf(d, &c.Type)
		case "major":
			return true, ptr(d, &c.Major, intOf)
		case "minor":
			return true, ptr(d, &c.Minor, intOf)
		case "access":
			return true, strOf(d, &c.Access)
		}
		return false, nil
	})
}

func decodeMemory(d *decoder, m *specs.LinuxMemory) error {
	return d.fields("LinuxMemory", func(k string) (bool, error) {
		switch k {
		case "limit":
			return true, ptr(d, &m.Limit, intOf)
		case "reservation":
			return true, ptr(d, &m.Reservation, intOf)
		case "swap":
			return true, ptr(d, &m.Swap, intOf)
		case "kernel":
			//lint:ignore SA1019 deprecated in the spec, still decoded as encoding/json would.
			return true, ptr(d, &m.Kernel, intOf)
		case "kerneltcp":
			return true, ptr(d, &m.KernelTCP, intOf)
		case "swappiness":
			return true, ptr(d, &m.Swappiness, uintOf)
		case "disableoomkiller":
			return true, ptr(d, &m.DisableOOMKiller, boolean)
		case "usehierarchy":
			return true, ptr(d, &m.UseHierarchy, boolean)
		case "checkbeforeupdate":
			return true, ptr(d, &m.CheckBeforeUpdate, boolean)
		}
		return false, nil
	})
}

func decodeCPU(d *decoder, c *specs.LinuxCPU) error {
	return d.fields("LinuxCPU", func(k string) (bool, error) {
		switch k {
		case "shares":
			return true, ptr(d, &c.Shares, uintOf)
		case "quota":
			return true, ptr(d, &c.Quota, intOf)
		case "burst":
			return true, ptr(d, &c.Burst, uintOf)
		case "period":
			return true, ptr(d, &c.Period, uintOf)
		case "realtimeruntime":
			return true, ptr(d, &c.RealtimeRuntime, intOf)
		case "realtimeperiod":
			return true, ptr(d, &c.RealtimePeriod, uintOf)
		case "cpus":
			return true, strOf(d, &c.Cpus)
		case "mems":
			return true, strOf(d, &c.Mems)
		case "idle":
			return true, ptr(d, &c.Idle, intOf)
		}
		return false, nil
	})
}

func decodePids(d *decoder, p *specs.LinuxPids) error {
	return d.fields("LinuxPids", func(k string) (bool, error) {
		if k == "limit" {
			return true, ptr(d, &p.Limit, intOf)
		}
		return false, nil
	})
}

func decodeBlockIO(d *decoder, b *specs.LinuxBlockIO) error {
	return d.fields("LinuxBlockIO", func(k string) (bool, error) {
		switch k {
		case "weight":
			return true, ptr(d, &b.Weight, uintOf)
		case "leafweight":
			return true, ptr(d, &b.LeafWeight, uintOf)
		case "weightdevice":
			return true, slice(d, &b.WeightDevice, decodeWeightDevice)
		case "throttlereadbpsdevice":
			return true, slice(d, &b.ThrottleReadBpsDevice, decodeThrottleDevice)
		case "throttlewritebpsdevice":
			return true, slice(d, &b.ThrottleWriteBpsDevice, decodeThrottleDevice)
		case "throttlereadiopsdevice":
			return true, slice(d, &b.ThrottleReadIOPSDevice, decodeThrottleDevice)
		case "throttlewriteiopsdevice":
			return true, slice(d, &b.ThrottleWriteIOPSDevice, decodeThrottleDevice)
		}
		return false, nil
	})
}

// blockIODevice stores the fields of the embedded LinuxBlockIODevice,
// which encoding/json promotes into the embedding struct.
func blockIODevice(d *decoder, b *specs.LinuxBlockIODevice, k string) (bool, error) {
	switch k {
	case "major":
		return true, intOf(d, &b.Major)
	case "minor":
		return true, intOf(d, &b.Minor)
	}
	return false, nil
}

func decodeWeightDevice(d *decoder, w *specs.LinuxWeightDevice) error {
	return d.fields("LinuxWeightDevice", func(k string) (bool, error) {
		switch k {
		case "weight":
			return true, ptr(d, &w.Weight, uintOf)
		case "leafweight":
			return true, ptr(d, &w.LeafWeight, uintOf)
		}
		return blockIODevice(d, &w.LinuxBlockIODevice, k)
	})
}

func decodeThrottleDevice(d *decoder, t *specs.LinuxThrottleDevice) error {
	return d.fields("LinuxThrottleDevice", func(k string) (bool, error) {
		if k == "rate" {
			return true, uintOf(d, &t.Rate)
		}
		return blockIODevice(d, &t.LinuxBlockIODevice, k)
	})
}

func decodeHugepageLimit(d *decoder, h *specs.LinuxHugepageLimit) error {
	return d.fields("LinuxHugepageLimit", func(k string) (bool, error) {
		switch k {
		case "pagesize":
			return true, strOf(d, &h.Pagesize)
		case "limit":
			return true, uintOf(d, &h.Limit)
		}
		return false, nil
	})
}

func decodeNetwork(d *decoder, n *specs.LinuxNetwork) error {
	return d.fields("LinuxNetwork", func(k string) (bool, error) {
		switch k {
		case "classid":
			return true, ptr(d, &n.ClassID, uintOf)
		case "priorities":
			return true, slice(d, &n.Priorities, decodeInterfacePriority)
		}
		return false, nil
	})
}

func decodeInterfacePriority(d *decoder, p *specs.LinuxInterfacePriority) error {
	return d.fields("LinuxInterfacePriority", func(k string) (bool, error) {
		switch k {
		case "name":
			return true, strOf(d, &p.Name)
		case "priority":
			return true, uintOf(d, &p.Priority)
		}
		return false, nil
	})
}

func decodeRdma(d *decoder, r *specs.LinuxRdma) error {
	return d.fields("LinuxRdma", func(k string) (bool, error) {
		switch k {
		case "hcahandles":
			return true, ptr(d, &r.HcaHandles, uintOf)
		case "hcaobjects":
			return true, ptr(d, &r.HcaObjects, uintOf)
		}
		return false, nil
	})
}
