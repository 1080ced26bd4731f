package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// Version is pelagos's version, set by the main package from its
// build-time version string.
var Version = "0.0.0-dev"

// addInfoCommands adds info and version, at the top level and under
// system (info), as docker has them.
func addInfoCommands(root, sys *cobra.Command, g *globals) {
	root.AddCommand(newInfoCmd(g), newVersionCmd(g))
	sys.AddCommand(newInfoCmd(g))
}

// VersionInfo is one side of `version`, with docker's field names.
type VersionInfo struct {
	Platform  struct{ Name string }
	Version   string
	GitCommit string
	GoVersion string
	Os        string
	Arch      string
	BuildTime string
	// Context and Experimental are the client's, KernelVersion and
	// Components the server's, as docker has them.
	Context       string             `json:",omitempty"`
	Experimental  *bool              `json:",omitempty"`
	KernelVersion string             `json:",omitempty"`
	Components    []VersionComponent `json:",omitempty"`
}

// VersionComponent is a part of the server and its version: pelagos's
// engine and runtime are the pelagos binary itself.
type VersionComponent struct {
	Name    string
	Version string
	Details map[string]string
}

// Versions is what `version --format` sees: docker's Client and Server.
// pelagos has no daemon: the server is the same binary.
type Versions struct {
	Client VersionInfo
	Server VersionInfo
}

func versions() Versions {
	v := VersionInfo{Version: Version, GitCommit: "unknown", GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.GitCommit = s.Value[:min(7, len(s.Value))]
			case "vcs.time":
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					v.BuildTime = t.Format(time.ANSIC)
				}
			}
		}
	}
	client, server := v, v
	client.Context = "default"
	client.Platform.Name = "pelagos"
	client.Experimental = new(bool)
	server.Platform.Name = "pelagos (daemonless)"
	var uts unix.Utsname
	unix.Uname(&uts)
	server.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	server.Components = []VersionComponent{{Name: "Engine", Version: v.Version, Details: map[string]string{
		"GitCommit": v.GitCommit, "GoVersion": v.GoVersion, "Os": v.Os, "Arch": v.Arch,
		"KernelVersion": server.KernelVersion, "BuildTime": v.BuildTime, "Experimental": "false",
	}}}
	return Versions{Client: client, Server: server}
}

func newVersionCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the pelagos version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := versions()
			if format != "" {
				return formatOne(g.out, format, v)
			}
			printVersion(g.out, v)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('json' or a Go template)")
	return cmd
}

func printVersion(w io.Writer, v Versions) {
	side := func(indent string, s VersionInfo) {
		fmt.Fprintf(w, "%sVersion:           %s\n", indent, s.Version)
		fmt.Fprintf(w, "%sGo version:        %s\n", indent, s.GoVersion)
		fmt.Fprintf(w, "%sGit commit:        %s\n", indent, s.GitCommit)
		if s.BuildTime != "" {
			fmt.Fprintf(w, "%sBuilt:             %s\n", indent, s.BuildTime)
		}
		fmt.Fprintf(w, "%sOS/Arch:           %s/%s\n", indent, s.Os, s.Arch)
	}
	fmt.Fprintln(w, "Client:")
	side(" ", v.Client)
	fmt.Fprintf(w, " Context:           %s\n\n", v.Client.Context)
	fmt.Fprintf(w, "Server: %s\n Engine:\n", v.Server.Platform.Name)
	side("  ", v.Server)
}

// formatOne runs a --format template (or "json") on one value.
func formatOne(w io.Writer, format string, v any) error {
	if format == "json" {
		format = "{{json .}}"
	}
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return withStatus(125, fmt.Errorf("template parsing error: %w", err))
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// Info is what `info --format` sees, with docker's field names for what
// applies to pelagos.
type Info struct {
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Driver            string
	// DriverStatus: the overlay driver reports nothing more.
	DriverStatus [][2]string
	Plugins      infoPlugins
	hostFeatures
	Debug              bool
	SystemTime         string
	LoggingDriver      string
	CgroupDriver       string
	CgroupVersion      string
	KernelVersion      string
	OperatingSystem    string
	OSVersion          string
	OSType             string
	Architecture       string
	IndexServerAddress string
	NCPU               int
	MemTotal           int64
	GenericResources   []struct{}
	DockerRootDir      string
	HTTPProxy          string `json:"HttpProxy"`
	HTTPSProxy         string `json:"HttpsProxy"`
	NoProxy            string
	Name               string
	Labels             []string
	ExperimentalBuild  bool
	ServerVersion      string
	RegistryConfig     registryServiceConfig
	Runtimes           map[string]infoRuntime
	DefaultRuntime     string
	// LiveRestoreEnabled: containers outlive every pelagos process, as
	// docker's do with live restore.
	LiveRestoreEnabled bool
	Isolation          string
	SecurityOptions    []string
	Warnings           []string
	ClientInfo         infoClient
}

// infoPlugins are the volume, network and log drivers there are.
type infoPlugins struct {
	Volume        []string
	Network       []string
	Authorization []string
	Log           []string
}

type infoRuntime struct {
	Path string `json:"path"`
}

// infoClient is what docker's CLI adds about itself.
type infoClient struct {
	Debug    bool
	Context  string
	Plugins  []struct{}
	Warnings []string
}

func newInfoCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, _ []string) error {
			info, err := systemInfo(ctx, e)
			if err != nil {
				return err
			}
			rc, err := g.registryConfig()
			if err != nil {
				return err
			}
			info.RegistryConfig = registryInfo(rc)
			if format != "" {
				return formatOne(g.out, format, info)
			}
			printInfo(g.out, info)
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output using a custom template ('json' or a Go template)")
	return cmd
}

