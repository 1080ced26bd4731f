package initproc

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/caps"
	"github.com/pelagos-go/pelagos/internal/inroot"
	"github.com/pelagos-go/pelagos/internal/landlock"
	"github.com/pelagos-go/pelagos/internal/seccomp"
	"github.com/pelagos-go/pelagos/internal/spec"
)

func setHostname(s *initState) error {
	sp := s.b.Spec
	if sp.Hostname != "" {
		if err := unix.Sethostname([]byte(sp.Hostname)); err != nil {
			return os.NewSyscallError("sethostname", err)
		}
	}
	if sp.Domainname != "" {
		if err := unix.Setdomainname([]byte(sp.Domainname)); err != nil {
			return os.NewSyscallError("setdomainname", err)
		}
	}
	return nil
}

// setSysctls writes each sysctl through our own procfs handle: opened
// before the container's filesystem existed, walked without crossing
// mounts or following links, so nothing in the container can redirect a
// write to another kernel file (CVE-2025-52881). The namespace checks are
// done by spec validation before anything is created.
func setSysctls(s *initState) error {
	for key, value := range s.b.Spec.Linux.Sysctl {
		path := "sys/" + strings.ReplaceAll(key, ".", "/")
		if err := writeProc(s.procfs, path, value); err != nil {
			return fmt.Errorf("sysctl %s: %w", key, err)
		}
	}
	return nil
}

func writeProc(procfs *os.File, path, value string) error {
	how := unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(int(procfs.Fd()), path, &how)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/" + path, Err: err}
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(value)); err != nil {
		return &os.PathError{Op: "write", Path: "/proc/" + path, Err: err}
	}
	return nil
}

func setOOMScore(s *initState) error {
	p := s.proc
	if p.OOMScoreAdj == nil {
		return nil
	}
	return writeProc(s.procfs, "self/oom_score_adj", strconv.Itoa(*p.OOMScoreAdj))
}

// joinKeyring gives the container a session keyring of its own, so it
// cannot read or add to the caller's keys.
func joinKeyring(s *initState) error {
	if s.b.NoNewKeyring {
		return nil
	}
	_, err := unix.KeyctlJoinSessionKeyring("_ses." + s.b.ID)
	if errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}

// checkLabels refuses an AppArmor profile or SELinux label on a host
// without that LSM, rather than running the container unconfined.
func checkLabels(s *initState) error {
	p := s.proc
	if p.ApparmorProfile != "" {
		if !apparmorEnabled() {
			return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", p.ApparmorProfile)
		}
		attr := "self/attr/apparmor/exec"
		if err := writeProc(s.procfs, attr, "exec "+p.ApparmorProfile); err != nil {
			if err := writeProc(s.procfs, "self/attr/exec", "exec "+p.ApparmorProfile); err != nil {
				return fmt.Errorf("apparmor profile %s: %w", p.ApparmorProfile, err)
			}
		}
	}
	if p.SelinuxLabel != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on this host", p.SelinuxLabel)
		}
		if err := writeProc(s.procfs, "self/attr/exec", p.SelinuxLabel); err != nil {
			return fmt.Errorf("selinux label %s: %w", p.SelinuxLabel, err)
		}
	}
	return nil
}

