package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/jsonenc"
)

// The cgroup resources' encoders (see encode.go).

func appendResources(b []byte, r *specs.LinuxResources) []byte {
	start := jsonenc.Start(b)
	if len(r.Devices) > 0 {
		b = jsonenc.Slice(append(b, `,"devices":`...), r.Devices, appendDeviceCgroup)
	}
	if r.Memory != nil {
		b = appendMemory(append(b, `,"memory":`...), r.Memory)
	}
	if r.CPU != nil {
		b = appendCPU(append(b, `,"cpu":`...), r.CPU)
	}
	if r.Pids != nil {
		b = append(b, `,"pids":`...)
		st := jsonenc.Start(b)
		b = optInt(b, `,"limit":`, r.Pids.Limit)
		b = jsonenc.End(b, st)
	}
	if r.BlockIO != nil {
		b = appendBlockIO(append(b, `,"blockIO":`...), r.BlockIO)
	}
	if len(r.HugepageLimits) > 0 {
		b = jsonenc.Slice(append(b, `,"hugepageLimits":`...), r.HugepageLimits, appendHugepageLimit)
	}
	if r.Network != nil {
		b = appendNetwork(append(b, `,"network":`...), r.Network)
	}
	if len(r.Rdma) > 0 {
		b = jsonenc.Map(append(b, `,"rdma":`...), r.Rdma, appendRdma)
	}
	if len(r.Unified) > 0 {
		b = jsonenc.StringMap(append(b, `,"unified":`...), r.Unified)
	}
	return jsonenc.End(b, start)
}

// optInt and optUint append an omitempty pointer field, key included.
func optInt[T ~int | ~int64](b []byte, key string, p *T) []byte {
	if p == nil {
		return b
	}
	return jsonenc.Int(append(b, key...), *p)
}

func optUint[T ~uint16 | ~uint32 | ~uint64](b []byte, key string, p *T) []byte {
	if p == nil {
		return b
	}
	return jsonenc.Uint(append(b, key...), *p)
}

func optBool(b []byte, key string, p *bool) []byte {
	if p == nil {
		return b
	}
	return jsonenc.Bool(append(b, key...), *p)
}

func appendDeviceCgroup(b []byte, c *specs.LinuxDeviceCgroup) []byte {
	b = jsonenc.Bool(append(b, `{"allow":`...), c.Allow)
	if c.Type != "" {
		b = jsonenc.String(append(b, `,"type":`...), c.Type)
	}
	b = optInt(b, `,"major":`, c.Major)
	b = optInt(b, `,"minor":`, c.Minor)
	if c.Access != "" {
		b = jsonenc.String(append(b, `,"access":`...), c.Access)
	}
	return append(b, '}')
}

func appendMemory(b []byte, m *specs.LinuxMemory) []byte {
	start := jsonenc.Start(b)
	b = optInt(b, `,"limit":`, m.Limit)
	b = optInt(b, `,"reservation":`, m.Reservation)
	b = optInt(b, `,"swap":`, m.Swap)
	//lint:ignore SA1019 deprecated in the spec, still encoded as encoding/json would.
	b = optInt(b, `,"kernel":`, m.Kernel)
	b = optInt(b, `,"kernelTCP":`, m.KernelTCP)
	b = optUint(b, `,"swappiness":`, m.Swappiness)
	b = optBool(b, `,"disableOOMKiller":`, m.DisableOOMKiller)
	b = optBool(b, `,"useHierarchy":`, m.UseHierarchy)
	b = optBool(b, `,"checkBeforeUpdate":`, m.CheckBeforeUpdate)
	return jsonenc.End(b, start)
}

