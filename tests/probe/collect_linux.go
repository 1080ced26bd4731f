package probe

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Collect gathers a Report about the calling process.
func Collect() *Report {
	r := &Report{
		Args:       os.Args,
		Env:        os.Environ(),
		PID:        os.Getpid(),
		PPID:       os.Getppid(),
		Namespaces: map[string]string{},
		Rlimits:    map[string]Rlimit{},
		FDs:        map[int]string{},
		Errors:     map[string]string{},
	}
	steps := []struct {
		name string
		fn   func(*Report) error
	}{
		{"fds", collectFDs}, // first: see collectFDs
		{"cwd", collectCwd},
		{"ids", collectIDs},
		{"status", collectStatus},
		{"uname", collectUname},
		{"namespaces", collectNamespaces},
		{"cgroups", collectCgroups},
		{"mounts", collectMounts},
		{"rlimits", collectRlimits},
		{"oom_score_adj", collectOOMScoreAdj},
		{"personality", collectPersonality},
		{"scheduler", collectScheduler},
		{"io_priority", collectIOPriority},
		{"stdio", collectStdio},
	}
	for _, s := range steps {
		if err := s.fn(r); err != nil {
			r.Errors[s.name] = err.Error()
		}
	}
	return r
}

func collectCwd(r *Report) (err error) {
	r.Cwd, err = os.Getwd()
	return err
}

func collectIDs(r *Report) (err error) {
	r.PGID, err = unix.Getpgid(0)
	if err != nil {
		return err
	}
	r.SID, err = unix.Getsid(0)
	if err != nil {
		return err
	}
	r.Groups, err = unix.Getgroups()
	if r.Groups == nil {
		r.Groups = []int{}
	}
	return err
}

func collectStatus(r *Report) error {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	return parseStatus(string(data), r)
}

// parseStatus fills the fields of r that /proc/self/status (proc(5)) holds.
func parseStatus(text string, r *Report) error {
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	var err error
	if r.UIDs, err = parseIDs(fields["Uid"]); err != nil {
		return fmt.Errorf("status Uid: %w", err)
	}
	if r.GIDs, err = parseIDs(fields["Gid"]); err != nil {
		return fmt.Errorf("status Gid: %w", err)
	}
	r.Umask = fields["Umask"]
	sets := []struct {
		key string
		dst *[]string
	}{
		{"CapInh", &r.Caps.Inheritable},
		{"CapPrm", &r.Caps.Permitted},
		{"CapEff", &r.Caps.Effective},
		{"CapBnd", &r.Caps.Bounding},
		{"CapAmb", &r.Caps.Ambient},
	}
	for _, s := range sets {
		mask, err := strconv.ParseUint(fields[s.key], 16, 64)
		if err != nil {
			return fmt.Errorf("status %s: %w", s.key, err)
		}
		*s.dst = CapNames(mask)
	}
	r.NoNewPrivs = fields["NoNewPrivs"] == "1"
	r.Seccomp, _ = strconv.Atoi(fields["Seccomp"])
	r.SeccompCount, _ = strconv.Atoi(fields["Seccomp_filters"])
	return nil
}

func parseIDs(s string) ([4]int, error) {
	var ids [4]int
	f := strings.Fields(s)
	if len(f) != 4 {
		return ids, fmt.Errorf("want 4 ids, got %q", s)
	}
	for i := range ids {
		n, err := strconv.Atoi(f[i])
		if err != nil {
			return ids, err
		}
		ids[i] = n
	}
	return ids, nil
}

func collectUname(r *Report) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	r.Hostname = unix.ByteSliceToString(u.Nodename[:])
	r.Domainname = unix.ByteSliceToString(u.Domainname[:])
	return nil
}

func collectNamespaces(r *Report) error {
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return err
	}
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/ns/" + e.Name())
		if err != nil {
			return err
		}
		r.Namespaces[e.Name()] = link
	}
	return nil
}

func collectCgroups(r *Report) error {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	r.Cgroups, err = parseCgroups(string(data))
	return err
}

