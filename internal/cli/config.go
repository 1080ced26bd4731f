package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/config"
	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/registryconfig"
	"github.com/pelagos-go/pelagos/internal/rootless"
)

// loadConfig reads pelagos.json (config.DefaultPath) before any command
// runs and applies the data and runtime roots it names, unless a flag or
// the environment set them: flags and environment win over the file.
func (g *globals) loadConfig(cmd *cobra.Command) error {
	path := config.DefaultPath()
	if rootless.Active() {
		path = rootless.Current().Config // DefaultPath sees root here
	}
	f, err := config.Load(path)
	if err != nil {
		return withStatus(125, err)
	}
	g.cfg = f
	unset := func(flag, env string) bool {
		fl := cmd.Flag(flag)
		return (fl == nil || !fl.Changed) && os.Getenv(env) == ""
	}
	if f.Root != "" && unset("root", "PELAGOS_ROOT") {
		g.root = f.Root
	}
	if f.RunRoot != "" && unset("runroot", "PELAGOS_RUNROOT") {
		g.runRoot = f.RunRoot
	}
	return nil
}

// config is the loaded file (empty when a command ran without the root
// command's hooks, as in tests of single commands).
func (g *globals) config() *config.File {
	if g.cfg == nil {
		return &config.File{}
	}
	return g.cfg
}

// cgroupParent is the containers' cgroup parent: PELAGOS_CGROUP_PARENT,
// else the file's, else the engine's default.
func (g *globals) cgroupParent() string {
	if p := os.Getenv("PELAGOS_CGROUP_PARENT"); p != "" {
		return p
	}
	return g.config().CgroupParent
}

// registryConfig is --registries-config (or PELAGOS_REGISTRIES_CONFIG)
// alone when given; otherwise /etc/pelagos/registries.json with
// pelagos.json's mirrors and insecure registries added.
func (g *globals) registryConfig() (registryconfig.Config, error) {
	if g.registriesConfig != "" {
		return registryconfig.Load(g.registriesConfig)
	}
	rc, err := registryconfig.Load(registryconfig.DefaultConfigPath)
	if err != nil {
		return rc, err
	}
	f := g.config()
	if len(f.RegistryMirrors) > 0 || len(f.Mirrors) > 0 {
		m := map[string][]string{}
		for k, v := range rc.Mirrors {
			m[k] = slices.Clone(v)
		}
		m["docker.io"] = append(m["docker.io"], f.RegistryMirrors...)
		for k, v := range f.Mirrors {
			m[k] = append(m[k], v...)
		}
		rc.Mirrors = m
	}
	rc.Insecure = append(slices.Clone(rc.Insecure), f.InsecureRegistries...)
	return rc, nil
}

// applyDefaults gives a new container the file's defaults for what its
// flags left unset: ulimits, log options, security options. It also reads
// a --security-opt seccomp=FILE into the option, as docker's CLI does.
func (g *globals) applyDefaults(hc *engine.HostConfig) error {
	f := g.config()
	keyErr := func(key string, err error) error {
		return fmt.Errorf("config %s: key %q: %w", f.Path, key, err)
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = f.DefaultCgroupnsMode // "" leaves docker's default to the engine
	}
	for _, s := range f.DefaultUlimits {
		u, err := engine.ParseUlimit(s)
		if err != nil {
			return keyErr("default-ulimits", err)
		}
		if !slices.ContainsFunc(hc.Ulimits, func(x engine.Ulimit) bool { return x.Name == u.Name }) {
			hc.Ulimits = append(hc.Ulimits, u)
		}
	}
	if hc.LogConfig.Type == "json-file" || hc.LogConfig.Type == "" {
		for k, v := range f.LogOpts {
			if hc.LogConfig.Config == nil {
				hc.LogConfig.Config = map[string]string{}
			}
			if _, ok := hc.LogConfig.Config[k]; !ok {
				hc.LogConfig.Config[k] = v
			}
		}
	}
	fromFile := f.SecurityOpts(hc.SecurityOpt)
	for i, o := range hc.SecurityOpt {
		body, err := readSeccompOpt(o)
		if err != nil {
			return err
		}
		hc.SecurityOpt[i] = body
	}
	for _, o := range fromFile {
		body, err := readSeccompOpt(o)
		if err != nil {
			return keyErr("seccomp-profile", err)
		}
		hc.SecurityOpt = append(hc.SecurityOpt, body)
	}
	return nil
}

// readSeccompOpt turns seccomp=FILE into seccomp=<the file's JSON>;
// other options are returned as they are.
func readSeccompOpt(o string) (string, error) {
	norm := strings.Replace(o, ":", "=", 1)
	path, ok := strings.CutPrefix(norm, "seccomp=")
	if !ok || path == "unconfined" || strings.HasPrefix(strings.TrimSpace(path), "{") {
		return o, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("opening seccomp profile (%s) failed: %w", path, err)
	}
	return "seccomp=" + string(b), nil
}
