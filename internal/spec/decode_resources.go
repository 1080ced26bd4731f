package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/jsondec"
)

// The linux.resources types, stored as decode.go's are.

func decodeResources(d *jsondec.Decoder, r *specs.LinuxResources) error {
	return d.Fields("LinuxResources", func(k string) (bool, error) {
		switch k {
		case "devices":
			return true, jsondec.Slice(d, &r.Devices, decodeDeviceCgroup)
		case "memory":
			return true, jsondec.Ptr(d, &r.Memory, decodeMemory)
		case "cpu":
			return true, jsondec.Ptr(d, &r.CPU, decodeCPU)
		case "pids":
			return true, jsondec.Ptr(d, &r.Pids, decodePids)
		case "blockio":
			return true, jsondec.Ptr(d, &r.BlockIO, decodeBlockIO)
		case "hugepagelimits":
			return true, jsondec.Slice(d, &r.HugepageLimits, decodeHugepageLimit)
		case "network":
			return true, jsondec.Ptr(d, &r.Network, decodeNetwork)
		case "rdma":
			return true, jsondec.Map(d, &r.Rdma, decodeRdma)
		case "unified":
			return true, jsondec.Map(d, &r.Unified, jsondec.String)
		}
		return false, nil
	})
}

func decodeDeviceCgroup(d *jsondec.Decoder, c *specs.LinuxDeviceCgroup) error {
	return d.Fields("LinuxDeviceCgroup", func(k string) (bool, error) {
		switch k {
		case "allow":
			return true, jsondec.Bool(d, &c.Allow)
		case "type":
			return true, jsondec.String(d, &c.Type)
		case "major":
			return true, jsondec.Ptr(d, &c.Major, jsondec.Int)
		case "minor":
			return true, jsondec.Ptr(d, &c.Minor, jsondec.Int)
		case "access":
			return true, jsondec.String(d, &c.Access)
		}
		return false, nil
	})
}

func decodeMemory(d *jsondec.Decoder, m *specs.LinuxMemory) error {
	return d.Fields("LinuxMemory", func(k string) (bool, error) {
		switch k {
		case "limit":
			return true, jsondec.Ptr(d, &m.Limit, jsondec.Int)
		case "reservation":
			return true, jsondec.Ptr(d, &m.Reservation, jsondec.Int)
		case "swap":
			return true, jsondec.Ptr(d, &m.Swap, jsondec.Int)
		case "kernel":
			//lint:ignore SA1019 deprecated in the spec, still decoded as encoding/json would.
			return true, jsondec.Ptr(d, &m.Kernel, jsondec.Int)
		case "kerneltcp":
			return true, jsondec.Ptr(d, &m.KernelTCP, jsondec.Int)
		case "swappiness":
			return true, jsondec.Ptr(d, &m.Swappiness, jsondec.Uint)
		case "disableoomkiller":
			return true, jsondec.Ptr(d, &m.DisableOOMKiller, jsondec.Bool)
		case "usehierarchy":
			return true, jsondec.Ptr(d, &m.UseHierarchy, jsondec.Bool)
		case "checkbeforeupdate":
			return true, jsondec.Ptr(d, &m.CheckBeforeUpdate, jsondec.Bool)
		}
		return false, nil
	})
}

func decodeCPU(d *jsondec.Decoder, c *specs.LinuxCPU) error {
	return d.Fields("LinuxCPU", func(k string) (bool, error) {
		switch k {
		case "shares":
			return true, jsondec.Ptr(d, &c.Shares, jsondec.Uint)
		case "quota":
			return true, jsondec.Ptr(d, &c.Quota, jsondec.Int)
		case "burst":
			return true, jsondec.Ptr(d, &c.Burst, jsondec.Uint)
		case "period":
			return true, jsondec.Ptr(d, &c.Period, jsondec.Uint)
		case "realtimeruntime":
			return true, jsondec.Ptr(d, &c.RealtimeRuntime, jsondec.Int)
		case "realtimeperiod":
			return true, jsondec.Ptr(d, &c.RealtimePeriod, jsondec.Uint)
		case "cpus":
			return true, jsondec.String(d, &c.Cpus)
		case "mems":
			return true, jsondec.String(d, &c.Mems)
		case "idle":
			return true, jsondec.Ptr(d, &c.Idle, jsondec.Int)
		}
		return false, nil
	})
}

