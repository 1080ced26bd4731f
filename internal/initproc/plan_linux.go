package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/caps"
	"github.com/pelagos-go/pelagos/internal/landlock"
	"github.com/pelagos-go/pelagos/internal/mountopt"
	"github.com/pelagos-go/pelagos/internal/nsenter"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// The C init (internal/nsenter/cinit.c) starts a container without a Go
// runtime in the container: the runtime compiles the config into a plan of
// operations here, step for step as the Go init's createSteps would carry
// it out, and the init executes the plan and then the process. Every
// decision that needs the config is made here; what needs the container's
// own view (resolving paths inside its root, the type of a masked path, the
// executable on its PATH) is an operation of the plan.
//
// Configs that need what only the Go init does (a user namespace,
// createContainer and startContainer hooks, AppArmor or SELinux labels,
// tmpcopyup, idmapped mounts, Landlock, a seccomp notify agent, no mount
// namespace of their own) keep the Go init: PlanUnsupported says why.
// The same holds for exec (CompileExecPlan), whose process joins the
// namespaces of a running container.

// EnvInit set to "go" in the runtime's environment makes every container
// use the Go init (for comparison, and as a way out).
const EnvInit = "PELAGOS_INIT"

// PlanUnsupported returns why the C init cannot start process p (the
// config's own for a create) of a container with this config in this mode
// ("" when it can). notify says the seccomp program uses SCMP_ACT_NOTIFY;
// prepared says the runtime prepares mounts for it.
func PlanUnsupported(sp *specs.Spec, p *specs.Process, mode Mode, notify, prepared bool) string {
	l := sp.Linux
	switch {
	case os.Getenv(EnvInit) == "go":
		return EnvInit + "=go"
	case os.Geteuid() != 0:
		return "rootless"
	case p == nil || l == nil:
		return "no process"
	case !hasNamespace(sp, specs.MountNamespace):
		return "no mount namespace"
	case hasNamespace(sp, specs.UserNamespace):
		return "user namespace"
	case mode == ModeCreate && sp.Hooks != nil && (len(sp.Hooks.CreateContainer) > 0 || len(sp.Hooks.StartContainer) > 0):
		return "createContainer or startContainer hooks"
	case p.ApparmorProfile != "" || p.SelinuxLabel != "":
		return "security labels"
	case notify:
		return "seccomp notify"
	case prepared:
		return "prepared mounts"
	}
	if _, ok := sp.Annotations[landlock.Annotation]; ok {
		return "landlock"
	}
	for _, m := range sp.Mounts {
		o := mountopt.Parse(m.Options)
		if o.TmpCopyUp || o.IDMap || o.RecursiveIDMap {
			return "mount options"
		}
	}
	return ""
}

// planner compiles one create.
type planner struct {
	p    *nsenter.Plan
	b    *Bootstrap
	sp   *specs.Spec
	proc *specs.Process
	// entered: the plan has had the init enter its cgroup (enterCgroup).
	entered bool
	// deferred are the indices of the cgroup mounts that mounts left for
	// cgroupMounts; masked: the masks came before them.
	deferred []int
	masked   bool
}

// Slots the compiled steps use for their handles.
const (
	slotTarget = nsenter.SlotFree + iota
	slotMount
	slotSub
	slotDir
)

// planStep is one step of the Go init's, compiled.
type planStep struct {
	name string
	fn   func(*planner) error
}

// createPlan mirrors createSteps, execPlan execSteps, and processPlan
// processSteps (where both end).
var (
	createPlan = append([]planStep{
		{"open host handles", (*planner).hostHandles},
		{"prepare root", (*planner).prepareRoot},
		{"mounts", (*planner).mounts},
		{"devices", (*planner).devices},
		{"cwd", (*planner).createCwd},
		{"masked and readonly paths", (*planner).masksBeforeCgroup},
		{"mounts", (*planner).cgroupMounts},
		{"hooks", (*planner).hooks},
		{"masked and readonly paths", (*planner).masks},
		{"pivot root", (*planner).pivot},
		{"console", (*planner).console},
		{"readonly root", (*planner).readonlyRoot},
		{"hostname", (*planner).hostname},
		{"sysctl", (*planner).sysctls},
		{"oom score", (*planner).oomScore},
		{"session keyring", (*planner).keyring},
		{"process attributes", (*planner).processAttrs},
		{"find executable", (*planner).findExec},
		{"home", (*planner).home},
		{"ready", (*planner).ready},
		{"wait for start", (*planner).waitStart},
		{"cwd", (*planner).enterCwd},
	}, processPlan...)
	execPlan = append([]planStep{
		{"cwd", (*planner).openRootAndCwd},
		{"console", (*planner).console},
		{"process attributes", (*planner).processAttrs},
		{"find executable", (*planner).findExec},
		{"home", (*planner).home},
	}, processPlan...)
	processPlan = []planStep{
		{"close descriptors", (*planner).closeDescriptors},
		{"rlimits", (*planner).rlimits},
		{"seccomp", (*planner).seccompPrivileged},
		{"user", (*planner).user},
		{"capabilities", (*planner).caps},
		{"no_new_privs", (*planner).noNewPrivs},
		{"seccomp", (*planner).seccomp},
		{"exec", (*planner).exec},
	}
)

