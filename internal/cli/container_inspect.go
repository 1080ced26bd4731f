package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/network"
)

// inspectContainer is docker's container inspect JSON shape.
type inspectContainer struct {
	ID              string            `json:"Id"`
	Created         string            `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           inspectState      `json:"State"`
	Image           string            `json:"Image"`
	ResolvConfPath  string            `json:"ResolvConfPath"`
	HostnamePath    string            `json:"HostnamePath"`
	HostsPath       string            `json:"HostsPath"`
	LogPath         string            `json:"LogPath"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	Platform        string            `json:"Platform"`
	MountLabel      string            `json:"MountLabel"`
	ProcessLabel    string            `json:"ProcessLabel"`
	AppArmorProfile string            `json:"AppArmorProfile"`
	ExecIDs         []string          `json:"ExecIDs"`
	HostConfig      inspectHostConfig `json:"HostConfig"`
	GraphDriver     graphDriver       `json:"GraphDriver"`
	Mounts          []inspectMount    `json:"Mounts"`
	Config          engine.Config     `json:"Config"`
	NetworkSettings networkSettings   `json:"NetworkSettings"`
	// SizeRw and SizeRootFs are there with --size, as docker's.
	SizeRw     *int64 `json:"SizeRw,omitempty"`
	SizeRootFs *int64 `json:"SizeRootFs,omitempty"`
}

// inspectHostConfig is the record's HostConfig as docker's inspect shows
// it (docker 20.10's keys, compared with a real dockerd by
// tests/dockercmp): the fields below shadow the record's where docker
// writes them differently, fill in the defaults the engine applies, and
// add docker's knobs that pelagos has no use for at their zero values.
// Empty lists are [] or null as docker's are.
type inspectHostConfig struct {
	engine.HostConfig
	Init           *bool          `json:"Init,omitempty"`
	Mounts         []engine.Mount `json:"Mounts,omitempty"`
	OomKillDisable bool           `json:"OomKillDisable"`
	ShmSize        int64          `json:"ShmSize"`
	IpcMode        string         `json:"IpcMode"`
	CgroupnsMode   string         `json:"CgroupnsMode"`

	PortBindings map[string][]network.PortBinding `json:"PortBindings"`
	DNS          []string                         `json:"Dns"`
	DNSOptions   []string                         `json:"DnsOptions"`
	DNSSearch    []string                         `json:"DnsSearch"`
	Devices      []engine.DeviceMapping           `json:"Devices"`

	MaskedPaths   []string `json:"MaskedPaths"`
	ReadonlyPaths []string `json:"ReadonlyPaths"`
	Runtime       string   `json:"Runtime"`

	ContainerIDFile      string     `json:"ContainerIDFile"`
	VolumeDriver         string     `json:"VolumeDriver"`
	Cgroup               string     `json:"Cgroup"`
	Links                []string   `json:"Links"`
	ConsoleSize          [2]uint    `json:"ConsoleSize"`
	Isolation            string     `json:"Isolation"`
	BlkioWeight          uint16     `json:"BlkioWeight"`
	BlkioWeightDevice    []struct{} `json:"BlkioWeightDevice"`
	BlkioDeviceReadBps   []struct{} `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []struct{} `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []struct{} `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []struct{} `json:"BlkioDeviceWriteIOps"`
	CPURealtimePeriod    int64      `json:"CpuRealtimePeriod"`
	CPURealtimeRuntime   int64      `json:"CpuRealtimeRuntime"`
	DeviceRequests       []struct{} `json:"DeviceRequests"`
	KernelMemory         int64      `json:"KernelMemory"`
	KernelMemoryTCP      int64      `json:"KernelMemoryTCP"`
	MemorySwappiness     *int64     `json:"MemorySwappiness"`
	CPUCount             int64      `json:"CpuCount"`
	CPUPercent           int64      `json:"CpuPercent"`
	IOMaximumIOps        uint64     `json:"IOMaximumIOps"`
	IOMaximumBandwidth   uint64     `json:"IOMaximumBandwidth"`
}

// toInspectHostConfig fills inspectHostConfig from the record.
func toInspectHostConfig(hc engine.HostConfig) inspectHostConfig {
	out := inspectHostConfig{
		HostConfig: hc, Init: hc.Init, ShmSize: hc.ShmSize, IpcMode: hc.IpcMode, CgroupnsMode: hc.CgroupnsMode,
		OomKillDisable: hc.OomKillDisable != nil && *hc.OomKillDisable,
		PortBindings:   hc.PortBindings, DNS: nonNil(hc.DNS), DNSOptions: nonNil(hc.DNSOptions), DNSSearch: nonNil(hc.DNSSearch),
		Devices: nonNil(hc.Devices), BlkioWeightDevice: []struct{}{},
		MaskedPaths: engine.MaskedPaths(&hc), ReadonlyPaths: engine.ReadonlyPaths(&hc), Runtime: "pelagos",
	}
	for _, m := range hc.Mounts {
		if m.Flag == "" {
			out.Mounts = append(out.Mounts, m)
		}
	}
	if out.PortBindings == nil {
		out.PortBindings = map[string][]network.PortBinding{}
	}
	if out.ShmSize == 0 {
		out.ShmSize = engine.DefaultShmSize
	}
	// The namespaces every container gets unless told otherwise.
	if out.IpcMode == "" {
		out.IpcMode = "private"
	}
	if out.CgroupnsMode == "" {
		out.CgroupnsMode = "private"
	}
	return out
}

// nonNil is s, or an empty slice (JSON []) for nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type inspectState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	Pid        int    `json:"Pid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// Health is present when the container has a health check.
	Health *engine.Health `json:"Health,omitempty"`
}

type inspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

type networkSettings struct {
	Bridge                 string                           `json:"Bridge"`
	SandboxID              string                           `json:"SandboxID"`
	SandboxKey             string                           `json:"SandboxKey"`
	Ports                  map[string][]network.PortBinding `json:"Ports"`
	HairpinMode            bool                             `json:"HairpinMode"`
	LinkLocalIPv6Address   string                           `json:"LinkLocalIPv6Address"`
	LinkLocalIPv6PrefixLen int                              `json:"LinkLocalIPv6PrefixLen"`
	SecondaryIPAddresses   []string                         `json:"SecondaryIPAddresses"`
	SecondaryIPv6Addresses []string                         `json:"SecondaryIPv6Addresses"`
	EndpointID             string                           `json:"EndpointID"`
	Gateway                string                           `json:"Gateway"`
	GlobalIPv6Address      string                           `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen    int                              `json:"GlobalIPv6PrefixLen"`
	IPAddress              string                           `json:"IPAddress"`
	IPPrefixLen            int                              `json:"IPPrefixLen"`
	IPv6Gateway            string                           `json:"IPv6Gateway"`
	MacAddress             string                           `json:"MacAddress"`
	Networks               map[string]networkSetting        `json:"Networks"`
}

// networkSetting is one network of a container, in docker's shape.
type networkSetting struct {
	IPAMConfig          *engine.EndpointIPAMConfig `json:"IPAMConfig"`
	Links               []string                   `json:"Links"`
	Aliases             []string                   `json:"Aliases"`
	MacAddress          string                     `json:"MacAddress"`
	DriverOpts          map[string]string          `json:"DriverOpts"`
	GwPriority          int                        `json:"GwPriority"`
	NetworkID           string                     `json:"NetworkID"`
	EndpointID          string                     `json:"EndpointID"`
	Gateway             string                     `json:"Gateway"`
	IPAddress           string                     `json:"IPAddress"`
	IPPrefixLen         int                        `json:"IPPrefixLen"`
	IPv6Gateway         string                     `json:"IPv6Gateway"`
	GlobalIPv6Address   string                     `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int                        `json:"GlobalIPv6PrefixLen"`
	DNSNames            []string                   `json:"DNSNames"`
}