func decodePids(d *jsondec.Decoder, p *specs.LinuxPids) error {
	return d.Fields("LinuxPids", func(k string) (bool, error) {
		if k == "limit" {
			return true, jsondec.Ptr(d, &p.Limit, jsondec.Int)
		}
		return false, nil
	})
}

func decodeBlockIO(d *jsondec.Decoder, b *specs.LinuxBlockIO) error {
	return d.Fields("LinuxBlockIO", func(k string) (bool, error) {
		switch k {
		case "weight":
			return true, jsondec.Ptr(d, &b.Weight, jsondec.Uint)
		case "leafweight":
			return true, jsondec.Ptr(d, &b.LeafWeight, jsondec.Uint)
		case "weightdevice":
			return true, jsondec.Slice(d, &b.WeightDevice, decodeWeightDevice)
		case "throttlereadbpsdevice":
			return true, jsondec.Slice(d, &b.ThrottleReadBpsDevice, decodeThrottleDevice)
		case "throttlewritebpsdevice":
			return true, jsondec.Slice(d, &b.ThrottleWriteBpsDevice, decodeThrottleDevice)
		case "throttlereadiopsdevice":
			return true, jsondec.Slice(d, &b.ThrottleReadIOPSDevice, decodeThrottleDevice)
		case "throttlewriteiopsdevice":
			return true, jsondec.Slice(d, &b.ThrottleWriteIOPSDevice, decodeThrottleDevice)
		}
		return false, nil
	})
}

// blockIODevice stores the fields of the embedded LinuxBlockIODevice,
// which encoding/json promotes into the embedding struct.
func blockIODevice(d *jsondec.Decoder, b *specs.LinuxBlockIODevice, k string) (bool, error) {
	switch k {
	case "major":
		return true, jsondec.Int(d, &b.Major)
	case "minor":
		return true, jsondec.Int(d, &b.Minor)
	}
	return false, nil
}

func decodeWeightDevice(d *jsondec.Decoder, w *specs.LinuxWeightDevice) error {
	return d.Fields("LinuxWeightDevice", func(k string) (bool, error) {
		switch k {
		case "weight":
			return true, jsondec.Ptr(d, &w.Weight, jsondec.Uint)
		case "leafweight":
			return true, jsondec.Ptr(d, &w.LeafWeight, jsondec.Uint)
		}
		return blockIODevice(d, &w.LinuxBlockIODevice, k)
	})
}

func decodeThrottleDevice(d *jsondec.Decoder, t *specs.LinuxThrottleDevice) error {
	return d.Fields("LinuxThrottleDevice", func(k string) (bool, error) {
		if k == "rate" {
			return true, jsondec.Uint(d, &t.Rate)
		}
		return blockIODevice(d, &t.LinuxBlockIODevice, k)
	})
}

func decodeHugepageLimit(d *jsondec.Decoder, h *specs.LinuxHugepageLimit) error {
	return d.Fields("LinuxHugepageLimit", func(k string) (bool, error) {
		switch k {
		case "pagesize":
			return true, jsondec.String(d, &h.Pagesize)
		case "limit":
			return true, jsondec.Uint(d, &h.Limit)
		}
		return false, nil
	})
}

func decodeNetwork(d *jsondec.Decoder, n *specs.LinuxNetwork) error {
	return d.Fields("LinuxNetwork", func(k string) (bool, error) {
		switch k {
		case "classid":
			return true, jsondec.Ptr(d, &n.ClassID, jsondec.Uint)
		case "priorities":
			return true, jsondec.Slice(d, &n.Priorities, decodeInterfacePriority)
		}
		return false, nil
	})
}

func decodeInterfacePriority(d *jsondec.Decoder, p *specs.LinuxInterfacePriority) error {
	return d.Fields("LinuxInterfacePriority", func(k string) (bool, error) {
		switch k {
		case "name":
			return true, jsondec.String(d, &p.Name)
		case "priority":
			return true, jsondec.Uint(d, &p.Priority)
		}
		return false, nil
	})
}

func decodeRdma(d *jsondec.Decoder, r *specs.LinuxRdma) error {
	return d.Fields("LinuxRdma", func(k string) (bool, error) {
		switch k {
		case "hcahandles":
			return true, jsondec.Ptr(d, &r.HcaHandles, jsondec.Uint)
		case "hcaobjects":
			return true, jsondec.Ptr(d, &r.HcaObjects, jsondec.Uint)
		}
		return false, nil
	})
}