func systemInfo(ctx context.Context, e *engine.Engine) (Info, error) {
	cs, err := e.List(ctx)
	if err != nil {
		return Info{}, err
	}
	st, err := e.Images()
	if err != nil {
		return Info{}, err
	}
	imgs, err := st.Images()
	if err != nil {
		return Info{}, err
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	var si unix.Sysinfo_t
	unix.Sysinfo(&si)
	host, _ := os.Hostname()
	info := Info{
		Containers: len(cs), Images: len(imgs), Driver: "overlay", LoggingDriver: "json-file",
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion(), KernelVersion: unix.ByteSliceToString(uts.Release[:]),
		OperatingSystem: osRelease(), OSType: runtime.GOOS, Architecture: unix.ByteSliceToString(uts.Machine[:]),
		NCPU: runtime.NumCPU(), MemTotal: int64(si.Totalram) * int64(si.Unit), Name: host,
		ServerVersion: Version, DockerRootDir: e.Root(), DefaultRuntime: "pelagos",
		SecurityOptions: []string{"name=seccomp,profile=builtin"},

		DriverStatus: [][2]string{}, hostFeatures: probeHostFeatures(), LiveRestoreEnabled: true,
		Plugins:            infoPlugins{Volume: []string{"local"}, Network: []string{"bridge", "host", "none"}, Log: []string{"json-file"}},
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		OSVersion:          osReleaseField("VERSION_ID", ""),
		IndexServerAddress: "https://index.docker.io/v1/",
		HTTPProxy:          proxyEnv("HTTP_PROXY"), HTTPSProxy: proxyEnv("HTTPS_PROXY"), NoProxy: proxyEnv("NO_PROXY"),
		Labels:     []string{},
		Runtimes:   map[string]infoRuntime{"pelagos": {Path: selfPath()}},
		ClientInfo: infoClient{Context: "default", Plugins: []struct{}{}},
	}
	if e.Rootless {
		// As rootless docker shows itself: no cgroups of its own.
		info.CgroupDriver = "none"
		info.SecurityOptions = append(info.SecurityOptions, "name=rootless")
	}
	for _, c := range cs {
		switch {
		case e.Paused(c):
			info.ContainersPaused++
		case c.State.Running:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

// cgroupVersion is "2" on a unified hierarchy, "1" otherwise (hybrid
// hosts enforce limits through v1).
func cgroupVersion() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "2"
	}
	return "1"
}

// osRelease is PRETTY_NAME from os-release.
func osRelease() string { return osReleaseField("PRETTY_NAME", "Linux") }

// osReleaseField is key's value in os-release, or def.
func osReleaseField(key, def string) string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return def
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return def
}

// proxyEnv is the proxy setting pelagos's registry client uses, from
// the upper- or lower-case variable, as Go's net/http reads them.
func proxyEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return os.Getenv(strings.ToLower(name))
}

// selfPath is this binary, which holds pelagos's runtime.
func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return "pelagos"
	}
	return p
}

func printInfo(w io.Writer, i Info) {
	v := versions().Client
	fmt.Fprintf(w, "Client:\n Version:    %s\n Context:    %s\n\n", v.Version, v.Context)
	fmt.Fprintf(w, "Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n",
		i.Containers, i.ContainersRunning, i.ContainersPaused, i.ContainersStopped, i.Images)
	fmt.Fprintf(w, " Server Version: %s\n Storage Driver: %s\n Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n",
		i.ServerVersion, i.Driver, i.LoggingDriver, i.CgroupDriver, i.CgroupVersion)
	fmt.Fprintf(w, " Default Runtime: %s\n Security Options:\n  seccomp\n   Profile: builtin\n", i.DefaultRuntime)
	fmt.Fprintf(w, " Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n Name: %s\n Docker Root Dir: %s\n",
		i.KernelVersion, i.OperatingSystem, i.OSType, i.Architecture, i.NCPU, binarySize(uint64(i.MemTotal)), i.Name, i.DockerRootDir)
}
