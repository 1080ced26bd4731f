package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/network"
)

// runFlags are the flags of run and create.
type runFlags struct {
	detach, interactive, tty, rm, readOnly, privileged, init bool
	name, workdir, user, entrypoint, hostname                string
	memory, memorySwap, cpus, shmSize, cgroupParent          string
	stopSignal, restart, pullPolicy, platform, logDriver     string
	stopTimeout                                              int
	pidsLimit                                                int64
	env, envFile, volumes, mounts, tmpfs, capAdd, capDrop    []string
	securityOpt, ulimits, labels, logOpts, expose            []string
	attach, volumesFrom                                      []string
	sigProxy                                                 bool
	detachKeys                                               string
	net                                                      netFlags
	health                                                   healthFlags
	host                                                     hostFlags
	cpu                                                      cpuFlags
}

// netFlags are run's and create's network flags.
type netFlags struct {
	networks, publish, aliases, dns, dnsSearch, dnsOption, addHost []string
	publishAll                                                     bool
	ip, ip6, mac                                                   string
}

func (n *netFlags) register(fl *pflag.FlagSet) {
	stringsVar(fl, &n.networks, "network", "connect a container to a network: bridge (the default), NAME, none, host, container:NAME (repeat for more networks)")
	stringsVar(fl, &n.networks, "net", "connect a container to a network")
	_ = fl.MarkHidden("net")
	stringsVarP(fl, &n.publish, "publish", "p", "publish a container's port(s) to the host: [hostIP:][hostPort:]containerPort[/proto]")
	fl.BoolVarP(&n.publishAll, "publish-all", "P", false, "publish all exposed ports to random ports")
	fl.StringVar(&n.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fl.StringVar(&n.ip6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fl.StringVar(&n.mac, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	stringsVar(fl, &n.aliases, "network-alias", "add network-scoped alias for the container")
	ipsVar(fl, &n.dns, "dns", "set custom DNS servers")
	stringsVar(fl, &n.dnsSearch, "dns-search", "set custom DNS search domains")
	stringsVar(fl, &n.dnsOption, "dns-option", "set DNS options")
	stringsVar(fl, &n.addHost, "add-host", "add a custom host-to-IP mapping (host:ip, or host:host-gateway)")
}

// apply puts the network flags into the create options.
func (n *netFlags) apply(o *engine.CreateOptions) error {
	hc := &o.HostConfig
	if len(n.networks) > 0 {
		hc.NetworkMode = n.networks[0]
		o.Network.Extra = n.networks[1:]
	}
	o.Network.IPv4, o.Network.IPv6, o.Network.MAC, o.Network.Aliases = n.ip, n.ip6, n.mac, n.aliases
	hc.DNS, hc.DNSSearch, hc.DNSOptions, hc.ExtraHosts = n.dns, n.dnsSearch, n.dnsOption, n.addHost
	hc.PublishAllPorts = n.publishAll
	for _, p := range n.publish {
		b, err := network.ParsePublish(p)
		if err != nil {
			return err
		}
		hc.PortBindings = network.MergeBindings(hc.PortBindings, b)
		// A published port is exposed, as docker records it.
		if o.Config.ExposedPorts == nil {
			o.Config.ExposedPorts = map[string]struct{}{}
		}
		for k := range b {
			o.Config.ExposedPorts[k] = struct{}{}
		}
	}
	return nil
}

func (f *runFlags) register(cmd *cobra.Command, run bool) {
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	// -h is --hostname here, as in docker: help is --help alone.
	fl.Bool("help", false, "print usage")
	if run {
		fl.BoolVarP(&f.detach, "detach", "d", false, "run the container in the background and print its ID")
		fl.BoolVar(&f.sigProxy, "sig-proxy", true, "proxy received signals to the process")
		fl.StringVar(&f.detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container")
	}
	stringsVarP(fl, &f.attach, "attach", "a", "attach to STDIN, STDOUT or STDERR")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.StringVar(&f.name, "name", "", "assign a name to the container")
	stringsVarP(fl, &f.env, "env", "e", "set environment variables")
	stringsVar(fl, &f.envFile, "env-file", "read in a file of environment variables")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	stringsVarP(fl, &f.volumes, "volume", "v", "bind mount a host path or mount a volume (/host/path:/path[:ro], NAME:/path[:ro|nocopy], /path)")
	stringsVar(fl, &f.volumesFrom, "volumes-from", "mount volumes from the specified container(s): CONTAINER[:ro|rw]")
	stringsVar(fl, &f.mounts, "mount", "attach a filesystem mount (type=bind|volume|tmpfs,...)")
	stringsVar(fl, &f.tmpfs, "tmpfs", "mount a tmpfs directory")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the container's root filesystem as read only")
	f.net.register(fl)
	f.health.register(fl)
	f.host.register(fl)
	stringsVar(fl, &f.capAdd, "cap-add", "add Linux capabilities")
	stringsVar(fl, &f.capDrop, "cap-drop", "drop Linux capabilities")
	fl.BoolVar(&f.privileged, "privileged", false, "give extended privileges to this container")
	stringsVar(fl, &f.securityOpt, "security-opt", "security options (seccomp=unconfined, no-new-privileges)")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (-1 for unlimited)")
	sizeVarP(fl, &f.memory, "memory", "m", "memory limit", false)
	sizeVarP(fl, &f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: '-1' to enable unlimited swap", true)
	fl.StringVar(&f.cpus, "cpus", "", "number of CPUs")
	f.cpu.register(fl)
	sizeVarP(fl, &f.shmSize, "shm-size", "", "size of /dev/shm", false)
	fl.StringVar(&f.cgroupParent, "cgroup-parent", "", "optional parent cgroup for the container")
	stringsVar(fl, &f.ulimits, "ulimit", "ulimit options")
	stringsVarP(fl, &f.labels, "label", "l", "set meta data on a container")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "signal to stop the container")
	fl.IntVar(&f.stopTimeout, "stop-timeout", 0, "timeout (in seconds) to stop a container")
	fl.StringVar(&f.restart, "restart", "no", "restart policy to apply when a container exits")
	fl.StringVar(&f.logDriver, "log-driver", "json-file", "logging driver for the container")
	stringsVar(fl, &f.logOpts, "log-opt", "log driver options (max-size, max-file)")
	fl.StringVar(&f.pullPolicy, "pull", "missing", `pull image before running ("always", "missing", "never")`)
	fl.StringVar(&f.platform, "platform", "", "set platform if server is multi-platform capable")
	stringsVar(fl, &f.expose, "expose", "expose a port or a range of ports")
	fl.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
}

// options turns the flags into the engine's create options.
func (f *runFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{Name: f.name}
	c, hc := &o.Config, &o.HostConfig
	if f.platform != "" {
		p, err := engine.ParsePlatform(f.platform)
		if err != nil {
			return o, err
		}
		o.Platform = &p
	}
	c.Image, c.Cmd = args[0], args[1:]
	c.Tty, c.OpenStdin, c.StdinOnce = f.tty, f.interactive, f.interactive
	c.AttachStdin = f.interactive && !f.detach
	c.AttachStdout, c.AttachStderr = !f.detach, !f.detach
	if len(f.attach) > 0 {
		if f.detach {
			//lint:ignore ST1005 docker's message, word for word
			return o, errors.New("Conflicting options: -a and -d")
		}
		c.AttachStdin, c.AttachStdout, c.AttachStderr = false, false, false
		for _, a := range f.attach {
			switch strings.ToLower(a) {
			case "stdin":
				c.AttachStdin = true
			case "stdout":
				c.AttachStdout = true
			case "stderr":
				c.AttachStderr = true
			default:
				return o, fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a)
			}
		}
	}
	c.WorkingDir, c.User, c.Hostname, c.StopSignal = f.workdir, f.user, f.hostname, f.stopSignal
	if cmd.Flags().Changed("init") {
		v := f.init
		hc.Init = &v
	}
	if cmd.Flags().Changed("entrypoint") {
		o.EntrypointSet = true
		if f.entrypoint != "" {
			c.Entrypoint = []string{f.entrypoint}
		}
	}
	if cmd.Flags().Changed("stop-timeout") {
		t := f.stopTimeout
		c.StopTimeout = &t
	}
	if f.stopSignal != "" {
		if _, err := engine.ParseSignal(f.stopSignal); err != nil {
			return o, err
		}
	}
	for _, p := range f.envFile {
		env, err := engine.ParseEnvFile(p)
		if err != nil {
			return o, err
		}
		c.Env = append(c.Env, env...)
	}
	c.Env = append(c.Env, engine.ExpandEnv(f.env)...)
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	for _, p := range f.expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[p] = struct{}{}
	}
	if err := f.hostOptions(cmd, hc); err != nil {
		return o, err
	}
	if err := f.host.apply(cmd, hc); err != nil {
		return o, err
	}
	if err := f.net.apply(&o); err != nil {
		return o, err
	}
	if err := f.health.apply(cmd.Flags(), c); err != nil {
		return o, err
	}
	return o, nil
}

func (f *runFlags) hostOptions(cmd *cobra.Command, hc *engine.HostConfig) error {
	hc.AutoRemove, hc.ReadonlyRootfs, hc.Privileged = f.rm, f.readOnly, f.privileged
	hc.CgroupParent, hc.VolumesFrom = f.cgroupParent, f.volumesFrom
	hc.CapAdd, hc.CapDrop, hc.SecurityOpt = f.capAdd, f.capDrop, f.securityOpt
	var err error
	if hc.RestartPolicy, err = engine.ParseRestart(f.restart); err != nil {
		return err
	}
	hc.LogConfig = engine.LogConfig{Type: f.logDriver, Config: map[string]string{}}
	for _, o := range f.logOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("invalid log opt %q: want key=value", o)
		}
		hc.LogConfig.Config[k] = v
	}
	sizes := []struct {
		s   string
		dst *int64
	}{{f.memory, &hc.Memory}, {f.shmSize, &hc.ShmSize}}
	for _, sz := range sizes {
		if sz.s != "" {
			if *sz.dst, err = engine.ParseBytes(sz.s); err != nil {
				return err
			}
		}
	}
	if f.memorySwap == "-1" {
		hc.MemorySwap = -1
	} else if f.memorySwap != "" {
		if hc.MemorySwap, err = engine.ParseBytes(f.memorySwap); err != nil {
			return err
		}
	}
	if f.cpus != "" {
		if hc.NanoCpus, err = engine.ParseCPUs(f.cpus); err != nil {
			return err
		}
	}
	f.cpu.apply(hc)
	if cmd.Flags().Changed("pids-limit") {
		n := f.pidsLimit
		hc.PidsLimit = &n
	}
	for _, u := range f.ulimits {
		ul, err := engine.ParseUlimit(u)
		if err != nil {
			return err
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	for _, v := range f.volumes {
		m, err := engine.ParseVolume(v)
		if err != nil {
			return err
		}
		if m.Type != "volume" || m.Source != "" {
			hc.Binds = append(hc.Binds, v) // docker keeps an anonymous -v out of Binds
		}
		m.Flag = "-v"
		hc.Mounts = append(hc.Mounts, m)
	}
	for _, v := range f.mounts {
		m, err := engine.ParseMount(v)
		if err != nil {
			return err
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	for _, v := range f.tmpfs {
		m, err := engine.ParseTmpfs(v)
		if err != nil {
			return err
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		_, opts, _ := strings.Cut(v, ":")
		hc.Tmpfs[m.Target] = opts
		m.Flag = "--tmpfs"
		hc.Mounts = append(hc.Mounts, m)
	}
	return nil
}

// ensureImage pulls the image as --pull says, with progress on stderr as
// docker shows it. With --platform, a local image of another platform
// counts as missing (docker's daemon answers "not found" and its CLI
// pulls): --pull never refuses it with docker's words.
func (g *globals) ensureImage(ctx context.Context, e *engine.Engine, name, policy string, platform *v1.Platform) error {
	st, err := e.Images()
	if err != nil {
		return err
	}
	img, lerr := st.Lookup(name)
	missing := errors.Is(lerr, store.ErrNotFound)
	if lerr == nil && platform != nil {
		got, err := engine.ImagePlatform(st, img)
		if err != nil {
			return err
		}
		if !engine.PlatformMatches(got, *platform) {
			lerr, missing = engine.PlatformMismatch(name, *platform, got), true
		}
	}
	switch policy {
	case "never":
		if errors.Is(lerr, store.ErrNotFound) {
			return dockerError("No such image: " + name)
		}
		return lerr
	case "missing", "":
		if lerr == nil {
			return nil
		}
		if !missing {
			return lerr
		}
	case "always":
	default:
		return fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy)
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return err
	}
	r, s, err := g.registry() // pelagos hands the command off here, before any output
	if err != nil {
		return err
	}
	if policy != "always" {
		fmt.Fprintf(g.err, "Unable to find image '%s' locally\n", name)
	}
	var sink progress.Sink = &progress.Lines{W: g.err}
	if isTerminal(g.err) {
		sink = &progress.TTY{W: g.err}
	}
	var plat v1.Platform
	if platform != nil {
		plat = *platform
	}
	return r.Pull(ctx, s, st, ref, plat, sink)
}

func newCreateCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := createFromFlags(cmd, g, &f, args)
			if err != nil {
				return withStatus(125, err)
			}
			fmt.Fprintln(g.out, c.ID)
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

func createFromFlags(cmd *cobra.Command, g *globals, f *runFlags, args []string) (*engine.Container, *engine.Engine, error) {
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, nil, err
	}
	if err := g.applyDefaults(&o.HostConfig); err != nil {
		return nil, nil, err
	}
	e, err := g.engine()
	if err != nil {
		return nil, nil, err
	}
	if err := g.ensureImage(cmd.Context(), e, o.Config.Image, f.pullPolicy, o.Platform); err != nil {
		return nil, nil, err
	}
	c, err := e.Create(cmd.Context(), o)
	return c, e, err
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.detach && f.rm && f.restart != "no" && f.restart != "" {
				return withStatus(125, errors.New("conflicting options: cannot specify both --restart and --rm"))
			}
			c, e, err := createFromFlags(cmd, g, &f, args)
			if err != nil {
				return withStatus(125, err)
			}
			if f.detach {
				if err := startOrRemove(cmd.Context(), g, e, c); err != nil {
					return err
				}
				fmt.Fprintln(g.out, c.ID)
				return nil
			}
			if f.tty {
				return runTerminal(cmd.Context(), g, e, c, f.detachKeys)
			}
			code, err := runForeground(cmd.Context(), g, e, c, f.sigProxy && !f.tty)
			if err != nil {
				return err
			}
			if code != 0 {
				return &statusError{code: code, err: fmt.Errorf("exit status %d", code), silent: true}
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

// startErr gives a failed start docker's exit status.
func startErr(err error) error {
	if err == nil {
		return nil
	}
	return withStatus(engine.StartErrorStatus(err), err)
}

// stdinFile is our stdin as a file, if it is one.
func stdinFile(g *globals) *os.File {
	if f, ok := g.in.(*os.File); ok {
		return f
	}
	return nil
}