func appendCPU(b []byte, c *specs.LinuxCPU) []byte {
	start := jsonenc.Start(b)
	b = optUint(b, `,"shares":`, c.Shares)
	b = optInt(b, `,"quota":`, c.Quota)
	b = optUint(b, `,"burst":`, c.Burst)
	b = optUint(b, `,"period":`, c.Period)
	b = optInt(b, `,"realtimeRuntime":`, c.RealtimeRuntime)
	b = optUint(b, `,"realtimePeriod":`, c.RealtimePeriod)
	if c.Cpus != "" {
		b = jsonenc.String(append(b, `,"cpus":`...), c.Cpus)
	}
	if c.Mems != "" {
		b = jsonenc.String(append(b, `,"mems":`...), c.Mems)
	}
	b = optInt(b, `,"idle":`, c.Idle)
	return jsonenc.End(b, start)
}

func appendBlockIO(b []byte, io *specs.LinuxBlockIO) []byte {
	start := jsonenc.Start(b)
	b = optUint(b, `,"weight":`, io.Weight)
	b = optUint(b, `,"leafWeight":`, io.LeafWeight)
	if len(io.WeightDevice) > 0 {
		b = jsonenc.Slice(append(b, `,"weightDevice":`...), io.WeightDevice, appendWeightDevice)
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{`,"throttleReadBpsDevice":`, io.ThrottleReadBpsDevice},
		{`,"throttleWriteBpsDevice":`, io.ThrottleWriteBpsDevice},
		{`,"throttleReadIOPSDevice":`, io.ThrottleReadIOPSDevice},
		{`,"throttleWriteIOPSDevice":`, io.ThrottleWriteIOPSDevice},
	} {
		if len(t.devs) > 0 {
			b = jsonenc.Slice(append(b, t.key...), t.devs, appendThrottleDevice)
		}
	}
	return jsonenc.End(b, start)
}

// appendBlockIODevice appends the embedded LinuxBlockIODevice's fields,
// which encoding/json writes in place of the embedding.
func appendBlockIODevice(b []byte, d *specs.LinuxBlockIODevice) []byte {
	b = jsonenc.Int(append(b, `{"major":`...), d.Major)
	return jsonenc.Int(append(b, `,"minor":`...), d.Minor)
}

func appendWeightDevice(b []byte, w *specs.LinuxWeightDevice) []byte {
	b = appendBlockIODevice(b, &w.LinuxBlockIODevice)
	b = optUint(b, `,"weight":`, w.Weight)
	b = optUint(b, `,"leafWeight":`, w.LeafWeight)
	return append(b, '}')
}

func appendThrottleDevice(b []byte, t *specs.LinuxThrottleDevice) []byte {
	b = appendBlockIODevice(b, &t.LinuxBlockIODevice)
	return append(jsonenc.Uint(append(b, `,"rate":`...), t.Rate), '}')
}

func appendHugepageLimit(b []byte, h *specs.LinuxHugepageLimit) []byte {
	b = jsonenc.String(append(b, `{"pageSize":`...), h.Pagesize)
	return append(jsonenc.Uint(append(b, `,"limit":`...), h.Limit), '}')
}

func appendNetwork(b []byte, n *specs.LinuxNetwork) []byte {
	start := jsonenc.Start(b)
	b = optUint(b, `,"classID":`, n.ClassID)
	if len(n.Priorities) > 0 {
		b = jsonenc.Slice(append(b, `,"priorities":`...), n.Priorities, appendInterfacePriority)
	}
	return jsonenc.End(b, start)
}

func appendInterfacePriority(b []byte, p *specs.LinuxInterfacePriority) []byte {
	b = jsonenc.String(append(b, `{"name":`...), p.Name)
	return append(jsonenc.Uint(append(b, `,"priority":`...), p.Priority), '}')
}

func appendRdma(b []byte, r *specs.LinuxRdma) []byte {
	start := jsonenc.Start(b)
	b = optUint(b, `,"hcaHandles":`, r.HcaHandles)
	b = optUint(b, `,"hcaObjects":`, r.HcaObjects)
	return jsonenc.End(b, start)
}