func parseCgroups(text string) ([]Cgroup, error) {
	out := []Cgroup{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad cgroup line %q", line)
		}
		h, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("bad cgroup line %q", line)
		}
		out = append(out, Cgroup{Hierarchy: h, Controllers: f[1], Path: f[2]})
	}
	return out, nil
}

func collectMounts(r *Report) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	r.Mounts, err = ParseMountinfo(string(data))
	return err
}

// ParseMountinfo parses the text of /proc/<pid>/mountinfo (proc(5)).
func ParseMountinfo(text string) ([]Mount, error) {
	out := []Mount{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		m, err := parseMountLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func parseMountLine(line string) (Mount, error) {
	pre, post, ok := strings.Cut(line, " - ")
	pf, qf := strings.Fields(pre), strings.Fields(post)
	if !ok || len(pf) < 6 || len(qf) < 3 {
		return Mount{}, fmt.Errorf("bad mountinfo line %q", line)
	}
	id, err1 := strconv.Atoi(pf[0])
	parent, err2 := strconv.Atoi(pf[1])
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("bad mountinfo line %q", line)
	}
	m := Mount{
		ID: id, Parent: parent, Dev: pf[2],
		Root: unescape(pf[3]), Point: unescape(pf[4]),
		Options:   strings.Split(pf[5], ","),
		Optional:  append([]string{}, pf[6:]...),
		FSType:    qf[0],
		Source:    unescape(qf[1]),
		SuperOpts: strings.Split(qf[2], ","),
	}
	m.Propagated = "private"
	for _, o := range m.Optional {
		switch {
		case strings.HasPrefix(o, "shared:"):
			m.Propagated = "shared"
		case strings.HasPrefix(o, "master:") && m.Propagated != "shared":
			m.Propagated = "slave"
		case o == "unbindable":
			m.Propagated = "unbindable"
		}
	}
	return m, nil
}

// unescape undoes mountinfo's octal escapes (\040 is a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// rlimitNames are the resources getrlimit(2) knows, in number order.
var rlimitNames = []string{
	"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
	"RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
	"RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_RTPRIO", "RLIMIT_RTTIME",
}

func collectRlimits(r *Report) error {
	for i, name := range rlimitNames {
		var l unix.Rlimit
		if err := unix.Prlimit(0, i, nil, &l); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.Rlimits[name] = Rlimit{Soft: l.Cur, Hard: l.Max}
	}
	return nil
}

func collectOOMScoreAdj(r *Report) error {
	data, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return err
	}
	r.OOMScoreAdj, err = strconv.Atoi(strings.TrimSpace(string(data)))
	return err
}

func collectPersonality(r *Report) error {
	// personality(0xffffffff) queries without changing anything.
	p, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if errno != 0 {
		return errno
	}
	r.Personality = uint32(p)
	return nil
}

func collectScheduler(r *Report) error {
	a, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return err
	}
	r.Scheduler = Scheduler{Policy: a.Policy, Nice: a.Nice, Priority: a.Priority}
	return nil
}

func collectIOPriority(r *Report) error {
	const ioprioWhoProcess = 1
	p, _, errno := unix.RawSyscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, 0, 0)
	if errno != 0 {
		return errno
	}
	r.IOPriority = int(p)
	return nil
}

// collectFDs lists the open descriptors. It runs first and uses raw
// syscalls: the first os.Open makes the Go runtime open its own epoll and
// eventfd descriptors, which would otherwise show up as if inherited.
func collectFDs(r *Report) error {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/self/fd", Err: err}
	}
	defer unix.Close(dfd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil {
			return os.NewSyscallError("getdents", err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	link := make([]byte, 4096)
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd == dfd {
			continue
		}
		n, err := unix.Readlink("/proc/self/fd/"+name, link)
		if err != nil {
			continue // closed meanwhile
		}
		r.FDs[fd] = string(link[:n])
	}
	return nil
}

func collectStdio(r *Report) error {
	r.Stdio = Stdio{StdinTTY: isTTY(0), StdoutTTY: isTTY(1), StderrTTY: isTTY(2)}
	return nil
}

func isTTY(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
