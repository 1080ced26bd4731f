package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/config"
	"github.com/pelagos-go/pelagos/internal/nsenter"
)

// Environment of a command re-executed inside the namespaces: the
// directories the unprivileged caller chose (its own view of $HOME and
// /tmp decides them, so they are computed once, outside) and its working
// directory (setns(2) into a mount namespace moves it to the root).
const (
	envRun    = "_PELAGOS_ROOTLESS_RUN"
	envData   = "_PELAGOS_ROOTLESS_DATA"
	envConfig = "_PELAGOS_ROOTLESS_CONFIG"
	envCwd    = "_PELAGOS_ROOTLESS_CWD"
	envPause  = "_PELAGOS_ROOTLESS_PAUSE"
)

// PauseFile is the name, in the runtime directory, of the file holding
// the pause process's pid and start time.
const PauseFile = "pause.pid"

// Dirs are where a rootless engine keeps its state.
type Dirs struct {
	Data   string // images, containers, volumes: $XDG_DATA_HOME/pelagos
	Run    string // runtime state: $XDG_RUNTIME_DIR/pelagos
	Config string // pelagos.json
}

// Active reports whether this process is a rootless engine command, that
// is, re-executed by Enter inside the user's namespaces.
func Active() bool { return os.Getenv(envRun) != "" }

// Current is the rootless engine's directories (zero when not Active).
func Current() Dirs {
	return Dirs{Data: os.Getenv(envData), Run: os.Getenv(envRun), Config: os.Getenv(envConfig)}
}

// Enter makes an unprivileged caller a rootless engine command: it starts
// the pause process when there is none and re-executes the process inside
// its namespaces; it returns only without doing so: for root, and for the
// re-executed command itself. The pause process never returns from it.
func Enter() error {
	if os.Getenv(envPause) != "" {
		pause()
	}
	if Active() {
		if os.Geteuid() != 0 {
			return fmt.Errorf("%s is set but this process is not in the rootless namespaces", envRun)
		}
		return settle()
	}
	if os.Geteuid() == 0 {
		return nil
	}
	d, err := UserDirs()
	if err != nil {
		return err
	}
	pid, start, err := ensurePause(d.Run)
	if err != nil {
		return err
	}
	return join(pid, start, d)
}

// settle undoes what the join left in the environment, so that children
// (monitors, runtimes, pasta) do not join again, and returns to the
// caller's working directory.
func settle() error {
	os.Unsetenv(nsenter.EnvJoin)
	if cwd := os.Getenv(envCwd); cwd != "" {
		os.Unsetenv(envCwd)
		if err := os.Chdir(cwd); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	return nil
}

// UserDirs chooses the caller's directories, as podman does:
// $XDG_DATA_HOME (or ~/.local/share) for data, $XDG_RUNTIME_DIR for
// runtime state, else /run/user/UID when it is the caller's, else a
// private /tmp/pelagos-run-UID.
func UserDirs() (Dirs, error) {
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Dirs{}, fmt.Errorf("no data directory: set XDG_DATA_HOME or HOME: %w", err)
		}
		data = filepath.Join(home, ".local", "share")
	}
	run, err := runtimeDir()
	if err != nil {
		return Dirs{}, err
	}
	return Dirs{Data: filepath.Join(data, "pelagos"), Run: filepath.Join(run, "pelagos"), Config: config.DefaultPath()}, nil
}

func runtimeDir() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d, nil
	}
	uid := os.Geteuid()
	if d := fmt.Sprintf("/run/user/%d", uid); ownedPrivate(d, uid) {
		return d, nil
	}
	d := fmt.Sprintf("/tmp/pelagos-run-%d", uid)
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	// Someone else may have made it first, to watch or feed our state.
	if !ownedPrivate(d, uid) {
		return "", fmt.Errorf("%s is not a directory private to uid %d: set XDG_RUNTIME_DIR", d, uid)
	}
	return d, nil
}

// ownedPrivate reports whether path is a directory (not a link) that uid
// owns and no one else can write.
func ownedPrivate(path string, uid int) bool {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == uid && st.Mode&0o022 == 0
}

