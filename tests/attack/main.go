// Command attack runs inside test containers and tries what a hostile
// container process would try against the runtime, printing one line: "ok"
// when the attempt succeeded, else the error. Tests that expect a defence
// to hold look for the error. Build it static (CGO_ENABLED=0).
//
//	attack ptrace PID          PTRACE_ATTACH to PID
//	attack openexe PID         open /proc/PID/exe for reading
//	attack writeexe PID        open /proc/PID/exe for writing and write to it
//	attack readfile PATH       print the file's contents
//	attack writefile PATH DATA write DATA to PATH
//	attack syscall NR [ARG...]  make raw syscall NR (decimal args) and print
//	                           "ok <ret>" or the errno name
//	attack sigexec PROG [ARG...] execute PROG with SIGTERM, SIGINT and
//	                           SIGUSR1 blocked and SIGHUP, SIGINT, SIGQUIT
//	                           and SIGUSR1 ignored (on the host: a hostile
//	                           environment for the runtime itself)
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: attack ptrace|openexe|writeexe PID | readfile PATH | writefile PATH DATA")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ptrace":
		err = ptrace(pid(os.Args[2]))
	case "openexe":
		var f *os.File
		if f, err = os.Open(fmt.Sprintf("/proc/%d/exe", pid(os.Args[2]))); err == nil {
			f.Close()
		}
	case "writeexe":
		var f *os.File
		if f, err = os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid(os.Args[2])), os.O_WRONLY, 0); err == nil {
			_, err = f.Write([]byte("pwned"))
			f.Close()
		}
	case "readfile":
		var b []byte
		if b, err = os.ReadFile(os.Args[2]); err == nil {
			fmt.Printf("%s", b)
			return
		}
	case "syscall":
		rawSyscall(os.Args[2:])
		return
	case "sigexec":
		err = sigExec(os.Args[2:])
	case "writefile":
		if len(os.Args) < 4 {
			os.Exit(2)
		}
		err = os.WriteFile(os.Args[2], []byte(os.Args[3]), 0)
	default:
		fmt.Fprintln(os.Stderr, "unknown attack", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok")
}

// sigExec blocks and ignores signals on this thread and executes args;
// execve keeps both.
func sigExec(args []string) error {
	runtime.LockOSThread()
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1)
	mask := uint64(1)<<(syscall.SIGTERM-1) | uint64(1)<<(syscall.SIGINT-1) | uint64(1)<<(syscall.SIGUSR1-1)
	const sigBlock = 0
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(&mask)), 0, 8, 0, 0); e != 0 {
		return e
	}
	return syscall.Exec(args[0], args, os.Environ())
}

func rawSyscall(args []string) {
	var n [7]uintptr
	for i, a := range args {
		if i >= len(n) {
			break
		}
		v, err := strconv.ParseUint(a, 0, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad number", a)
			os.Exit(2)
		}
		n[i] = uintptr(v)
	}
	r, _, errno := syscall.Syscall6(n[0], n[1], n[2], n[3], n[4], n[5], n[6])
	if errno != 0 {
		fmt.Println(errno.Error())
		return
	}
	fmt.Println("ok", r)
}

func pid(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad pid", s)
		os.Exit(2)
	}
	return n
}

func ptrace(pid int) error {
	if err := syscall.PtraceAttach(pid); err != nil {
		return fmt.Errorf("ptrace attach %d: %w", pid, err)
	}
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WALL, nil)
	return syscall.PtraceDetach(pid)
}