func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// setRlimits applies process.rlimits. It runs as late as it can, just
// before the filter and the switch of user: a small RLIMIT_AS or
// RLIMIT_DATA would starve the init's own Go runtime, and raising a hard
// limit needs CAP_SYS_RESOURCE, which the switch may take away.
func setRlimits(s *initState) error {
	for _, r := range s.proc.Rlimits {
		res, _ := spec.RlimitResource(r.Type)
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			return fmt.Errorf("rlimit %s (soft %d, hard %d): %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// setProcessAttrs applies personality, scheduler and I/O priority; the
// process inherits them across execve.
func setProcessAttrs(s *initState) error {
	p := s.proc
	if per := s.b.Spec.Linux.Personality; per != nil {
		if err := setPersonality(per); err != nil {
			return err
		}
	}
	if sc := p.Scheduler; sc != nil {
		if err := setScheduler(sc); err != nil {
			return err
		}
	}
	if io := p.IOPriority; io != nil {
		if err := setIOPriority(io); err != nil {
			return err
		}
	}
	return nil
}

func setPersonality(per *specs.LinuxPersonality) error {
	v, err := personality(per)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_PERSONALITY, uintptr(v), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("personality", errno)
	}
	return nil
}

// personality is the execution domain linux.personality asks for.
func personality(per *specs.LinuxPersonality) (uint, error) {
	if len(per.Flags) > 0 {
		return 0, fmt.Errorf("linux.personality.flags %v: no flags are supported", per.Flags)
	}
	switch per.Domain {
	case specs.PerLinux:
		return perLinux, nil
	case specs.PerLinux32:
		return perLinux32, nil
	}
	return 0, fmt.Errorf("linux.personality.domain %q is not LINUX or LINUX32", per.Domain)
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther:    0,
	specs.SchedFIFO:     1,
	specs.SchedRR:       2,
	specs.SchedBatch:    3,
	specs.SchedIdle:     5,
	specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork:  0x01,
	specs.SchedFlagReclaim:      0x02,
	specs.SchedFlagDLOverrun:    0x04,
	specs.SchedFlagKeepPolicy:   0x08,
	specs.SchedFlagKeepParams:   0x10,
	specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

func setScheduler(sc *specs.Scheduler) error {
	attr, err := schedAttr(sc)
	if err != nil {
		return err
	}
	return os.NewSyscallError("sched_setattr", unix.SchedSetAttr(0, &attr, 0))
}

// schedAttr is the sched_setattr(2) argument process.scheduler asks for.
func schedAttr(sc *specs.Scheduler) (unix.SchedAttr, error) {
	policy, ok := schedPolicies[sc.Policy]
	if !ok {
		return unix.SchedAttr{}, fmt.Errorf("process.scheduler.policy %q is not supported", sc.Policy)
	}
	attr := unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   policy,
		Nice:     sc.Nice,
		Priority: uint32(sc.Priority),
		Runtime:  sc.Runtime,
		Deadline: sc.Deadline,
		Period:   sc.Period,
	}
	for _, f := range sc.Flags {
		bit, ok := schedFlags[f]
		if !ok {
			return attr, fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
		}
		attr.Flags |= bit
	}
	return attr, nil
}

func setIOPriority(io *specs.LinuxIOPriority) error {
	prio, err := ioPriority(io)
	if err != nil {
		return err
	}
	const whoProcess = 1
	_, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(prio))
	if errno != 0 {
		return os.NewSyscallError("ioprio_set", errno)
	}
	return nil
}

// ioPriority is the ioprio_set(2) value process.ioPriority asks for.
func ioPriority(io *specs.LinuxIOPriority) (int, error) {
	classes := map[specs.IOPriorityClass]int{
		specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
	}
	class, ok := classes[io.Class]
	if !ok {
		return 0, fmt.Errorf("process.ioPriority.class %q is unknown", io.Class)
	}
	if io.Priority < 0 || io.Priority > 7 {
		return 0, fmt.Errorf("process.ioPriority.priority %d is outside 0-7", io.Priority)
	}
	return class<<13 | io.Priority, nil
}

// findExecutable resolves args[0] inside the container, with the PATH the
// process will have, so a missing command fails at create, not at start.
func findExecutable(s *initState) error {
	name := s.proc.Args[0]
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.proc.Cwd, path)
		}
		if err := checkExecutable(path); err != nil {
			return fmt.Errorf("exec: %q: %w", name, err)
		}
		s.execPath = name
		return nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range s.proc.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(s.proc.Cwd, p)
		}
		if checkExecutable(p) == nil {
			s.execPath = p
			return nil
		}
	}
	return fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("no such file or directory")
		}
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return errors.New("permission denied")
	}
	return nil
}

// enterCwd changes to process.cwd resolved inside the container. The
// runtime may reach directories the container's user cannot: on EACCES the
// change is retried after the switch to that user.
func enterCwd(s *initState) error {
	if s.root == nil {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.root = root
	}
	err := s.chdir()
	if errors.Is(err, unix.EACCES) {
		s.cwdPending = true
		return nil
	}
	return err
}

