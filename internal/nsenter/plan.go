package nsenter

// #include "cinit.h"
import "C"

import "encoding/binary"

// EnvPlan, when set, makes the constructor run a plan (cinit.c) in the
// process it leaves in the container's namespaces instead of returning
// to the Go runtime.
const EnvPlan = "_PELAGOS_PLAN"

// Fixed descriptor slots of the C init.
const (
	SlotRoot    = C.PLAN_SLOT_ROOT
	SlotProc    = C.PLAN_SLOT_PROC
	SlotDevNull = C.PLAN_SLOT_DEVNULL
	// SlotFree is the first slot a plan may use for its own handles.
	SlotFree = C.PLAN_SLOT_FREE
	// Slots is the size of the table.
	Slots = C.PLAN_NSLOTS
)

// Plan is a program for the C init, built one operation at a time (the
// operations and their operands are documented in cinit.h).
type Plan struct {
	b []byte
	// step and what are the failure context last set.
	step, what string
	// ops lists the operations emitted, in a traced plan.
	ops    []Op
	traced bool
}

// Op is one operation of a traced plan: its code and the failure context
// it was emitted under.
type Op struct {
	Code       int
	Step, What string
}

// Operation codes a test of the planner looks for.
const (
	OpUnshare     = C.PLAN_UNSHARE
	OpFSMount     = C.PLAN_FSMOUNT
	OpClonePath   = C.PLAN_CLONE_PATH
	OpHooks       = C.PLAN_HOOKS
	OpAwaitCgroup = C.PLAN_AWAIT_CGROUP
	OpMask        = C.PLAN_MASK
	OpMknod       = C.PLAN_MKNOD
	OpReady       = C.PLAN_READY
)

// NewPlan starts an empty plan.
func NewPlan() *Plan { return &Plan{b: []byte("PLN1")} }

// NewTracedPlan starts an empty plan that also lists its operations
// (Ops), for tests of the planner.
func NewTracedPlan() *Plan { return &Plan{b: []byte("PLN1"), traced: true} }

// Bytes is the encoded plan.
func (p *Plan) Bytes() []byte { return p.b }

// Ops lists the operations of a traced plan.
func (p *Plan) Ops() []Op { return p.ops }

func (p *Plan) op(code C.int) *Plan {
	if p.traced {
		p.ops = append(p.ops, Op{Code: int(code), Step: p.step, What: p.what})
	}
	p.b = append(p.b, byte(code))
	return p
}

func (p *Plan) u8(v uint8) *Plan { p.b = append(p.b, v); return p }

func (p *Plan) flag(v bool) *Plan {
	if v {
		return p.u8(1)
	}
	return p.u8(0)
}

func (p *Plan) u32(v uint32) *Plan { p.b = binary.LittleEndian.AppendUint32(p.b, v); return p }

func (p *Plan) u64(v uint64) *Plan { p.b = binary.LittleEndian.AppendUint64(p.b, v); return p }

// str appends s with its NUL terminator. A NUL inside s would cut it
// short in C; callers pass strings validated for that (config strings
// cannot hold one, JSON would have escaped it into the value).
func (p *Plan) str(s string) *Plan {
	p.u32(uint32(len(s) + 1))
	p.b = append(p.b, s...)
	p.b = append(p.b, 0)
	return p
}

func (p *Plan) bytes(b []byte) *Plan {
	p.u32(uint32(len(b)))
	p.b = append(p.b, b...)
	return p
}

func (p *Plan) strs(list []string) *Plan {
	p.u32(uint32(len(list)))
	for _, s := range list {
		p.str(s)
	}
	return p
}

// Context names the step and the subject of the operations that follow,
// for their error messages ("<what>: <error>", reported for step).
func (p *Plan) Context(step, what string) {
	p.step, p.what = step, what
	p.op(C.PLAN_CTX).str(step).str(what)
}

// CurrentContext returns the failure context last set.
func (p *Plan) CurrentContext() (step, what string) { return p.step, p.what }

// Unshare creates the namespaces in flags.
func (p *Plan) Unshare(flags uintptr) { p.op(C.PLAN_UNSHARE).u64(uint64(flags)) }

// SlaveRoot stops mount events from reaching the host.
func (p *Plan) SlaveRoot() { p.op(C.PLAN_SLAVE_ROOT) }

// BindRootfs binds rootfs onto itself and opens the root slot.
func (p *Plan) BindRootfs(rootfs string) { p.op(C.PLAN_BIND_ROOTFS).str(rootfs) }

// OpenHost opens the host's /proc and /dev/null slots.
func (p *Plan) OpenHost() { p.op(C.PLAN_OPEN_HOST) }

