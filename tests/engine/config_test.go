package engine

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// withConfig returns a copy of c whose pelagos reads the configuration
// file holding body, without the environment variables named in unset.
func (c *cli) withConfig(t *testing.T, body string, unset ...string) *cli {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pelagos.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := *c
	cc.t = t
	cc.env = slices.DeleteFunc(slices.Clone(c.env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "PELAGOS_CONFIG" || slices.Contains(unset, k)
	})
	cc.env = append(cc.env, "PELAGOS_CONFIG="+path)
	return &cc
}

// TestConfigFileDefaults: the file's roots, ulimits, log options and
// security options apply to new containers; flags and environment win.
func TestConfigFileDefaults(t *testing.T) {
	c := newCLI(t)
	profile := filepath.Join(t.TempDir(), "seccomp.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	runRoot := filepath.Join(c.root, "cfg-run")
	cfg := c.withConfig(t, `{
		"root": "`+c.root+`",
		"runroot": "`+runRoot+`",
		"default-ulimits": ["nofile=1024:2048"],
		"log-opts": {"max-size": "1k", "max-file": "2"},
		"no-new-privileges": true,
		"seccomp-profile": "`+profile+`"
	}`, "PELAGOS_ROOT", "PELAGOS_RUNROOT")
	// The data root comes from the file: the image imported there is found.
	id := strings.TrimSpace(cfg.ok("run", "-d", "busybox:test", "sleep", "1000"))
	if _, err := os.Stat(filepath.Join(runRoot, "runtime", id)); err != nil {
		t.Errorf("runtime state of a container is not under the file's runroot: %v", err)
	}
	cfg.ok("rm", "-f", id)
	out := cfg.ok("run", "--rm", "busybox:test", "sh", "-c", "ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; mkdir /tmp/d 2>&1 || true")
	want := "1024\n2048\nNoNewPrivs:\t1\nmkdir: can't create directory '/tmp/d': Operation not permitted\n"
	if out != want {
		t.Errorf("defaults from the file:\n%s\nwant:\n%s", out, want)
	}
	out = cfg.ok("run", "--rm", "--ulimit", "nofile=512:512", "--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges=false",
		"busybox:test", "sh", "-c", "ulimit -n; grep NoNewPrivs /proc/self/status; mkdir /tmp/d && echo made")
	if want := "512\nNoNewPrivs:\t0\nmade\n"; out != want {
		t.Errorf("flags over the file:\n%s\nwant:\n%s", out, want)
	}
	id = strings.TrimSpace(cfg.ok("create", "--log-opt", "max-file=3", "busybox:test", "true"))
	if got := cfg.field(id, "{{json .HostConfig.LogConfig.Config}}"); got != `{"max-file":"3","max-size":"1k"}` {
		t.Errorf("log options: %s, want the flag's max-file and the file's max-size", got)
	}
	// PELAGOS_ROOT wins over the file's root: this one is empty.
	other := c.withConfig(t, `{"root": "/nonexistent/pelagos-cfg-root"}`)
	if got := other.ok("ps", "-aq"); !strings.Contains(got, id[:12]) {
		t.Errorf("PELAGOS_ROOT did not win over the file's root: ps -aq = %q", got)
	}
	// A seccomp profile given by file on the command line, as docker's.
	_, errs, _ := c.run(nil, "run", "--rm", "--security-opt", "seccomp="+profile, "busybox:test", "mkdir", "/tmp/x")
	if !strings.Contains(errs, "Operation not permitted") {
		t.Errorf("--security-opt seccomp=FILE: mkdir stderr %q, want Operation not permitted", errs)
	}
	if errs := c.fails(125, "run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "busybox:test", "true"); !strings.Contains(errs, "opening seccomp profile (/nonexistent.json) failed") {
		t.Errorf("missing seccomp profile: stderr %q", errs)
	}
	cfg.ok("rm", "-f", id)
	c.assertClean()
}

// TestConfigFileCgroupParentAndMirrors: the file's cgroup parent holds
// new containers' cgroups; its mirrors serve pulls of another registry.
func TestConfigFileCgroupParentAndMirrors(t *testing.T) {
	c := newCLI(t)
	parent := c.cgroup + "/from-config"
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/lib/mirrored:1", imagetest.Busybox(t))
	cfg := c.withConfig(t, `{"cgroup-parent": "`+parent+`", "mirrors": {"registry.invalid": ["`+host+`"]}}`,
		"PELAGOS_CGROUP_PARENT", "PELAGOS_REGISTRIES_CONFIG")
	if got := cfg.ok("run", "--rm", "--cgroupns", "host", "busybox:test", "cat", "/proc/self/cgroup"); !strings.Contains(got, parent+"/") {
		t.Errorf("/proc/self/cgroup = %q, want the file's cgroup parent %s", got, parent)
	}
	cfg.ok("pull", "registry.invalid/lib/mirrored:1")
	if got := cfg.ok("run", "--rm", "registry.invalid/lib/mirrored:1", "echo", "mirrored"); got != "mirrored\n" {
		t.Errorf("run of the mirrored image: %q", got)
	}
	// Without the file, the registry is not reachable.
	if _, _, code := c.run(nil, "pull", "registry.invalid/lib/mirrored:2"); code == 0 {
		t.Errorf("pull from registry.invalid without the mirror succeeded")
	}
}

// TestConfigFileAddressPools: networks created without a subnet take
// theirs from the file's pools, the default bridge network first.
func TestConfigFileAddressPools(t *testing.T) {
	c := newCLI(t)
	cfg := c.withConfig(t, `{"default-address-pools": [{"base": "10.123.0.0/23", "size": 24}, {"base": "10.124.0.0/16", "size": 16}]}`)
	cfg.ok("network", "create", "pool1")
	cfg.ok("network", "create", "pool2")
	for _, tc := range []struct{ net, want string }{{"bridge", "10.123.0.0/24"}, {"pool1", "10.123.1.0/24"}, {"pool2", "10.124.0.0/16"}} {
		if got := cfg.ok("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", tc.net); strings.TrimSpace(got) != tc.want {
			t.Errorf("network %s: subnet %q, want %s from the file's pools", tc.net, strings.TrimSpace(got), tc.want)
		}
	}
	if errs := cfg.fails(1, "network", "create", "pool3"); !strings.Contains(errs, "could not find an available") {
		t.Errorf("network create with the pools used up: %q", errs)
	}
	cfg.ok("network", "rm", "pool1", "pool2")
}

// TestConfigFileErrors: a malformed file, an unknown key, a value of the
// wrong shape or a bad value is an error naming the file and the key, and
// nothing runs.
func TestConfigFileErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct{ body, msg string }{
		{`{"root": "/x",}`, "malformed JSON at line 1"},
		{`{"rootdir": "/x"}`, `unknown key "rootdir"`},
		{`{"default-ulimits": "nofile=1"}`, `key "default-ulimits": want an array`},
		{`{"root": "relative"}`, `key "root": "relative" is not an absolute path`},
		{`{"log-opts": {"max-age": "1"}}`, `unknown log opt "max-age"`},
		{`{"default-cgroupns-mode": "shared"}`, `key "default-cgroupns-mode": "shared" is not private or host`},
		{`{"default-ulimits": ["nofile"]}`, `key "default-ulimits": invalid ulimit argument`},
		{`{"default-address-pools": [{"base": "10.0.0.0/16", "size": 8}]}`, `key "default-address-pools": size 8`},
		{`{"default-address-pools": [{"base": "fd00::/8", "size": 64}]}`, `key "default-address-pools": base "fd00::/8" is not an IPv4 network`},
	} {
		cfg := c.withConfig(t, tc.body)
		path := strings.TrimPrefix(cfg.env[len(cfg.env)-1], "PELAGOS_CONFIG=")
		_, errs, code := cfg.run(nil, "run", "--rm", "busybox:test", "true")
		if code != 125 || !strings.Contains(errs, "config "+path+": ") || !strings.Contains(errs, tc.msg) {
			t.Errorf("config %s: exit %d, stderr %q; want 125 naming the file and %q", tc.body, code, errs, tc.msg)
		}
	}
	c.assertClean()
}
