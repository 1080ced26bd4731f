package runccli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/ttyproxy"
)

type execFlags struct {
	consoleSocket string
	cwd           string
	env           []string
	tty           bool
	user          string
	addGids       []string
	process       string
	detach        bool
	pidFile       string
	processLabel  string
	apparmor      string
	noNewPrivs    bool
	caps          []string
	preserveFds   int
}

func newExec(g *globals) *command {
	var f execFlags
	cmd := &command{
		Use:   "exec [flags] <container-id> <command> [args...]",
		Short: "run another process in a container",
		Args:  minArgs(1),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			cfg, err := c.Config()
			if err != nil {
				return err
			}
			p, err := f.buildProcess(cmd, cfg, args[1:])
			if err != nil {
				return err
			}
			o := container.ExecOpts{Process: p, PidFile: f.pidFile, PreserveFds: f.preserveFds, Warn: g.warn}
			var tty *ttyproxy.Proxy
			switch {
			case f.consoleSocket != "":
				if o.ConsoleSocket, err = dialConsole(f.consoleSocket); err != nil {
					return err
				}
				defer o.ConsoleSocket.Close()
			case p.Terminal && !f.detach:
				if tty, err = ttyproxy.New(os.Stdin, os.Stdout, nil); err != nil {
					return err
				}
				defer tty.Close()
				o.ConsoleSocket = tty.Socket()
			case p.Terminal:
				return fmt.Errorf("exec: --tty with --detach needs --console-socket")
			}
			sigs := make(chan os.Signal, 64)
			signal.Notify(sigs)
			defer signal.Stop(sigs)
			proc, err := c.Exec(cmd.Context(), o)
			if err != nil {
				return err
			}
			if tty != nil {
				if err := tty.Attach(true); err != nil {
					return err
				}
			}
			if f.detach {
				return nil
			}
			if code := waitForwarding(proc.Pid(), sigs, proc.Wait, tty); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	// Everything after the container id belongs to the command.
	fl.SetInterspersed(false)
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	fl.StringVar(&f.cwd, "cwd", "", "working directory in the container")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable (NAME=value)")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-terminal")
	fl.StringVarP(&f.user, "user", "u", "", "uid[:gid] to run as")
	fl.StringArrayVarP(&f.addGids, "additional-gids", "g", nil, "additional group ids")
	fl.StringVarP(&f.process, "process", "p", "", "path to a process.json (runtime-spec process object)")
	fl.BoolVarP(&f.detach, "detach", "d", false, "return once the process runs")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the process's pid to this file")
	fl.StringVar(&f.processLabel, "process-label", "", "SELinux label for the process")
	fl.StringVar(&f.apparmor, "apparmor", "", "AppArmor profile for the process")
	fl.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fl.StringArrayVarP(&f.caps, "cap", "c", nil, "add a capability to the process")
	fl.IntVar(&f.preserveFds, "preserve-fds", 0, "pass this many descriptors from 3 up")
	fl.String("cgroup", "", "accepted for compatibility")
	fl.Bool("ignore-paused", false, "accepted for compatibility")
	return cmd
}

// buildProcess makes the process to execute: the --process file as is, or
// the container's own process with the command and flags applied, as runc
// does.
func (f *execFlags) buildProcess(cmd *command, cfg *specs.Spec, args []string) (*specs.Process, error) {
	if f.process != "" {
		b, err := os.ReadFile(f.process)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("--process %s: malformed JSON: %w", f.process, err)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec: no command given (and no --process)")
	}
	var p specs.Process
	if cfg.Process != nil {
		b, _ := json.Marshal(cfg.Process)
		_ = json.Unmarshal(b, &p)
	}
	p.Args = args
	p.Terminal = f.tty
	p.ConsoleSize = nil
	p.Env = append(p.Env, f.env...)
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if f.user != "" {
		uid, gid, err := parseUser(f.user)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range f.addGids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
	}
	if cmd.Flags().Changed("no-new-privs") {
		p.NoNewPrivileges = f.noNewPrivs
	}
	if f.apparmor != "" {
		p.ApparmorProfile = f.apparmor
	}
	if f.processLabel != "" {
		p.SelinuxLabel = f.processLabel
	}
	if len(f.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		for _, name := range f.caps {
			name = strings.ToUpper(name)
			c.Bounding = append(c.Bounding, name)
			c.Effective = append(c.Effective, name)
			c.Permitted = append(c.Permitted, name)
		}
	}
	return &p, nil
}

func parseUser(s string) (uint32, uint32, error) {
	us, gs, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: use uid[:gid] with numbers", s)
	}
	gid := uint64(0)
	if gs != "" {
		if gid, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: use uid[:gid] with numbers", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}
