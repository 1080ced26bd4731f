package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// usernsBase is where the subordinate IDs given to the test's "pelagos"
// user start; usernsRanges is how many default-sized (65536) ranges they
// hold.
const (
	usernsBase   = 700000
	usernsRanges = 2
)

// withSubIDs gives c's engine subordinate ID files of its own: a line for
// another user, then the ranges of "pelagos".
func (c *cli) withSubIDs(t *testing.T, body string) {
	t.Helper()
	for _, name := range []string{"subuid", "subgid"} {
		p := filepath.Join(c.root, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c.env = append(c.env, "PELAGOS_"+strings.ToUpper(name)+"="+p)
	}
}

// idMap is one line of /proc/PID/uid_map.
type idMap struct{ inside, host, size uint64 }

func parseIDMap(t *testing.T, s string) idMap {
	t.Helper()
	f := strings.Fields(s)
	if len(f) != 3 {
		t.Fatalf("id map %q: want one line of three numbers", s)
	}
	var m idMap
	for i, p := range []*uint64{&m.inside, &m.host, &m.size} {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			t.Fatalf("id map %q: %v", s, err)
		}
		*p = n
	}
	return m
}

// initMap reads the uid_map of running container ref's init from the
// host.
func (c *cli) initMap(t *testing.T, ref string) idMap {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%s/uid_map", c.field(ref, "{{.State.Pid}}")))
	if err != nil {
		t.Fatal(err)
	}
	return parseIDMap(t, string(b))
}

// TestUsernsAuto: --userns auto runs the container as root of a user
// namespace of its own, mapped onto a free range of pelagos's subordinate
// IDs: an unprivileged host ID. The image's files are root's inside
// (idmapped layers, nothing chowned); what the container writes lands in
// its layer as its host ID, and in a named volume (an idmapped bind) with
// the owner it has inside. exec joins the namespace; stop and start keep
// the range.
func TestUsernsAuto(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, fmt.Sprintf("someone:100:65536\npelagos:%d:%d\n", usernsBase, usernsRanges*65536))
	out := c.ok("run", "--rm", "--userns", "auto", "-v", "uvol:/data", "busybox:test", "sh", "-c",
		"cat /proc/self/uid_map; id -u; stat -c %u:%g /bin/busybox /etc/passwd /; touch /made-in-layer && stat -c %u /made-in-layer; "+
			"echo x > /data/f && chown 1000:50 /data/f && stat -c %u:%g /data/f; echo 127.0.0.2 extra >> /etc/hosts && echo hosts-writable")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("run --userns auto: got %q, want 8 lines", out)
	}
	if m := parseIDMap(t, lines[0]); m != (idMap{0, usernsBase, 65536}) {
		t.Errorf("uid_map inside = %+v, want 0 %d 65536 (pelagos's first range)", m, usernsBase)
	}
	want := []string{"0", "0:0", "0:0", "0:0", "0", "1000:50", "hosts-writable"}
	if diff := cmp.Diff(want, lines[1:]); diff != "" {
		t.Errorf("ids inside (-want +got):\n%s", diff)
	}
	// The volume keeps the owners the container gave, unshifted.
	st, err := os.Stat(filepath.Join(c.root, "volumes", "uvol", "_data", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 1000 || sys.Gid != 50 {
		t.Errorf("volume file on disk: %d:%d, want 1000:50", sys.Uid, sys.Gid)
	}

	// No mknod in a user namespace: --device binds the host's node, at
	// the path asked for.
	if got := c.ok("run", "--rm", "--network", "none", "--userns", "auto", "--device", "/dev/zero:/dev/myzero", "busybox:test", "sh", "-c",
		"stat -c %t,%T /dev/myzero && head -c 2 /dev/myzero | od -An -tx1"); got != "1,5\n 00 00\n" {
		t.Errorf("--device /dev/zero:/dev/myzero: got %q, want the 1,5 node reading zeros", got)
	}

	id := strings.TrimSpace(c.ok("run", "-d", "--network", "none", "--userns", "auto", "busybox:test", "sh", "-c", "touch /made; exec sleep 100"))
	m := c.initMap(t, id)
	if m.host < usernsBase || m.host+m.size > usernsBase+usernsRanges*65536 || m.host == 0 {
		t.Errorf("init's uid_map %+v: want a range inside pelagos's %d+%d", m, usernsBase, usernsRanges*65536)
	}
	pid := c.field(id, "{{.State.Pid}}")
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Uid:\t%d\t%d\t%d\t%d", m.host, m.host, m.host, m.host); !strings.Contains(string(status), want) {
		t.Errorf("the container's root on the host: want %q in\n%s", want, status)
	}
	waitFor(t, "/made", func() bool { _, err := os.Stat("/proc/" + pid + "/root/made"); return err == nil })
	if st, err := os.Stat("/proc/" + pid + "/root/made"); err != nil {
		t.Fatal(err)
	} else if uid := st.Sys().(*syscall.Stat_t).Uid; uint64(uid) != m.host {
		t.Errorf("file made in the layer is host uid %d, want %d", uid, m.host)
	}
	if got := c.ok("exec", id, "sh", "-c", "cat /proc/self/uid_map; id -u; stat -c %u /made"); parseIDMap(t, strings.Split(got, "\n")[0]) != m || !strings.HasSuffix(got, "\n0\n0\n") {
		t.Errorf("exec: got %q, want the init's map %+v and root", got, m)
	}
	c.ok("stop", "-t", "1", id)
	c.ok("start", id)
	if got := c.initMap(t, id); got != m {
		t.Errorf("uid_map after stop and start = %+v, want %+v", got, m)
	}
	c.ok("rm", "-f", id)
	c.ok("volume", "rm", "uvol")
	c.assertClean()
}

