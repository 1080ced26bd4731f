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
	BuildTime string `json:",omitempty"`
	Context   string `json:",omitempty"`
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
	server.Platform.Name = "pelagos (daemonless)"
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
	LoggingDriver     string
	CgroupDriver      string
	CgroupVersion     string
	KernelVersion     string
	OperatingSystem   string
	OSType            string
	Architecture      string
	NCPU              int
	MemTotal          int64
	Name              string
	ServerVersion     string
	DockerRootDir     string
	DefaultRuntime    string
	SecurityOptions   []string
	Warnings          []string
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
func osRelease() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
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
