package engine

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// importWith imports busybox plus extra entries as image tag, with the
// given import --change instructions.
func (c *cli) importWith(tag string, extra []*tar.Header, bodies map[string]string, changes ...string) {
	c.t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tr := tar.NewReader(bytes.NewReader(busyboxTar(c.t)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			c.t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, h := range extra {
		body := bodies[h.Name]
		h.Size = int64(len(body))
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(h); err != nil {
			c.t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		c.t.Fatal(err)
	}
	tarball := filepath.Join(c.root, strings.ReplaceAll(tag, ":", "_")+".tar")
	if err := os.WriteFile(tarball, b.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
	args := []string{"import"}
	for _, ch := range append([]string{`CMD ["/bin/sh"]`}, changes...) {
		args = append(args, "-c", ch)
	}
	c.ok(append(args, tarball, tag)...)
}

// seededImage is busybox with /data holding files of other owners, and
// VOLUME /data when vol.
func (c *cli) seededImage(tag string, vol bool) {
	var changes []string
	if vol {
		changes = append(changes, "VOLUME /data")
	}
	c.importWith(tag, []*tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o2750, Uid: 1000, Gid: 50},
		{Name: "data/seed", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 1000, Gid: 60},
		{Name: "data/sub/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 65534, Gid: 65534},
		{Name: "data/sub/deep", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 65534, Gid: 65534},
		{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: "seed"},
	}, map[string]string{"data/seed": "from the image", "data/sub/deep": "deep"}, changes...)
}

func (c *cli) sh(flags []string, image, script string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok(append(append(append([]string{"run", "--rm"}, flags...), image), "sh", "-c", script)...))
}

func TestVolumeDataPersistsAndCopyUp(t *testing.T) {
	c := newCLI(t)
	c.seededImage("seeded:1", false)
	// First use of an empty named volume: -v creates it and the image's
	// /data is copied in, with owners and modes.
	got := c.sh([]string{"-v", "data:/data"}, "seeded:1", "stat -c '%n %U:%G %a' /data /data/seed /data/sub /data/sub/deep; readlink /data/link; cat /data/seed; echo; rm /data/seed; echo kept > /data/new")
	want := "/data app:staff 2750\n/data/seed app:extra 640\n/data/sub nobody:nogroup 700\n/data/sub/deep nobody:nogroup 600\nseed\nfrom the image"
	if got != want {
		t.Errorf("copied-up volume:\n%s\nwant:\n%s", got, want)
	}
	// The next container sees what the first wrote, and no second copy.
	if got := c.sh([]string{"-v", "data:/data"}, "seeded:1", "ls /data"); got != "link\nnew\nsub" {
		t.Errorf("second use: %q, want link new sub (a copy-up ran twice)", got)
	}
	host := filepath.Join(c.root, "volumes", "data", "_data", "new")
	if b, err := os.ReadFile(host); err != nil || string(b) != "kept\n" {
		t.Errorf("volume file on the host: %q %v", b, err)
	}
	// Read-only, through -v and --mount.
	for _, flags := range [][]string{{"-v", "data:/data:ro"}, {"--mount", "type=volume,src=data,dst=/data,readonly"}} {
		if got := c.sh(flags, "seeded:1", "cat /data/new; touch /data/x 2>/dev/null || echo refused"); got != "kept\nrefused" {
			t.Errorf("%v: %q, want kept refused", flags, got)
		}
	}
	// nocopy: an empty volume stays empty.
	if got := c.sh([]string{"-v", "empty:/data:nocopy"}, "seeded:1", "ls -A /data | wc -l"); got != "0" {
		t.Errorf("nocopy volume holds %s entries", got)
	}
	if got := c.sh([]string{"--mount", "type=volume,src=empty2,dst=/data,volume-nocopy,volume-label=team=x"}, "seeded:1", "ls -A /data | wc -l"); got != "0" {
		t.Errorf("volume-nocopy volume holds %s entries", got)
	}
	if got := strings.TrimSpace(c.ok("volume", "inspect", "-f", "{{.Labels.team}}", "empty2")); got != "x" {
		t.Errorf("volume-label: %q", got)
	}
	// inspect's Mode: -v's options, "z" when none, and "z" for a local
	// --mount volume (docker's setBindModeIfNull; tests/dockercmp checks
	// it against dockerd).
	c.ok("create", "--name", "modes", "-v", "data:/a", "-v", "data:/b:ro", "--mount", "type=volume,src=data,dst=/c", "seeded:1")
	if got := c.field("modes", `{{range .Mounts}}{{.Destination}}={{.Mode}},{{.RW}} {{end}}`); got != "/a=z,true /b=ro,false /c=z,true" {
		t.Errorf("inspect Mounts modes: %q", got)
	}
	c.ok("rm", "modes")
	// A volume at a path the image lacks is mounted empty.
	if got := c.sh([]string{"-v", "fresh:/nothere"}, "seeded:1", "ls -A /nothere | wc -l"); got != "0" {
		t.Errorf("fresh volume holds %s entries", got)
	}
	c.assertClean()
}

// TestVolumeCopyUpOnce: a container restarted with a volume it emptied
// does not get the image's content again.
func TestVolumeCopyUpOnce(t *testing.T) {
	c := newCLI(t)
	c.seededImage("seeded:1", false)
	script := "ls -A /data | wc -l; rm -rf /data/*"
	if got := strings.TrimSpace(c.ok("run", "--name", "once", "-v", "v1:/data", "seeded:1", "sh", "-c", script)); got != "3" {
		t.Errorf("first run sees %s entries, want 3", got)
	}
	if got := strings.TrimSpace(c.ok("start", "-a", "once")); got != "0" {
		t.Errorf("restarted container sees %s entries: its emptied volume was refilled", got)
	}
	c.ok("rm", "once")
	c.assertClean()
}

func TestAnonymousVolumes(t *testing.T) {
	c := newCLI(t)
	c.seededImage("withvol:1", true)
	anon := regexp.MustCompile(`^[0-9a-f]{64}$`)
	volumes := func() []string { return strings.Fields(c.ok("volume", "ls", "-q")) }

	// The image's VOLUME gets an anonymous volume at create, filled from
	// the image at the first start.
	c.ok("create", "--name", "av", "withvol:1", "cat", "/data/seed")
	vs := volumes()
	if len(vs) != 1 || !anon.MatchString(vs[0]) {
		t.Fatalf("volumes after create: %v, want one 64-hex anonymous volume", vs)
	}
	if got := c.ok("start", "-a", "av"); got != "from the image" {
		t.Errorf("anonymous volume content: %q", got)
	}
	var mounts []map[string]any
	if err := json.Unmarshal([]byte(c.field("av", "{{json .Mounts}}")), &mounts); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{
		"Type": "volume", "Name": vs[0], "Source": filepath.Join(c.root, "volumes", vs[0], "_data"),
		"Destination": "/data", "Driver": "local", "Mode": "", "RW": true, "Propagation": "",
	}}
	if diff := cmp.Diff(want, mounts); diff != "" {
		t.Errorf("inspect Mounts (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(c.ok("ps", "-a", "--format", "{{.LocalVolumes}} {{.Mounts}}")); got != "1 "+vs[0][:14]+"…" {
		t.Errorf("ps LocalVolumes Mounts: %q", got)
	}
	if got := c.ok("volume", "inspect", "-f", "{{json .Labels}}", vs[0]); strings.TrimSpace(got) != `{"com.docker.volume.anonymous":""}` {
		t.Errorf("anonymous volume labels: %s", got)
	}
	// rm -v removes it; a plain rm keeps it, and prune removes it.
	c.ok("rm", "-v", "av")
	if vs := volumes(); len(vs) != 0 {
		t.Errorf("volumes after rm -v: %v", vs)
	}
	c.ok("run", "--name", "bv", "-v", "/scratch", "-v", "named:/n", "busybox:test", "true")
	c.ok("rm", "bv")
	if vs := volumes(); len(vs) != 2 {
		t.Errorf("volumes after a plain rm: %v, want the anonymous and the named", vs)
	}
	// --rm removes the anonymous ones (the image's and -v /p), never a
	// named one.
	c.ok("run", "--rm", "-v", "/other", "-v", "named:/n", "withvol:1", "true")
	if vs := volumes(); len(vs) != 2 {
		t.Errorf("volumes after run --rm: %v", vs)
	}
	if got := c.ok("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}"); !strings.Contains(got, "Local Volumes|2|0\n") {
		t.Errorf("system df:\n%s", got)
	}
	// A failed start of an --rm container removes it and its anonymous
	// volumes.
	for _, detach := range []string{"-i", "-d"} {
		c.fails(127, "run", detach, "--rm", "-v", "/failed", "busybox:test", "nosuchcmd")
		if vs := volumes(); len(vs) != 2 {
			t.Errorf("volumes after a failed run %s --rm: %v", detach, vs)
		}
		if ps := c.ok("ps", "-aq"); ps != "" {
			t.Errorf("a failed run %s --rm left its container: %s", detach, ps)
		}
	}
	// The same through create + start, with and without -a.
	for _, flags := range [][]string{{"start"}, {"start", "-a"}} {
		id := strings.TrimSpace(c.ok("create", "--rm", "-v", "/failed", "busybox:test", "nosuchcmd"))
		c.fails(127, append(flags, id)...)
		if vs := volumes(); len(vs) != 2 {
			t.Errorf("volumes after a failed %v of an --rm container: %v", flags, vs)
		}
		if ps := c.ok("ps", "-aq"); ps != "" {
			t.Errorf("a failed %v of an --rm container left it: %s", flags, ps)
		}
	}
	out := c.ok("volume", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Volumes:\n") || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune output %q", out)
	}
	if vs := volumes(); !slices.Equal(vs, []string{"named"}) {
		t.Errorf("after prune: %v, want the named volume alone", vs)
	}
	c.ok("volume", "prune", "-af")
	if vs := volumes(); len(vs) != 0 {
		t.Errorf("after prune -a: %v", vs)
	}
	// system prune --volumes: the stopped container, then its anonymous
	// volume.
	c.ok("run", "-v", "/s", "busybox:test", "true")
	if out := c.ok("system", "prune", "-f", "--volumes"); !strings.Contains(out, "Deleted Volumes:\n") {
		t.Errorf("system prune --volumes: %q", out)
	}
	if vs := volumes(); len(vs) != 0 {
		t.Errorf("after system prune --volumes: %v", vs)
	}
	// A user mount at the image's VOLUME path replaces its anonymous volume.
	c.ok("run", "--rm", "-v", "mine:/data", "withvol:1", "true")
	if vs := volumes(); !slices.Equal(vs, []string{"mine"}) {
		t.Errorf("with -v at the VOLUME path: %v, want mine alone", vs)
	}
	c.assertClean()
}

func TestVolumeCommands(t *testing.T) {
	c := newCLI(t)
	if got := strings.TrimSpace(c.ok("volume", "create", "--label", "env=prod", "v1")); got != "v1" {
		t.Errorf("create prints %q", got)
	}
	if got := strings.TrimSpace(c.ok("volume", "create", "v1")); got != "v1" {
		t.Errorf("create of an existing volume prints %q", got)
	}
	gen := strings.TrimSpace(c.ok("volume", "create"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(gen) {
		t.Errorf("create without a name: %q", gen)
	}
	c.ok("volume", "create", "v2")
	c.ok("create", "--name", "user", "-v", "v2:/d", "busybox:test", "true")

	if got := c.ok("volume", "ls"); got != "DRIVER    VOLUME NAME\nlocal     "+gen+"\nlocal     v1\nlocal     v2\n" {
		t.Errorf("volume ls:\n%s", got)
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"name=v", []string{"v1", "v2"}},
		{"label=env", []string{"v1"}},
		{"label=env=dev", nil},
		{"dangling=false", []string{"v2"}},
		{"dangling=true", []string{gen, "v1"}},
		{"driver=local", []string{gen, "v1", "v2"}},
	} {
		got := strings.Fields(c.ok("volume", "ls", "-q", "--filter", tc.filter))
		if !slices.Equal(got, tc.want) {
			t.Errorf("ls --filter %s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(c.ok("volume", "ls", "--format", "json", "--filter", "name=v1")), &row); err != nil {
		t.Fatal(err)
	}
	keys := []string{"Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"}
	var gotKeys []string
	for k := range row {
		gotKeys = append(gotKeys, k)
	}
	slices.Sort(gotKeys)
	if diff := cmp.Diff(keys, gotKeys); diff != "" || row["Labels"] != "env=prod" {
		t.Errorf("ls json keys (-want +got):\n%s\nrow %v", diff, row)
	}
	if got := c.ok("volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "-f", "name=v2"); got != "VOLUME NAME   SCOPE\nv2            local\n" {
		t.Errorf("ls table format:\n%q", got)
	}

	var insp []map[string]any
	if err := json.Unmarshal([]byte(c.ok("volume", "inspect", "v1")), &insp); err != nil {
		t.Fatal(err)
	}
	if len(insp) != 1 {
		t.Fatalf("inspect: %v", insp)
	}
	v := insp[0]
	if v["Name"] != "v1" || v["Driver"] != "local" || v["Scope"] != "local" || len(v["Options"].(map[string]any)) != 0 ||
		v["Mountpoint"] != filepath.Join(c.root, "volumes", "v1", "_data") || v["Labels"].(map[string]any)["env"] != "prod" {
		t.Errorf("inspect: %v", v)
	}
	if _, err := time.Parse(time.RFC3339, v["CreatedAt"].(string)); err != nil {
		t.Errorf("CreatedAt: %v", err)
	}
	// The top-level inspect finds volumes too, as docker's does.
	if got := strings.TrimSpace(c.ok("inspect", "-f", "{{.Name}} {{.Scope}}", "v1")); got != "v1 local" {
		t.Errorf("inspect of a volume: %q", got)
	}

	// Errors, worded as docker's.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"volume", "inspect", "nope"}, 1, "Error: No such volume: nope\n"},
		{[]string{"volume", "rm", "nope"}, 1, "Error: No such volume: nope\n"},
		{[]string{"volume", "rm", "v2"}, 1, "Error: remove v2: volume is in use - [" + strings.TrimSpace(c.ok("inspect", "-f", "{{.Id}}", "user")) + "]\n"},
		{[]string{"volume", "create", "b$d"}, 1, `"b$d" includes invalid characters for a local volume name`},
		{[]string{"volume", "create", "-o", "type=tmpfs", "t1"}, 1, `"type" and "device" are both required`},
		{[]string{"volume", "create", "-o", "color=red", "t1"}, 1, `invalid option: "color"`},
		{[]string{"volume", "create", "-d", "nfs", "t1"}, 1, `plugin "nfs" not found`},
		{[]string{"volume", "ls", "--filter", "colour=red"}, 1, "Invalid filter 'colour'"},
		{[]string{"volume", "rm"}, 1, "requires at least 1 arg"},
	} {
		if got := c.fails(tc.code, tc.args...); !strings.Contains(got, tc.msg) {
			t.Errorf("pelagos %v: %q, want %q", tc.args, got, tc.msg)
		}
	}
	c.ok("volume", "rm", "-f", "nope")
	if out := c.ok("volume", "rm", "v1", gen); out != "v1\n"+gen+"\n" {
		t.Errorf("rm prints %q", out)
	}
	// In use by a stopped container: prune -a keeps it too.
	c.ok("volume", "prune", "-af")
	if got := strings.Fields(c.ok("volume", "ls", "-q")); !slices.Equal(got, []string{"v2"}) {
		t.Errorf("prune -a removed a volume in use: %v", got)
	}
	c.ok("rm", "user")
	c.ok("volume", "rm", "v2")
	if _, err := os.Stat(filepath.Join(c.root, "volumes", "v2")); !os.IsNotExist(err) {
		t.Errorf("volume directory left: %v", err)
	}
	c.assertClean()
}

// TestVolumeSymlinkAttack: an image whose VOLUME path is a symlink to
// /etc must have its own /etc copied, never the host's.
func TestVolumeSymlinkAttack(t *testing.T) {
	c := newCLI(t)
	c.importWith("evil:1", []*tar.Header{
		{Name: "data", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
		{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../../../../etc"},
	}, nil, "VOLUME /data")
	for _, flags := range [][]string{nil, {"-v", "evil2:/up"}} {
		c.ok(append(append([]string{"run"}, flags...), "evil:1", "true")...)
	}
	names := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Join(c.root, "volumes"))
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(c.root, "volumes", d.Name(), "_data"))
		for _, f := range files {
			names[f.Name()] = true
		}
	}
	if !names["passwd"] || !names["notexec"] {
		t.Errorf("the image's /etc was not copied: %v", names)
	}
	for _, host := range []string{"os-release", "hostname", "fstab", "shadow"} {
		if names[host] {
			t.Errorf("copy-up followed the image's symlink to the host: the host's /etc/%s is in a volume", host)
		}
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}

// TestVolumeConcurrentCreate: six `volume create vx` and six `run -v vy:`
// at once make one volume each.
func TestVolumeConcurrentCreate(t *testing.T) {
	c := newCLI(t)
	var wg sync.WaitGroup
	codes := make(chan int, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"volume", "create", "vx"}
			if i%2 == 1 {
				args = []string{"run", "--rm", "-v", "vy:/y", "busybox:test", "sh", "-c", "hostname > /y/$(hostname)"}
			}
			_, _, code := c.run(nil, args...)
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 0 {
			t.Errorf("a concurrent create exited %d", code)
		}
	}
	if got := strings.Fields(c.ok("volume", "ls", "-q")); !slices.Equal(got, []string{"vx", "vy"}) {
		t.Errorf("volumes: %v, want vx vy", got)
	}
	files, _ := os.ReadDir(filepath.Join(c.root, "volumes", "vy", "_data"))
	if len(files) != 6 {
		t.Errorf("volume y holds %d files, want 6 (one per container)", len(files))
	}
	c.assertClean()
}

// TestVolumeDriverOptions: the local driver's -o type=tmpfs and bind
// volumes, mounted at first use and unmounted by volume rm.
func TestVolumeDriverOptions(t *testing.T) {
	c := newCLI(t)
	c.ok("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0770", "tv")
	if got := c.sh([]string{"-v", "tv:/t"}, "busybox:test", "echo shared > /t/f; grep ' /t ' /proc/mounts | cut -d' ' -f3"); got != "tmpfs" {
		t.Errorf("tmpfs volume mounted as %q", got)
	}
	if got := c.sh([]string{"-v", "tv:/t"}, "busybox:test", "cat /t/f; stat -c %a /t"); got != "shared\n770" {
		t.Errorf("tmpfs volume in a second container: %q", got)
	}
	host := t.TempDir()
	c.ok("volume", "create", "-o", "type=none", "-o", "device="+host, "-o", "o=bind", "bv")
	c.sh([]string{"-v", "bv:/b"}, "busybox:test", "echo through > /b/f")
	if b, err := os.ReadFile(filepath.Join(host, "f")); err != nil || string(b) != "through\n" {
		t.Errorf("bind volume: host file %q %v", b, err)
	}
	c.ok("volume", "rm", "tv", "bv")
	c.assertClean() // fails on a mount left under the root
}

// TestVolumeSIGKILL: a volume create killed before its rename leaves no
// volume (prune sweeps its directory), and a start killed right after
// copy-up, volume lock held, leaves a volume the next run uses.
func TestVolumeSIGKILL(t *testing.T) {
	c := newCLI(t)
	c.seededImage("seeded:1", false)
	base := c.env
	c.env = append(append([]string(nil), base...), engine.EnvDieAt+"="+engine.StepVolumeBuilt)
	_, _, code := c.run(nil, "volume", "create", "vk")
	c.env = base
	if code != -1 {
		t.Fatalf("volume create killed at %s: exit %d", engine.StepVolumeBuilt, code)
	}
	if got := c.ok("volume", "ls", "-q"); got != "" {
		t.Errorf("a killed create left a volume: %q", got)
	}
	c.ok("volume", "prune", "-f")
	if ents, _ := os.ReadDir(filepath.Join(c.root, "volumes")); len(ents) != 1 || ents[0].Name() != ".lock" {
		t.Errorf("prune left the killed create's directory: %v", ents)
	}
	c.ok("volume", "create", "vk")

	c.env = append(append([]string(nil), base...), engine.EnvDieAt+"="+engine.StepVolumeCopied)
	_, _, code = c.run(nil, "run", "--rm", "-v", "vk:/data", "seeded:1", "true")
	c.env = base
	if code != -1 {
		t.Fatalf("run killed at %s: exit %d", engine.StepVolumeCopied, code)
	}
	for _, id := range strings.Fields(c.ok("ps", "-aq")) {
		c.ok("rm", "-f", id)
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
	if got := c.sh([]string{"-v", "vk:/data"}, "seeded:1", "cat /data/seed"); got != "from the image" {
		t.Errorf("volume after a killed copy-up: %q", got)
	}
	c.ok("volume", "rm", "vk")
	c.assertClean()
}