// TestUsernsAutoRanges: concurrent creates take disjoint ranges, a full
// set of ranges refuses the next container with exit 125 and nothing
// left behind, and rm gives the range back to the next one.
func TestUsernsAutoRanges(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, fmt.Sprintf("pelagos:%d:%d\n", usernsBase, usernsRanges*65536))
	ids := make([]string, usernsRanges)
	var wg sync.WaitGroup
	errs := make([]string, usernsRanges)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, stderr, code := c.run(nil, "run", "-d", "--network", "none", "--userns", "auto", "busybox:test", "sleep", "100")
			ids[i] = strings.TrimSpace(out)
			if code != 0 {
				errs[i] = stderr
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Fatalf("concurrent run %d: %s", i, e)
		}
	}
	maps := []idMap{c.initMap(t, ids[0]), c.initMap(t, ids[1])}
	if a, b := maps[0], maps[1]; a.host < b.host+b.size && b.host < a.host+a.size {
		t.Errorf("concurrent containers share IDs: %+v and %+v", a, b)
	}
	before := c.ok("ps", "-aq", "--no-trunc")
	errOut := c.fails(125, "run", "--rm", "--network", "none", "--userns", "auto", "busybox:test", "true")
	if !strings.Contains(errOut, "not enough available IDs") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exhausted range: stderr %q, want one line saying not enough available IDs", errOut)
	}
	c.fails(125, "create", "--name", "nope", "--userns", "auto:size=2", "busybox:test")
	if after := c.ok("ps", "-aq", "--no-trunc"); after != before {
		t.Errorf("a refused create left containers: before %q, after %q", before, after)
	}
	c.ok("rm", "-f", ids[0])
	third := strings.TrimSpace(c.ok("run", "-d", "--network", "none", "--userns", "auto", "busybox:test", "sleep", "100"))
	if got := c.initMap(t, third); got != maps[0] {
		t.Errorf("after rm, the next container got %+v, want the freed range %+v", got, maps[0])
	}
	c.ok("rm", "-f", ids[1], third)
	c.assertClean()
}