// toNetworkSettings is c's NetworkSettings as docker shows them: the
// default bridge network's endpoint is also given at the top level.
func toNetworkSettings(c *engine.Container) networkSettings {
	ns := c.NetworkSettings
	out := networkSettings{SandboxKey: ns.SandboxKey, Ports: ns.Ports, Networks: map[string]networkSetting{}}
	if out.Ports == nil {
		out.Ports = map[string][]network.PortBinding{}
	}
	if ns.SandboxKey != "" {
		out.SandboxID = c.ID
	}
	if len(ns.Networks) == 0 {
		out.Networks[c.HostConfig.NetworkMode] = networkSetting{}
	}
	for name, es := range ns.Networks {
		out.Networks[name] = networkSetting{
			IPAMConfig: es.IPAMConfig, Aliases: es.Aliases, MacAddress: es.MacAddress, NetworkID: es.NetworkID,
			EndpointID: es.EndpointID, Gateway: es.Gateway, IPAddress: es.IPAddress, IPPrefixLen: es.IPPrefixLen,
			IPv6Gateway: es.IPv6Gateway, GlobalIPv6Address: es.GlobalIPv6Address,
			GlobalIPv6PrefixLen: es.GlobalIPv6PrefixLen, DNSNames: es.DNSNames,
		}
		if name == network.DefaultNetwork {
			out.EndpointID, out.Gateway, out.IPAddress, out.IPPrefixLen = es.EndpointID, es.Gateway, es.IPAddress, es.IPPrefixLen
			out.IPv6Gateway, out.GlobalIPv6Address, out.GlobalIPv6PrefixLen = es.IPv6Gateway, es.GlobalIPv6Address, es.GlobalIPv6PrefixLen
			out.MacAddress = es.MacAddress
		}
	}
	return out
}

// dockerTime formats as docker's inspect: RFC 3339 with nanoseconds, and
// the zero time as 0001-01-01T00:00:00Z.
func dockerTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func toInspect(e *engine.Engine, c *engine.Container) inspectContainer {
	s := c.State
	paused := e.Paused(c)
	status := s.Status
	if paused {
		status = engine.StatusPaused
	}
	ic := inspectContainer{
		ID: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args,
		State: inspectState{
			Status: status, Running: s.Running, Paused: paused, Restarting: s.Restarting,
			OOMKilled: s.OOMKilled, Dead: s.Dead, Pid: s.Pid, ExitCode: s.ExitCode, Error: s.Error,
			StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt),
			Health: s.Health,
		},
		Image:          c.Image,
		ResolvConfPath: filepath.Join(c.Dir(), "resolv.conf"), HostnamePath: filepath.Join(c.Dir(), "hostname"),
		HostsPath: filepath.Join(c.Dir(), "hosts"), LogPath: c.LogPath(), Name: "/" + c.Name,
		RestartCount: c.RestartCount, Driver: "overlay", Platform: "linux",
		HostConfig: toInspectHostConfig(c.HostConfig), Config: inspectConfig(c), Mounts: []inspectMount{},
		GraphDriver:     graphDriver{Name: "overlay", Data: map[string]string{"MergedDir": c.RootfsPath()}},
		NetworkSettings: toNetworkSettings(c),
	}
	if ic.Args == nil {
		ic.Args = []string{}
	}
	if s.StartedAt.IsZero() {
		// docker writes these files, and names them, at the first start.
		ic.HostnamePath, ic.HostsPath, ic.ResolvConfPath, ic.LogPath = "", "", "", ""
	}
	if st, err := e.Images(); err == nil {
		snap := filepath.Join(st.Root(), "snapshots", c.ID)
		ic.GraphDriver.Data["UpperDir"] = filepath.Join(snap, "upper")
		ic.GraphDriver.Data["WorkDir"] = filepath.Join(snap, "work")
		if img, err := st.Lookup(c.Image); err == nil && len(img.Layers) > 0 {
			// The overlay's lower layers, top first, as docker's overlay2.
			lower := make([]string, 0, len(img.Layers))
			for i := len(img.Layers) - 1; i >= 0; i-- {
				lower = append(lower, st.LayerDir(img.Layers[i]))
			}
			ic.GraphDriver.Data["LowerDir"] = strings.Join(lower, ":")
		}
	}
	ic.Mounts = append(ic.Mounts, volumeMounts(e, c)...)
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" || m.Flag == "--tmpfs" {
			continue // volumes are in volumeMounts; docker lists no --tmpfs
		}
		im := inspectMount{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		if m.Type == "bind" {
			im.Propagation = "rprivate"
			if m.BindOptions != nil && m.BindOptions.Propagation != "" {
				im.Propagation = m.BindOptions.Propagation
			}
		}
		if m.ReadOnly {
			im.Mode = "ro"
		}
		ic.Mounts = append(ic.Mounts, im)
	}
	return ic
}