// chdir changes to process.cwd through a handle resolved inside the
// container's root without magic links, so a cwd such as
// /proc/self/fd/N cannot name a directory outside the container
// (CVE-2024-21626), and then double-checks that the kernel agrees.
func (s *initState) chdir() error {
	dir, err := inroot.Open(s.root, s.proc.Cwd, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("process.cwd %s: %w", s.proc.Cwd, err)
	}
	defer dir.Close()
	if err := unix.Fchdir(int(dir.Fd())); err != nil {
		return fmt.Errorf("process.cwd %s: %w", s.proc.Cwd, err)
	}
	return checkCwd(s.proc.Cwd)
}

// checkCwd makes sure the working directory is inside the root: the kernel
// reports a directory outside it as "(unreachable)/...".
func checkCwd(cwd string) error {
	wd, err := os.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %s is outside the container's root", cwd)
	}
	return nil
}

// setUser switches to the process's user. The bounding set is dropped
// first (that needs CAP_SETPCAP, which the switch may take away), and
// KEEPCAPS holds the permitted set across the switch so setCaps can pick
// the final sets. All calls are per thread: this thread is the one that
// executes the process.
func setUser(s *initState) error {
	set, _, err := caps.Parse(s.proc.Capabilities)
	if err != nil {
		return err
	}
	if s.proc.Capabilities != nil {
		if err := caps.DropBounding(set.Bounding); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_KEEPCAPS)", err)
	}
	u := s.proc.User
	if err := setgroups(s, u.AdditionalGids); err != nil {
		return err
	}
	if err := rawID(unix.SYS_SETRESGID, int(u.GID)); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, err)
	}
	if err := rawID(unix.SYS_SETRESUID, int(u.UID)); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_KEEPCAPS)", err)
	}
	if s.cwdPending {
		// The directory was resolved (inside the root, without magic
		// links) but only the container's user may enter it.
		if err := unix.Chdir(s.proc.Cwd); err != nil {
			return fmt.Errorf("process.cwd %s: %w", s.proc.Cwd, err)
		}
		return checkCwd(s.proc.Cwd)
	}
	return nil
}

func setgroups(s *initState, gids []uint32) error {
	if s.userNS && setgroupsDenied(s.procfs) {
		if len(gids) > 0 {
			return errors.New("process.user.additionalGids: setgroups is denied in this user namespace")
		}
		return nil
	}
	list := make([]uint32, len(gids))
	copy(list, gids)
	var errno unix.Errno
	if len(list) > 0 {
		_, _, errno = unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(unsafe.Pointer(&list[0])), 0)
	} else {
		_, _, errno = unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
	}
	if errno != 0 {
		return fmt.Errorf("setgroups %v: %w", gids, errno)
	}
	return nil
}

func setgroupsDenied(procfs *os.File) bool {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV}
	fd, err := unix.Openat2(int(procfs.Fd()), "self/setgroups", &how)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, 16)
	n, _ := unix.Read(fd, buf)
	return strings.TrimSpace(string(buf[:max(n, 0)])) == "deny"
}

func rawID(nr uintptr, id int) error {
	if _, _, errno := unix.RawSyscall(nr, uintptr(id), uintptr(id), uintptr(id)); errno != 0 {
		return errno
	}
	return nil
}

// setHome sets HOME from the container's /etc/passwd when the process's
// environment has none, as runc does.
func setHome(s *initState) error {
	for _, e := range s.proc.Env {
		if strings.HasPrefix(e, "HOME=") {
			return nil
		}
	}
	if s.root == nil {
		root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		s.root = root
	}
	home := "/"
	if f, err := inroot.Open(s.root, "/etc/passwd", unix.O_RDONLY); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), ":")
			if len(fields) >= 6 && fields[2] == strconv.Itoa(int(s.proc.User.UID)) {
				home = fields[5]
				break
			}
		}
		f.Close()
	}
	s.proc.Env = append(s.proc.Env, "HOME="+home)
	return nil
}

func setCaps(s *initState) error {
	if s.proc.Capabilities == nil {
		return nil
	}
	set, warnings, err := caps.Parse(s.proc.Capabilities)
	if err != nil {
		return err
	}
	applied, err := caps.SetProcess(set)
	for _, w := range append(warnings, applied...) {
		s.warn("%s", w)
	}
	return err
}