// NotSymlink refuses a symlink at dest inside the root.
func (p *Plan) NotSymlink(dest string) { p.op(C.PLAN_NOT_SYMLINK).str(dest) }

// Mkdir makes sure path is a directory inside the root; slot holds it.
func (p *Plan) Mkdir(slot int, path string, mode uint32) {
	p.op(C.PLAN_MKDIR).u8(uint8(slot)).str(path).u32(mode)
}

// Mkfile makes sure path is a non-directory inside the root.
func (p *Plan) Mkfile(slot int, path string, mode uint32) {
	p.op(C.PLAN_MKFILE).u8(uint8(slot)).str(path).u32(mode)
}

// FSOption is one filesystem option: Key, or Key=Value when HasValue.
type FSOption struct {
	Text, Key, Value string
	HasValue         bool
}

// FSMount creates a detached mount of a new filesystem into slot.
func (p *Plan) FSMount(slot int, fstype, source string, flags []string, data []FSOption, attrs uint64) {
	p.op(C.PLAN_FSMOUNT).u8(uint8(slot)).str(fstype).str(source).strs(flags)
	p.u32(uint32(len(data)))
	for _, o := range data {
		p.str(o.Text).str(o.Key).str(o.Value).flag(o.HasValue)
	}
	p.u64(attrs)
}

// ClonePath makes a detached copy of the host mount at path into slot.
func (p *Plan) ClonePath(slot int, path string, recursive bool) {
	p.op(C.PLAN_CLONE_PATH).u8(uint8(slot)).str(path).flag(recursive)
}

// SetAttr changes the attributes of the mount in slot.
func (p *Plan) SetAttr(slot int, set, clr uint64, recursive bool) {
	if set == 0 && clr == 0 {
		return
	}
	p.op(C.PLAN_SETATTR).u8(uint8(slot)).u64(set).u64(clr).flag(recursive)
}

// Propagate sets the propagation of the attached mount in slot.
func (p *Plan) Propagate(slot int, flag uintptr, recursive bool) {
	p.op(C.PLAN_PROPAGATE).u8(uint8(slot)).u64(uint64(flag)).flag(recursive)
}

// Attach moves the mount in slot mnt onto the target in slot target.
func (p *Plan) Attach(mnt, target int) { p.op(C.PLAN_ATTACH).u8(uint8(mnt)).u8(uint8(target)) }

// Close closes a slot.
func (p *Plan) Close(slot int) { p.op(C.PLAN_CLOSE).u8(uint8(slot)) }

// Symlink creates name -> target in the directory in slot dir.
func (p *Plan) Symlink(dir int, target, name string, existingOK bool) {
	p.op(C.PLAN_SYMLINK).u8(uint8(dir)).str(target).str(name).flag(existingOK)
}

// Mknod creates a device node inside the root.
func (p *Plan) Mknod(path string, mode uint32, rdev uint64, uid, gid uint32, isDefault bool) {
	p.op(C.PLAN_MKNOD).str(path).u32(mode).u64(rdev).u32(uid).u32(gid).flag(isDefault)
}

// Mask covers path; Readonly makes it a read-only bind of itself.
func (p *Plan) Mask(path string)     { p.op(C.PLAN_MASK).str(path) }
func (p *Plan) Readonly(path string) { p.op(C.PLAN_READONLY).str(path) }

// Hooks asks the runtime to run its hooks and waits until it has.
func (p *Plan) Hooks() { p.op(C.PLAN_HOOKS) }

// AwaitCgroup waits for the runtime's message that the init is in its
// cgroup.
func (p *Plan) AwaitCgroup() { p.op(C.PLAN_AWAIT_CGROUP) }

// Pivot makes the root the root with pivot_root; MoveRoot with MS_MOVE and
// chroot (--no-pivot). prop is the rootfsPropagation flag, or 0.
func (p *Plan) Pivot(prop uintptr)    { p.op(C.PLAN_PIVOT).u64(uint64(prop)) }
func (p *Plan) MoveRoot(prop uintptr) { p.op(C.PLAN_MOVEROOT).u64(uint64(prop)) }

// ReadonlyRoot makes the root mount read-only.
func (p *Plan) ReadonlyRoot() { p.op(C.PLAN_READONLY_ROOT) }

// Hostname and Domainname set the UTS names.
func (p *Plan) Hostname(h string)   { p.op(C.PLAN_HOSTNAME).str(h) }
func (p *Plan) Domainname(d string) { p.op(C.PLAN_DOMAINNAME).str(d) }

// WriteProc writes value to /proc/<path> through the host procfs handle.
func (p *Plan) WriteProc(path, value string) { p.op(C.PLAN_WRITEPROC).str(path).str(value) }