// addSizes adds --size's fields: the bytes of the container's writable
// layer, and of it and its image together.
func addSizes(e *engine.Engine, c *engine.Container, ic *inspectContainer) {
	st, err := e.Images()
	if err != nil {
		return
	}
	rw := containerRW(st, c)
	root := rw
	if img, err := st.Lookup(c.Image); err == nil {
		root += img.Size
	}
	ic.SizeRw, ic.SizeRootFs = &rw, &root
}

// inspectConfig is the record's Config as docker shows it: the hostname
// the container gets when none was asked for, and {} for no labels.
func inspectConfig(c *engine.Container) engine.Config {
	cfg := c.Config
	if cfg.Hostname == "" && c.HostConfig.NetworkMode != "host" && c.HostConfig.UTSMode != "host" {
		cfg.Hostname = c.ShortID()
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	// docker records -v /path (an anonymous volume) as a VOLUME.
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" && m.Source == "" && m.Flag == "-v" {
			if _, ok := cfg.Volumes[m.Target]; !ok {
				cfg.Volumes = maps.Clone(cfg.Volumes)
				if cfg.Volumes == nil {
					cfg.Volumes = map[string]struct{}{}
				}
				cfg.Volumes[m.Target] = struct{}{}
			}
		}
	}
	return cfg
}

// newInspectContainerCmd is `container inspect`, or with images the
// top-level `inspect`, which also finds images.
func newInspectContainerCmd(g *globals, images bool) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return inspectAny(ctx, g, e, args, format, images, size)
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	return cmd
}

// inspectAny prints containers (and, with images, images of that name
// when no container has it), as docker's top-level inspect does.
func inspectAny(ctx context.Context, g *globals, e *engine.Engine, refs []string, format string, images, size bool) error {
	var out []any
	var errs []error
	for _, ref := range refs {
		c, err := e.Get(ctx, ref)
		if err == nil {
			ic := toInspect(e, c)
			if size {
				addSizes(e, c, &ic)
			}
			out = append(out, ic)
			continue
		}
		if images && errors.Is(err, engine.ErrNotFound) {
			if st, serr := e.Images(); serr == nil {
				if img, ierr := st.Lookup(ref); ierr == nil {
					if ii, ierr := inspect(st, img); ierr == nil {
						out = append(out, ii)
						continue
					}
				}
			}
			if n, nerr := e.Net.Inspect(ctx, ref); nerr == nil {
				out = append(out, n)
				continue
			}
			if v, verr := e.Volume(ref); verr == nil {
				out = append(out, toInspectVolume(v))
				continue
			}
			err = dockerError("No such object: " + ref)
		}
		errs = append(errs, err)
	}
	if err := printAnyInspect(g, format, out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// inspectEach inspects every ref with get, prints what it found as
// docker's inspect does, and then reports the refs it could not find.
func inspectEach(g *globals, format string, refs []string, get func(string) (any, error)) error {
	var out []any
	var errs []error
	for _, ref := range refs {
		v, err := get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	if err := printAnyInspect(g, format, out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func printAnyInspect(g *globals, format string, out []any) error {
	if format == "" {
		if out == nil {
			out = []any{}
		}
		b, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(g.out, string(b))
		return nil
	}
	tmpl, err := template.New("f").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return withStatus(64, fmt.Errorf("template parsing error: %w", err)) // docker's status for it
	}
	for _, v := range out {
		// Templates see the JSON form, as docker's do: {{.State.Status}}.
		b, _ := json.Marshal(v)
		generic := templateData(b)
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, generic); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		fmt.Fprintln(g.out, buf.String())
	}
	return nil
}

// templateData decodes a JSON object for a template, keeping whole numbers
// whole: {{.HostConfig.Memory}} prints 134217728 as docker's does, not the
// 1.34217728e+08 of a float64, and comparisons such as {{if gt .State.Pid
// 0}} still work on ints.
func templateData(b []byte) map[string]any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var generic map[string]any
	_ = d.Decode(&generic)
	for k, v := range generic {
		generic[k] = wholeNumbers(v)
	}
	return generic
}

func wholeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = wholeNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = wholeNumbers(e)
		}
	}
	return v
}