func setNoNewPrivs(s *initState) error {
	if !s.proc.NoNewPrivileges {
		return nil
	}
	return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
}

// applyLandlock confines the process with the ruleset the config's
// landlock annotation asks for (see package landlock).
func applyLandlock(s *initState) error {
	v, ok := s.b.Spec.Annotations[landlock.Annotation]
	if !ok {
		return nil
	}
	r, err := landlock.Parse(v)
	if err != nil {
		return err
	}
	return r.Apply()
}

// compileSeccomp compiles the profile before the container is reported
// created, so a profile the kernel or this build cannot apply fails create.
func compileSeccomp(s *initState) error {
	cfg := s.b.Spec.Linux.Seccomp
	if cfg == nil {
		return nil
	}
	if len(s.b.Seccomp) > 0 {
		p, err := seccomp.Decode(s.b.Seccomp, s.b.SeccompFlags)
		s.seccomp = p
		return err
	}
	p, err := seccomp.Compile(cfg)
	if err != nil {
		return err
	}
	s.seccomp = p
	return nil
}

// loadSeccompPrivileged loads the filter before the switch to the
// container's user when no_new_privs is not set: without it the kernel
// accepts a filter only from a process holding CAP_SYS_ADMIN. The profile
// must then allow the few calls that follow (setgroups, setresuid, capset,
// prctl, execve), as with every runtime.
func loadSeccompPrivileged(s *initState) error {
	if s.seccomp == nil || s.proc.NoNewPrivileges {
		return nil
	}
	return s.installSeccomp()
}

// loadSeccomp loads the filter as the last step before execve, with
// no_new_privs set.
func loadSeccomp(s *initState) error {
	if s.seccomp == nil || !s.proc.NoNewPrivileges {
		return nil
	}
	return s.installSeccomp()
}

// installSeccomp loads the filter and, for a profile with SCMP_ACT_NOTIFY,
// hands the listener to the runtime, which passes it to the profile's
// agent; the process is executed only once the agent has it.
func (s *initState) installSeccomp() error {
	listener, err := s.seccomp.Load()
	if err != nil {
		return err
	}
	if listener < 0 {
		return nil
	}
	f := os.NewFile(uintptr(listener), "seccomp-listener")
	defer f.Close()
	if err := s.conn.SendFd(Message{Type: MsgSeccomp}, f); err != nil {
		return err
	}
	_, err = s.conn.Expect(MsgSeccompDone, nil)
	return err
}

// closeDescriptors marks every descriptor past the preserved ones
// close-on-exec, so no host file reaches the container (CVE-2024-21626);
// anything opened later is close-on-exec already. The sync socket's EOF at
// execve then tells the waiting runtime that the process started.
func closeDescriptors(s *initState) error {
	first := uint(3 + s.b.PreserveFds)
	return os.NewSyscallError("close_range", unix.CloseRange(first, ^uint(0), unix.CLOSE_RANGE_CLOEXEC))
}

// execProcess replaces the init with the container process.
func execProcess(s *initState) error {
	umask := 0o022
	if s.proc.User.Umask != nil {
		umask = int(*s.proc.User.Umask)
	}
	unix.Umask(umask)
	resetSignals()
	err := unix.Exec(s.execPath, s.proc.Args, s.proc.Env)
	return fmt.Errorf("exec %s: %w", s.execPath, err)
}

// kernelSigaction is the kernel's struct sigaction (rt_sigaction(2)).
type kernelSigaction struct {
	handler, flags, restorer uintptr
	mask                     uint64
}

// resetSignals gives the container process what a fresh process has, as
// the C init does: signals ignored by whoever started the runtime (the
// Go runtime keeps an inherited SIG_IGN of SIGHUP and SIGINT) go back to
// the default, and nothing stays blocked; execve keeps both otherwise.
func resetSignals() {
	const sigIgn = 1
	for sig := uintptr(1); sig <= 64; sig++ {
		var old kernelSigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler == sigIgn {
			dfl := kernelSigaction{}
			unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		}
	}
	var none unix.Sigset_t
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &none, nil)
}

// Execution domains from <linux/personality.h>.
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)