// Keyring joins a new session keyring.
func (p *Plan) Keyring(name string) { p.op(C.PLAN_KEYRING).str(name) }

// FindExec resolves args[0] inside the container.
func (p *Plan) FindExec(name, cwd, pathEnv string) {
	p.op(C.PLAN_FINDEXEC).str(name).str(cwd).str(pathEnv)
}

// SetHome adds HOME from the container's /etc/passwd entry of uid.
func (p *Plan) SetHome(uid uint32) { p.op(C.PLAN_SETHOME).u32(uid) }

// Ready reports the container created.
func (p *Plan) Ready() { p.op(C.PLAN_READY) }

// WaitStart waits for start on the listening socket fd.
func (p *Plan) WaitStart(fd int) { p.op(C.PLAN_WAITSTART).u32(uint32(fd)) }

// EnterCwd changes to cwd resolved inside the root.
func (p *Plan) EnterCwd(cwd string) { p.op(C.PLAN_ENTERCWD).str(cwd) }

// CloseRange marks every descriptor from first up close-on-exec.
func (p *Plan) CloseRange(first int) { p.op(C.PLAN_CLOSERANGE).u32(uint32(first)) }

// Rlimit sets one resource limit.
func (p *Plan) Rlimit(res int, soft, hard uint64, name string) {
	p.op(C.PLAN_RLIMIT).u32(uint32(res)).u64(soft).u64(hard).str(name)
}

// Seccomp loads an encoded filter (seccomp.Program.Encode).
func (p *Plan) Seccomp(flags uint, prog []byte) { p.op(C.PLAN_SECCOMP).u32(uint32(flags)).bytes(prog) }

// DropBounding drops every capability up to last not in keep.
func (p *Plan) DropBounding(keep uint64, last int, names []string) {
	p.op(C.PLAN_DROPBOUND).u64(keep).u32(uint32(last)).strs(names)
}

// KeepCaps sets PR_SET_KEEPCAPS.
func (p *Plan) KeepCaps(on bool) { p.op(C.PLAN_KEEPCAPS).flag(on) }

// Setgroups sets the supplementary groups.
func (p *Plan) Setgroups(gids []uint32) {
	p.op(C.PLAN_SETGROUPS).u32(uint32(len(gids)))
	for _, g := range gids {
		p.u32(g)
	}
}

// Setresgid and Setresuid switch the process's ids.
func (p *Plan) Setresgid(gid uint32) { p.op(C.PLAN_SETRESGID).u32(gid) }
func (p *Plan) Setresuid(uid uint32) { p.op(C.PLAN_SETRESUID).u32(uid) }

// CwdPending enters cwd now if EnterCwd could not as root.
func (p *Plan) CwdPending(cwd string) { p.op(C.PLAN_CWDPENDING).str(cwd) }

// Caps sets the effective, permitted, inheritable and ambient sets.
func (p *Plan) Caps(eff, perm, inh, amb uint64, last int, names []string) {
	p.op(C.PLAN_CAPS).u64(eff).u64(perm).u64(inh).u64(amb).u32(uint32(last)).strs(names)
}

// NoNewPrivs sets no_new_privs.
func (p *Plan) NoNewPrivs() { p.op(C.PLAN_NNP) }

// Exec executes the container process.
func (p *Plan) Exec(umask uint32, args, env []string) {
	p.op(C.PLAN_EXEC).u32(umask).strs(args).strs(env)
}

// Warn passes a warning to the runtime at this point.
func (p *Plan) Warn(text string) { p.op(C.PLAN_WARN).str(text) }

// Console creates the pty from the container's devpts, binds its slave at
// /dev/console (create), sends the master to the console socket sock and
// makes the slave the process's terminal and stdio.
func (p *Plan) Console(sock int, size bool, rows, cols uint32, bindConsole bool) {
	p.op(C.PLAN_CONSOLE).u32(uint32(sock)).flag(size).u32(rows).u32(cols).flag(bindConsole)
}

// OpenRoot opens "/" as the root slot (exec: the joined mount namespace's
// root).
func (p *Plan) OpenRoot() { p.op(C.PLAN_OPEN_ROOT) }

// Personality sets the execution domain.
func (p *Plan) Personality(persona uint64) { p.op(C.PLAN_PERSONALITY).u64(persona) }

// Sched sets the scheduling policy: attr is a struct sched_attr.
func (p *Plan) Sched(attr []byte) { p.op(C.PLAN_SCHED).bytes(attr) }

// IOPrio sets the I/O priority.
func (p *Plan) IOPrio(prio uint32) { p.op(C.PLAN_IOPRIO).u32(prio) }