// TestUsernsAutoRefused: bad modes, combinations a user namespace cannot
// give and a host without subordinate IDs get one-line errors and exit
// 125, with nothing created.
func TestUsernsAutoRefused(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, "someone:100000:65536\n")
	for _, tc := range []struct{ args, msg string }{
		{"--userns auto:size=0", `invalid --userns mode "auto:size=0": size "0" is not a positive number of IDs`},
		{"--userns auto:size=lots", `invalid --userns mode "auto:size=lots": size "lots" is not a positive number of IDs`},
		{"--userns auto:uidmapping=0:1:1", `unknown option "uidmapping=0:1:1"`},
		{"--userns autox", "invalid --userns mode"},
		{"--userns auto --privileged", "privileged mode is incompatible with user namespaces"},
		{"--userns auto --pid host", "cannot share the host PID namespace when user namespaces are enabled"},
		{"--userns auto --ipc host", "cannot share the host's IPC namespace when user namespaces are enabled"},
		{"--userns auto --pid container:other", "cannot join another container's PID or IPC namespace"},
		{"--userns auto --ipc container:other", "cannot join another container's PID or IPC namespace"},
		{"-v /tmp:/h:idmap", "idmap needs a user namespace of the container's own (--userns auto)"},
		{"--userns auto --mount type=bind,src=/tmp,dst=/h,idmap=0:1:1", "invalid value for idmap"},
		{"--userns auto", `no subordinate IDs for "pelagos" or "root"`},
	} {
		for _, cmd := range []string{"run", "create"} {
			args := append(append([]string{cmd, "--network", "none"}, strings.Fields(tc.args)...), "busybox:test", "true")
			errs := c.fails(125, args...)
			if !strings.Contains(errs, tc.msg) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("pelagos %s: stderr %q, want one line with %q", strings.Join(args, " "), errs, tc.msg)
			}
		}
	}
	if out := c.ok("ps", "-aq"); out != "" {
		t.Errorf("refused creates left containers: %q", out)
	}
	c.assertClean()
}

// TestUsernsAutoFiles: cp, export and commit show a --userns auto
// container's files with the owners they have inside, running or
// stopped, though its layer holds them as host IDs; cp into it writes
// files its root owns (with -a, the owners the archive names, inside).
func TestUsernsAutoFiles(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, fmt.Sprintf("pelagos:%d:%d\n", usernsBase, usernsRanges*65536))
	id := strings.TrimSpace(c.ok("run", "-d", "--network", "none", "--userns", "auto", "-v", "fvol:/vol", "busybox:test", "sh", "-c",
		"touch /made /vol/v && chown 1000:50 /made && mkdir -p /d && touch /d/root && exec sleep 100"))
	waitFor(t, "the container's files", func() bool {
		out, _, _ := c.run(nil, "exec", id, "ls", "/d/root")
		return strings.TrimSpace(out) == "/d/root"
	})
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(host, "in"), 1000, 50); err != nil {
		t.Fatal(err)
	}
	c.ok("cp", filepath.Join(host, "in"), id+":/in")
	c.ok("cp", "-a", filepath.Join(host, "in"), id+":/in-a")
	c.ok("cp", filepath.Join(host, "in"), id+":/vol/in")
	if got := c.ok("exec", id, "stat", "-c", "%n %u:%g", "/in", "/in-a", "/vol/in"); got != "/in 0:0\n/in-a 1000:50\n/vol/in 0:0\n" {
		t.Errorf("owners inside of what cp wrote: %q, want root's, and 1000:50 with -a", got)
	}
	want := map[string]string{"made": "1000:50", "d/": "0:0", "d/root": "0:0", "bin/busybox": "0:0", "in": "0:0", "in-a": "1000:50"}
	check := func(what string, owners map[string]string) {
		t.Helper()
		for name, w := range want {
			if got := owners[name]; got != w {
				t.Errorf("%s: %s owned by %q, want %s", what, name, got, w)
			}
		}
	}
	// cp of single paths (all of / would walk its /proc).
	cpOwners := func() map[string]string {
		t.Helper()
		all := map[string]string{}
		for _, p := range []string{"/made", "/d", "/bin/busybox", "/in", "/in-a"} {
			for name, o := range readOwners(t, []byte(c.ok("cp", id+":"+p, "-"))) {
				all[name] = o
			}
		}
		all["bin/busybox"] = all["busybox"]
		return all
	}
	check("cp of the running container", cpOwners())
	check("export of the running container", readOwners(t, []byte(c.ok("export", id))))
	if got := readOwners(t, []byte(c.ok("cp", id+":/vol", "-"))); got["vol/v"] != "0:0" || got["vol/in"] != "0:0" {
		t.Errorf("cp of the running container's volume: owners %v, want root's", got)
	}
	c.ok("stop", "-t", "1", id)
	check("cp of the stopped container", cpOwners())
	check("export of the stopped container", readOwners(t, []byte(c.ok("export", id))))
	if got := readOwners(t, []byte(c.ok("cp", id+":/vol", "-"))); got["vol/v"] != "0:0" || got["vol/in"] != "0:0" {
		t.Errorf("cp of the stopped container's volume: owners %v, want root's", got)
	}
	// cp into the stopped container: its layer and its (idmapped) volume.
	c.ok("cp", filepath.Join(host, "in"), id+":/in-stopped")
	c.ok("cp", filepath.Join(host, "in"), id+":/vol/in-stopped")
	c.ok("start", id)
	if got := c.ok("exec", id, "stat", "-c", "%n %u:%g", "/in-stopped", "/vol/in-stopped"); got != "/in-stopped 0:0\n/vol/in-stopped 0:0\n" {
		t.Errorf("owners inside of what cp wrote into the stopped container: %q, want root's", got)
	}
	c.ok("stop", "-t", "1", id)
	c.ok("commit", id, "committed:userns")
	if got := c.ok("run", "--rm", "--network", "none", "committed:userns", "stat", "-c", "%n %u:%g", "/made", "/d/root", "/in-a"); got != "/made 1000:50\n/d/root 0:0\n/in-a 1000:50\n" {
		t.Errorf("committed image's owners: %q, want those inside the container", got)
	}
	c.ok("rm", "-f", id)
	c.ok("rmi", "committed:userns")
	c.ok("volume", "rm", "fvol")
	c.assertClean()
}