// CompilePlan compiles the create of b (whose Spec is the decoded config)
// for the C init. A config error the Go init would find while setting up
// is returned as the *StepError it would have reported.
func CompilePlan(b *Bootstrap) ([]byte, error) {
	return compile(b, b.Spec.Process, createPlan)
}

// CompileExecPlan compiles an exec of b.Process into a container whose
// config is b.Spec, as the Go init's execSteps would carry it out.
func CompileExecPlan(b *Bootstrap) ([]byte, error) {
	return compile(b, b.Process, execPlan)
}

func compile(b *Bootstrap, proc *specs.Process, steps []planStep) ([]byte, error) {
	p := nsenter.NewPlan()
	if err := compileInto(p, b, proc, steps); err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}

// compileInto compiles into p (a traced plan, in tests).
func compileInto(p *nsenter.Plan, b *Bootstrap, proc *specs.Process, steps []planStep) error {
	pl := &planner{p: p, b: b, sp: b.Spec, proc: proc}
	for _, st := range steps {
		pl.p.Context(st.name, "")
		if err := st.fn(pl); err != nil {
			return &StepError{Step: st.name, Err: err}
		}
	}
	return nil
}

// openRootAndCwd is exec's cwd step: the root is the joined mount
// namespace's.
func (pl *planner) openRootAndCwd() error {
	pl.p.OpenRoot()
	return pl.enterCwd()
}

