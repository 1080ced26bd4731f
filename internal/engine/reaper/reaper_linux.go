// Package reaper is the init that `pelagos run --init` puts at PID 1 of a
// container, as docker puts tini: it starts the container's command as its
// child, forwards to it every signal it receives, reaps every process
// orphaned in the container's pid namespace (zombies would otherwise
// pile up under a command that does not wait for what it did not start),
// and exits with the command's status (128+N after signal N).
//
// It is a mode of pelagos-monitor (a small static binary already installed
// beside pelagos), chosen by its name: the engine bind-mounts that binary
// read-only at Path in the container and runs `Path [-g] -- COMMAND...`.
// Like the monitor it must stay small: no encoding, no os/exec.
package reaper

import (
	"errors"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Path is where the engine mounts the reaper in a container (docker uses
// /sbin/docker-init).
const Path = "/sbin/pelagos-init"

// Name is the base name that selects this mode of pelagos-monitor.
const Name = "pelagos-init"

// defaultPath is the PATH searched when the container has none (docker's).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Main runs the reaper with args `[-g] -- COMMAND [ARG...]` (-g: signals go
// to the command's whole process group) and returns the exit status.
func Main(args []string) int {
	group := false
	if len(args) > 0 && args[0] == "-g" {
		group, args = true, args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fail("usage: " + Name + " [-g] -- COMMAND [ARG...]")
		return 2
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	path, err := lookPath(args[0])
	if err != nil {
		fail("exec " + args[0] + ": " + err.Error())
		return execStatus(err)
	}
	pid, err := start(path, args)
	if err != nil {
		fail("exec " + args[0] + ": " + err.Error())
		return execStatus(err)
	}
	target := pid
	if group {
		target = -pid
	}
	for s := range sigs {
		switch s {
		case syscall.SIGCHLD:
			if code, done := reap(pid); done {
				return code
			}
		case syscall.SIGURG:
			// The Go runtime's own preemption signal.
		default:
			_ = unix.Kill(target, s.(syscall.Signal))
		}
	}
	return 0
}

// start starts the command in a process group of its own (so that -g
// reaches it and what it starts), in the terminal's foreground when
// stdin is one, as tini does.
// Keys typed at the terminal then signal the command alone, not the
// reaper too (which would forward them a second time).
func start(path string, args []string) (int, error) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		attr.Foreground, attr.Ctty = true, 0
	}
	return syscall.ForkExec(path, args, &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: attr,
	})
}

// reap reaps every exited child; done once pid exited, with its status.
func reap(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || wpid <= 0 {
			return 0, err == unix.ECHILD
		}
		if wpid == pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal()), true
			}
			return ws.ExitStatus(), true
		}
	}
}

var errNotFound = errors.New("executable file not found in $PATH")

// lookPath finds file in $PATH as exec does.
func lookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	p, ok := os.LookupEnv("PATH")
	if !ok {
		p = defaultPath
	}
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		path := dir + "/" + file
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && unix.Access(path, unix.X_OK) == nil {
			return path, nil
		}
	}
	return "", errNotFound
}

// execStatus is docker's status for a command that could not run: 127
// when it does not exist, 126 when it cannot be executed.
func execStatus(err error) int {
	if errors.Is(err, errNotFound) || errors.Is(err, unix.ENOENT) {
		return 127
	}
	return 126
}

func fail(msg string) {
	_, _ = os.Stderr.WriteString(Name + ": " + msg + "\n")
}