// TestUsernsAutoIdmapBind: a host directory bound with idmap (podman's
// option) shows its files with their host owners inside, and what the
// container's root writes there is host root's; without idmap the same
// files are nobody's.
func TestUsernsAutoIdmapBind(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, fmt.Sprintf("pelagos:%d:%d\n", usernsBase, usernsRanges*65536))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "stat -c %u:%g /h/host-file; touch /h/made 2>/dev/null && chown 1000:50 /h/made && echo wrote || echo refused"
	if got := c.ok("run", "--rm", "--network", "none", "--userns", "auto", "-v", dir+":/h:idmap", "busybox:test", "sh", "-c", script); got != "0:0\nwrote\n" {
		t.Errorf("-v DIR:/h:idmap: got %q, want the host's owners and a write", got)
	}
	st, err := os.Stat(filepath.Join(dir, "made"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 1000 || sys.Gid != 50 {
		t.Errorf("file the container made through the idmapped bind: %d:%d on the host, want 1000:50", sys.Uid, sys.Gid)
	}
	if got := c.ok("run", "--rm", "--network", "none", "--userns", "auto", "--mount", "type=bind,src="+dir+",dst=/h", "busybox:test", "sh", "-c", script); got != "65534:65534\nrefused\n" {
		t.Errorf("plain bind: got %q, want nobody's files the container's root cannot write beside", got)
	}
	id := strings.TrimSpace(c.ok("create", "--network", "none", "--userns", "auto", "--mount", "type=bind,src="+dir+",dst=/h,idmap", "busybox:test", "true"))
	if got := readOwners(t, []byte(c.ok("cp", id+":/h", "-"))); got["h/host-file"] != "0:0" || got["h/made"] != "1000:50" {
		t.Errorf("cp of a created container's idmapped bind: owners %v, want the host's", got)
	}
	c.ok("rm", id)
	c.assertClean()
}

// TestUsernsAutoSIGKILL: a foreground run --userns auto killed at every
// step leaves nothing that rm -f and prune do not clean, and no range
// taken: the next container gets the first range again.
func TestUsernsAutoSIGKILL(t *testing.T) {
	c := newCLI(t)
	c.withSubIDs(t, fmt.Sprintf("pelagos:%d:%d\n", usernsBase, usernsRanges*65536))
	base := c.env
	for _, step := range engine.DieSteps {
		t.Run(step, func(t *testing.T) {
			c.t = t
			c.env = append(append([]string(nil), base...), engine.EnvDieAt+"="+step)
			_, errs, code := c.run(nil, "run", "--rm", "--network", "none", "--userns", "auto", "-v", "kvol:/vol", "busybox:test", "sh", "-c", "touch /vol/x")
			c.env = base
			if code != -1 {
				t.Errorf("run killed at %s: exit %d (%s), want killed", step, code, errs)
			}
			for _, id := range strings.Fields(c.ok("ps", "-aq")) {
				c.ok("rm", "-f", id)
			}
			c.ok("container", "prune", "-f")
			c.ok("volume", "rm", "-f", "kvol")
			c.assertClean()
			got := c.ok("run", "--rm", "--network", "none", "--userns", "auto", "busybox:test", "cat", "/proc/self/uid_map")
			if m := parseIDMap(t, got); m.host != usernsBase {
				t.Errorf("after a SIGKILL at %s and rm -f: the next container's map %+v, want the first range %d", step, m, usernsBase)
			}
		})
	}
}