func (pl *planner) hostHandles() error {
	pl.p.OpenHost()
	if pl.b.UnshareTimeNS {
		// The init itself stays outside until execve enters it.
		pl.p.Context("time namespace", "")
		pl.p.Unshare(unix.CLONE_NEWTIME)
		var text string
		for clock, off := range pl.sp.Linux.TimeOffsets {
			text += fmt.Sprintf("%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
		if text != "" {
			pl.p.WriteProc("self/timens_offsets", text)
		}
	}
	return nil
}

func (pl *planner) prepareRoot() error {
	pl.p.SlaveRoot()
	pl.p.BindRootfs(pl.b.Rootfs)
	return nil
}

// While the runtime is still making the cgroup (Bootstrap.CgroupPending),
// the init waits for it as late as the result allows. A cgroup mount that
// no later mount is related to (on, above or below it) is left for
// cgroupMounts, after the other mounts: the same mount tree. When nothing
// the devices, cwd and masks steps touch is related to one either, and
// no hooks come between (they would see the masks early), those steps
// come before it too.
func (pl *planner) mounts() error {
	for i, m := range pl.sp.Mounts {
		if pl.b.CgroupPending && isCgroupMount(m) && unrelatedToLater(pl.sp.Mounts, i) {
			pl.deferred = append(pl.deferred, i)
			continue
		}
		if err := pl.mountAt(i); err != nil {
			return err
		}
	}
	if !pl.stepsBeforeCgroup() {
		return pl.cgroupMounts()
	}
	return nil
}

// stepsBeforeCgroup reports whether the devices, cwd and masks steps can
// come before the cgroup mounts left for cgroupMounts.
func (pl *planner) stepsBeforeCgroup() bool {
	if len(pl.deferred) == 0 || PlanAsksHooks(pl.sp) {
		return false
	}
	paths := []string{"/dev"}
	paths = append(paths, pl.sp.Linux.MaskedPaths...)
	paths = append(paths, pl.sp.Linux.ReadonlyPaths...)
	for _, d := range pl.sp.Linux.Devices {
		paths = append(paths, d.Path)
	}
	cwd := filepath.Clean("/" + pl.proc.Cwd)
	for _, i := range pl.deferred {
		dest := filepath.Clean("/" + pl.sp.Mounts[i].Destination)
		// The cwd is made with mkdir -p: only a cwd on or below the
		// mount would land elsewhere without it.
		if cwd == dest || strings.HasPrefix(cwd, dest+"/") {
			return false
		}
		for _, p := range paths {
			if related(dest, filepath.Clean("/"+p)) {
				return false
			}
		}
	}
	return true
}

// cgroupMounts compiles the cgroup mounts that mounts left.
func (pl *planner) cgroupMounts() error {
	for _, i := range pl.deferred {
		if err := pl.mountAt(i); err != nil {
			return err
		}
	}
	pl.deferred = nil
	return nil
}

// masksBeforeCgroup is the masks step, before the cgroup mounts when
// stepsBeforeCgroup allows.
func (pl *planner) masksBeforeCgroup() error {
	if len(pl.deferred) == 0 {
		return nil
	}
	pl.emitMasks()
	pl.masked = true
	return nil
}

// mountAt compiles mounts[i].
func (pl *planner) mountAt(i int) error {
	m := pl.sp.Mounts[i]
	what := fmt.Sprintf("mounts[%d] %s on %s", i, mountSource(m), m.Destination)
	pl.p.Context("mounts", what)
	if err := pl.mount(m); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// isCgroupMount reports whether m is a cgroup filesystem mount (not a bind
// of one).
func isCgroupMount(m specs.Mount) bool {
	return (m.Type == "cgroup" || m.Type == "cgroup2") && !mountopt.Parse(m.Options).IsBind()
}

// unrelatedToLater reports whether no mount after mounts[i] has a
// destination on, above or below mounts[i]'s.
func unrelatedToLater(mounts []specs.Mount, i int) bool {
	dest := filepath.Clean("/" + mounts[i].Destination)
	for _, m := range mounts[i+1:] {
		if related(dest, filepath.Clean("/"+m.Destination)) {
			return false
		}
	}
	return true
}

// related reports whether clean absolute paths a and b are the same, or
// one lies below the other.
func related(a, b string) bool {
	return a == b || a == "/" || b == "/" || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

func (pl *planner) mount(m specs.Mount) error {
	dest := filepath.Clean("/" + m.Destination)
	o := mountopt.Parse(m.Options)
	bind := o.IsBind() || m.Type == "bind"
	if dest == "/proc" || dest == "/sys" {
		pl.p.NotSymlink(dest)
	}
	if strings.HasPrefix(dest, "/proc/") && bind && !procAllowed[dest] {
		if src, err := bindSourceOf(m, pl.b.Bundle); err != nil || !isProcfs(src) {
			return fmt.Errorf("mounting over %s is not allowed", dest)
		}
	}
	switch {
	case bind:
		src, err := bindSourceOf(m, pl.b.Bundle)
		if err != nil {
			return err
		}
		return pl.bind(src, dest, o)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return pl.cgroup(dest, o)
	default:
		return pl.newFS(m, dest, o)
	}
}

// bindSourceOf is bindSource for the planner: a relative source is
// relative to the bundle.
func bindSourceOf(m specs.Mount, bundle string) (string, error) {
	src := m.Source
	if src == "" {
		return "", errors.New("bind mount without a source")
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	return src, nil
}

// bind is mountBind: the source is the host's, looked at here (the init's
// mount namespace is a copy of ours), the target is made inside the root
// by the init.
func (pl *planner) bind(src, dest string, o mountopt.Options) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	pl.target(dest, st.IsDir())
	pl.p.ClonePath(slotMount, src, o.Flags&unix.MS_REC != 0)
	var clr uint64
	if atimeChange(o.Flags) {
		clr = unix.MOUNT_ATTR__ATIME
	}
	pl.p.SetAttr(slotMount, mountAttrs(o.Flags), clr, false)
	pl.p.SetAttr(slotMount, o.AttrSet, o.AttrClr, true)
	pl.attach(o)
	return nil
}

// target makes the mount point (mkTarget) in slotTarget.
func (pl *planner) target(dest string, dir bool) {
	if dir {
		pl.p.Mkdir(slotTarget, dest, 0o755)
	} else {
		pl.p.Mkfile(slotTarget, dest, 0o644)
	}
}

// attach attaches slotMount on slotTarget, applies the propagation and
// closes both.
func (pl *planner) attach(o mountopt.Options) {
	pl.p.Attach(slotMount, slotTarget)
	for _, prop := range o.Propagation {
		pl.p.Propagate(slotMount, prop&^unix.MS_REC, prop&unix.MS_REC != 0)
	}
	pl.p.Close(slotMount)
	pl.p.Close(slotTarget)
}

func (pl *planner) newFS(m specs.Mount, dest string, o mountopt.Options) error {
	pl.target(dest, true)
	pl.fsMount(slotMount, m.Type, m.Source, o)
	pl.p.SetAttr(slotMount, o.AttrSet, o.AttrClr, true)
	pl.attach(o)
	return nil
}

// fsMount is newFS: the filesystem's options split as fsconfig takes them.
func (pl *planner) fsMount(slot int, fstype, source string, o mountopt.Options) {
	var data []nsenter.FSOption
	if o.Data != "" {
		for _, opt := range strings.Split(o.Data, ",") {
			k, v, has := strings.Cut(opt, "=")
			data = append(data, nsenter.FSOption{Text: opt, Key: k, Value: v, HasValue: has})
		}
	}
	pl.p.FSMount(slot, fstype, source, sbFlagOptions(o.Flags), data, mountAttrs(o.Flags))
}

// cgroup is mountCgroup.
func (pl *planner) cgroup(dest string, o mountopt.Options) error {
	ns := hasNamespace(pl.sp, specs.CgroupNamespace)
	pl.enterCgroup()
	if len(pl.b.Cgroups) == 0 {
		bind := o
		bind.Flags |= unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY
		return pl.bind(hostCgroupRoot, dest, bind)
	}
	if len(pl.b.Cgroups) == 1 && pl.b.Cgroups[0].Name == "" {
		pl.p.Mkdir(slotTarget, dest, 0o755)
		pl.hierarchy(pl.b.Cgroups[0], slotTarget, o, ns)
		pl.p.Close(slotTarget)
		return nil
	}
	pl.p.Mkdir(slotDir, dest, 0o755)
	tmpOpts := o
	tmpOpts.Flags &^= unix.MS_RDONLY
	tmpOpts.Data = "mode=755"
	pl.fsMount(slotTarget, "tmpfs", "tmpfs", tmpOpts)
	pl.p.Attach(slotTarget, slotDir)
	pl.p.Close(slotDir)
	for _, h := range pl.b.Cgroups {
		pl.p.Mkdir(slotSub, filepath.Join(dest, h.Name), 0o755)
		pl.hierarchy(h, slotSub, o, ns)
		pl.p.Close(slotSub)
		if strings.Contains(h.Name, ",") {
			for _, c := range strings.Split(h.Name, ",") {
				pl.p.Symlink(slotTarget, h.Name, c, true)
			}
		}
	}
	if o.Flags&unix.MS_RDONLY != 0 {
		pl.p.SetAttr(slotTarget, unix.MOUNT_ATTR_RDONLY, 0, false)
	}
	pl.p.Close(slotTarget)
	return nil
}

// hierarchy is mountHierarchy onto the directory in slot target.
func (pl *planner) hierarchy(h CgroupHierarchy, target int, o mountopt.Options, ns bool) {
	if ns {
		opts := o
		opts.Data = h.Options
		pl.fsMount(slotMount, h.Type, h.Type, opts)
	} else {
		pl.p.ClonePath(slotMount, h.Dir, false)
		pl.p.SetAttr(slotMount, mountAttrs(o.Flags), 0, false)
	}
	pl.p.Attach(slotMount, target)
	pl.p.Close(slotMount)
}

// devices is setupDevices.
func (pl *planner) devices() error {
	for _, m := range pl.sp.Mounts {
		if filepath.Clean(m.Destination) == "/dev" && (m.Type == "bind" || containsBind(m.Options)) {
			return nil
		}
	}
	add := func(d specs.LinuxDevice, isDefault bool) error {
		mode, err := deviceMode(d)
		if err != nil {
			return err
		}
		var uid, gid uint32
		if d.UID != nil {
			uid = *d.UID
		}
		if d.GID != nil {
			gid = *d.GID
		}
		pl.p.Mknod(d.Path, mode, unix.Mkdev(uint32(d.Major), uint32(d.Minor)), uid, gid, isDefault)
		return nil
	}
	for _, d := range defaultDevices {
		if err := add(d, true); err != nil {
			return err
		}
	}
	for _, d := range pl.sp.Linux.Devices {
		if err := add(d, false); err != nil {
			return err
		}
	}
	pl.p.Mkdir(slotDir, "/dev", 0o755)
	links := devSymlinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, m := range pl.sp.Mounts {
		if filepath.Clean(m.Destination) == "/dev/pts" {
			links = append(links, [2]string{"pts/ptmx", "ptmx"})
			break
		}
	}
	for _, l := range links {
		pl.p.Symlink(slotDir, l[0], l[1], true)
	}
	pl.p.Close(slotDir)
	return nil
}

func (pl *planner) createCwd() error {
	pl.p.Context("cwd", "process.cwd "+pl.proc.Cwd)
	pl.p.Mkdir(slotDir, pl.proc.Cwd, 0o755)
	pl.p.Close(slotDir)
	return nil
}

// hooks waits for the cgroup, if it has not yet, since hooks and the
// container reported created both need the init in it; it stops for the
// runtime's hooks only when the config has some (PlanAsksHooks).
func (pl *planner) hooks() error {
	pl.enterCgroup()
	if PlanAsksHooks(pl.sp) {
		pl.p.Hooks()
	}
	return nil
}

// enterCgroup comes, once, before the first step that needs the init in
// its cgroup: a cgroup mount (the directories must exist), the hooks and
// the container reported created. It waits for the runtime's word that
// the init is there (Bootstrap.CgroupPending), then creates the cgroup
// namespace, whose root is the cgroup the init is in when it does. What
// comes before (the root, /proc, /dev, /sys) depends on neither, so the
// init sets that up while the runtime makes the cgroup.
func (pl *planner) enterCgroup() {
	if pl.entered {
		return
	}
	pl.entered = true
	if pl.b.CgroupPending {
		pl.p.AwaitCgroup()
	}
	if pl.b.UnshareCgroupNS {
		ctx, what := pl.p.CurrentContext()
		pl.p.Context("cgroup namespace", "")
		pl.p.Unshare(unix.CLONE_NEWCGROUP)
		pl.p.Context(ctx, what)
	}
}

// PlanAsksHooks reports whether a C init's plan stops for the runtime's
// hooks: only when the config has prestart or createRuntime hooks to run
// there, or poststop hooks, which a failure from that point on must run.
// Without any, the round trip would only cost time.
func PlanAsksHooks(sp *specs.Spec) bool {
	h := sp.Hooks
	//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
	return h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 || len(h.Poststop) > 0)
}

func (pl *planner) masks() error {
	if !pl.masked {
		pl.emitMasks()
	}
	return nil
}

func (pl *planner) emitMasks() {
	for _, p := range pl.sp.Linux.MaskedPaths {
		pl.p.Context("masked and readonly paths", "mask "+p)
		pl.p.Mask(p)
	}
	for _, p := range pl.sp.Linux.ReadonlyPaths {
		pl.p.Context("masked and readonly paths", "readonly "+p)
		pl.p.Readonly(p)
	}
}

func (pl *planner) pivot() error {
	var prop uintptr
	if p := pl.sp.Linux.RootfsPropagation; p != "" {
		prop, _ = mountopt.Propagation(p)
	}
	if pl.b.NoPivot {
		pl.p.MoveRoot(prop)
	} else {
		pl.p.Pivot(prop)
	}
	return nil
}

// console is setupConsole for a create.
func (pl *planner) console() error {
	if !pl.proc.Terminal {
		return nil
	}
	if pl.b.Fds.Console == 0 {
		return errors.New("process.terminal is set but no console socket was given (use --console-socket)")
	}
	var rows, cols uint32
	if cs := pl.proc.ConsoleSize; cs != nil {
		rows, cols = uint32(cs.Height), uint32(cs.Width)
	}
	pl.p.Console(pl.b.Fds.Console, pl.proc.ConsoleSize != nil, rows, cols, pl.b.Mode == ModeCreate)
	return nil
}

func (pl *planner) readonlyRoot() error {
	if pl.sp.Root.Readonly {
		pl.p.ReadonlyRoot()
	}
	return nil
}

func (pl *planner) hostname() error {
	if pl.sp.Hostname != "" {
		pl.p.Hostname(pl.sp.Hostname)
	}
	if pl.sp.Domainname != "" {
		pl.p.Domainname(pl.sp.Domainname)
	}
	return nil
}

func (pl *planner) sysctls() error {
	for key, value := range pl.sp.Linux.Sysctl {
		pl.p.Context("sysctl", "sysctl "+key)
		pl.p.WriteProc("sys/"+strings.ReplaceAll(key, ".", "/"), value)
	}
	return nil
}

func (pl *planner) oomScore() error {
	if pl.proc.OOMScoreAdj != nil {
		pl.p.WriteProc("self/oom_score_adj", strconv.Itoa(*pl.proc.OOMScoreAdj))
	}
	return nil
}

func (pl *planner) keyring() error {
	if !pl.b.NoNewKeyring {
		pl.p.Keyring("_ses." + pl.b.ID)
	}
	return nil
}

// processAttrs is setProcessAttrs.
func (pl *planner) processAttrs() error {
	if per := pl.sp.Linux.Personality; per != nil {
		v, err := personality(per)
		if err != nil {
			return err
		}
		pl.p.Personality(uint64(v))
	}
	if sc := pl.proc.Scheduler; sc != nil {
		attr, err := schedAttr(sc)
		if err != nil {
			return err
		}
		pl.p.Sched(unsafe.Slice((*byte)(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)))
	}
	if io := pl.proc.IOPriority; io != nil {
		prio, err := ioPriority(io)
		if err != nil {
			return err
		}
		pl.p.IOPrio(uint32(prio))
	}
	return nil
}

func (pl *planner) findExec() error {
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range pl.proc.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	pl.p.FindExec(pl.proc.Args[0], pl.proc.Cwd, pathEnv)
	return nil
}

func (pl *planner) home() error {
	for _, e := range pl.proc.Env {
		if strings.HasPrefix(e, "HOME=") {
			return nil
		}
	}
	pl.p.SetHome(pl.proc.User.UID)
	return nil
}

func (pl *planner) ready() error {
	pl.p.Ready()
	return nil
}

func (pl *planner) waitStart() error {
	pl.p.WaitStart(pl.b.Fds.Start)
	return nil
}

func (pl *planner) enterCwd() error {
	pl.p.EnterCwd(pl.proc.Cwd)
	return nil
}

func (pl *planner) closeDescriptors() error {
	pl.p.CloseRange(3 + pl.b.PreserveFds)
	return nil
}

func (pl *planner) rlimits() error {
	for _, r := range pl.proc.Rlimits {
		res, _ := spec.RlimitResource(r.Type)
		pl.p.Rlimit(res, r.Soft, r.Hard, r.Type)
	}
	return nil
}

// seccompPrivileged and seccomp load the runtime's program at the points
// loadSeccompPrivileged and loadSeccomp do.
func (pl *planner) seccompPrivileged() error {
	if len(pl.b.Seccomp) > 0 && !pl.proc.NoNewPrivileges {
		pl.p.Seccomp(pl.b.SeccompFlags, pl.b.Seccomp)
	}
	return nil
}

func (pl *planner) seccomp() error {
	if len(pl.b.Seccomp) > 0 && pl.proc.NoNewPrivileges {
		pl.p.Seccomp(pl.b.SeccompFlags, pl.b.Seccomp)
	}
	return nil
}

// user is setUser (the user namespace case never gets here).
func (pl *planner) user() error {
	set, _, err := caps.Parse(pl.proc.Capabilities)
	if err != nil {
		return err
	}
	if pl.proc.Capabilities != nil {
		pl.p.DropBounding(uint64(set.Bounding), caps.LastCap(), caps.Names())
	}
	pl.p.KeepCaps(true)
	u := pl.proc.User
	pl.p.Setgroups(u.AdditionalGids)
	pl.p.Setresgid(u.GID)
	pl.p.Setresuid(u.UID)
	pl.p.KeepCaps(false)
	pl.p.CwdPending(pl.proc.Cwd)
	return nil
}

func (pl *planner) caps() error {
	if pl.proc.Capabilities == nil {
		return nil
	}
	set, warnings, err := caps.Parse(pl.proc.Capabilities)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		pl.p.Warn(w)
	}
	pl.p.Caps(uint64(set.Effective), uint64(set.Permitted), uint64(set.Inheritable), uint64(set.Ambient),
		caps.LastCap(), caps.Names())
	return nil
}

func (pl *planner) noNewPrivs() error {
	if pl.proc.NoNewPrivileges {
		pl.p.NoNewPrivs()
	}
	return nil
}

func (pl *planner) exec() error {
	umask := uint32(0o022)
	if pl.proc.User.Umask != nil {
		umask = *pl.proc.User.Umask
	}
	pl.p.Context("exec", "")
	pl.p.Exec(umask, pl.proc.Args, pl.proc.Env)
	return nil
}