// ensurePause returns the pause process, starting it when there is none
// alive, under a lock so that concurrent first commands make only one.
func ensurePause(run string) (int, uint64, error) {
	if err := os.MkdirAll(run, 0o700); err != nil {
		return 0, 0, err
	}
	lf, err := os.OpenFile(filepath.Join(run, "pause.lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		return 0, 0, os.NewSyscallError("flock", err)
	}
	pidFile := filepath.Join(run, PauseFile)
	if pid, start, ok := ReadPause(pidFile); ok {
		return pid, start, nil
	}
	pid, err := startPause()
	if err != nil {
		return 0, 0, err
	}
	start, ok := procStart(pid)
	if !ok {
		return 0, 0, fmt.Errorf("pause process %d died at start", pid)
	}
	tmp := pidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", pid, start)), 0o600); err != nil {
		return 0, 0, err
	}
	return pid, start, os.Rename(tmp, pidFile)
}

// ReadPause reads a pause file and reports whether the process it names
// is still that process.
func ReadPause(path string) (pid int, start uint64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	if _, err := fmt.Sscan(string(b), &pid, &start); err != nil || pid <= 0 {
		return 0, 0, false
	}
	now, alive := procStart(pid)
	return pid, start, alive && now == start
}

// startPause starts the pause process in a new user and mount namespace
// and maps the caller to its root and the caller's subordinate ranges
// to 1..N through the setuid helpers.
func startPause() (int, error) {
	uids, err := Mappings("/etc/subuid", os.Geteuid())
	if err != nil {
		return 0, err
	}
	gids, err := Mappings("/etc/subgid", os.Getegid())
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"pelagos-pause"} // what ps shows
	cmd.Env = []string{envPause + "=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS, Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the pause process: %w", err)
	}
	pid := cmd.Process.Pid
	if err := idMap("newuidmap", pid, uids); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	if err := idMap("newgidmap", pid, gids); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	// It outlives us: the re-executed command (this process's next image)
	// never waits for it, and init adopts it when that exits.
	return pid, cmd.Process.Release()
}

// Mapping is one line of a user namespace's id map.
type Mapping struct{ Inside, Outside, Size uint32 }

// Mappings are the id maps of the pause's user namespace: id (the
// caller's uid or gid) is root, and the caller's ranges in file
// (/etc/subuid or /etc/subgid, keyed by user name or uid) follow from 1.
func Mappings(file string, id int) ([]Mapping, error) {
	uid := strconv.Itoa(os.Geteuid())
	names := []string{uid}
	if u, err := user.LookupId(uid); err == nil {
		names = append(names, u.Username)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("rootless mode needs subordinate ids: %w", err)
	}
	defer f.Close()
	out := []Mapping{{Inside: 0, Outside: uint32(id), Size: 1}}
	next := uint32(1)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || !contains(names, fields[0]) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		size, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil || size == 0 {
			continue
		}
		out = append(out, Mapping{Inside: next, Outside: uint32(start), Size: uint32(size)})
		next += uint32(size)
	}
	if len(out) == 1 {
		return nil, fmt.Errorf("rootless mode needs subordinate ids: no range for %s in %s (usermod --add-subuids/--add-subgids)", names[len(names)-1], file)
	}
	return out, sc.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// idMap writes pid's map through newuidmap or newgidmap.
func idMap(tool string, pid int, ms []Mapping) error {
	args := []string{strconv.Itoa(pid)}
	for _, m := range ms {
		args = append(args, strconv.FormatUint(uint64(m.Inside), 10), strconv.FormatUint(uint64(m.Outside), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s (rootless mode needs it, from the uidmap package): %v: %s", tool, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// join re-executes this process inside the pause's user and mount
// namespaces: internal/nsenter's constructor joins them before the Go
// runtime starts. It returns only on error.
func join(pid int, start uint64, d Dirs) error {
	var fds []string
	for _, ns := range []string{"user", "mnt"} {
		// Not close-on-exec: the next image of this process joins it.
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), unix.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("open the pause process's %s namespace: %w", ns, err)
		}
		fds = append(fds, strconv.Itoa(fd))
	}
	if now, ok := procStart(pid); !ok || now != start {
		return fmt.Errorf("pause process %d exited meanwhile: run the command again", pid)
	}
	cwd, _ := os.Getwd()
	env := append(os.Environ(),
		nsenter.EnvJoin+"="+strings.Join(fds, ","),
		envRun+"="+d.Run, envData+"="+d.Data, envConfig+"="+d.Config, envCwd+"="+cwd)
	return os.NewSyscallError("execve", unix.Exec("/proc/self/exe", os.Args, env))
}

// pause holds the namespaces until it is killed.
func pause() {
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGPIPE)
	for {
		_ = unix.Pause()
	}
}

// procStart is pid's start time (field 22 of /proc/PID/stat), which
// tells a process from a later one given the same pid.
func procStart(pid int) (uint64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}
