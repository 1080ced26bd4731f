package runccli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/pelagos-go/pelagos/internal/caps"
	"github.com/pelagos-go/pelagos/internal/spec"
)

var specVersion = specs.Version

func newSpec(g *globals) *command {
	var bundle string
	var rootless bool
	cmd := &command{
		Use:   "spec [flags]",
		Short: "write a default config.json to the bundle",
		Args:  noArgs,
		RunE: func(cmd *command, args []string) error {
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists: remove it first", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			s := spec.Default(rootless, uint32(os.Getuid()), uint32(os.Getgid()))
			b, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "a config for running as an unprivileged user")
	return cmd
}

func newFeatures(g *globals) *command {
	return &command{
		Use:   "features",
		Short: "print what this runtime supports, as runtime-spec features JSON",
		Args:  noArgs,
		RunE: func(cmd *command, args []string) error {
			b, err := json.MarshalIndent(runtimeFeatures(), "", "    ")
			if err != nil {
				return err
			}
			_, err = fmt.Println(string(b))
			return err
		},
	}
}

func runtimeFeatures() features.Features {
	t, f := true, false
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: []string{
			"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
			"lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
			"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
			"private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
			"rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
			"rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
			"rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
			"silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup",
			"unbindable", "idmap", "ridmap",
		},
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: caps.Names(),
			Cgroup: &features.Cgroup{
				V1: &t, V2: &t, Systemd: &f, SystemdUser: &f, Rdma: &f,
			},
			Seccomp: &features.Seccomp{
				Enabled: &t,
				Actions: []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
					"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"},
				Operators: []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
					"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"},
				Archs: []string{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"},
				KnownFlags: []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC",
					"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
			},
			Apparmor: &features.Apparmor{Enabled: &f},
			Selinux:  &features.Selinux{Enabled: &f},
			IntelRdt: &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &t},
			},
		},
		Annotations: map[string]string{
			"org.opencontainers.runc.checkpoint.enabled": "false",
			"io.github.pelagos-go.pelagos.version":       Version,
		},
	}
}
