package bundle

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// RootfsOptions says what goes into a root filesystem besides busybox.
type RootfsOptions struct {
	// Probe is the host path of the static probe to install at ProbePath.
	Probe string
	// Busybox is the static busybox to use; default: busybox on PATH
	// (Debian's busybox-static).
	Busybox string
}

// Rootfs fills dir (created if needed) with a busybox userland: the static
// busybox at /bin/busybox and a symlink for each applet where
// `busybox --install -s` would put it, minimal /etc/passwd and /etc/group,
// the usual mount points, and the probe if one is given.
//
// The applet links are made from `busybox --list-full` rather than by
// running `busybox --install -s` on the tree: --install links to the path
// the binary was run from, which is a host path, not /bin/busybox.
func Rootfs(dir string, opts RootfsOptions) error {
	bb := opts.Busybox
	if bb == "" {
		var err error
		if bb, err = exec.LookPath("busybox"); err != nil {
			return fmt.Errorf("busybox (install busybox-static): %w", err)
		}
	}
	applets, err := busyboxApplets(bb)
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error { return makeDirs(dir) },
		func() error { return copyStatic(bb, filepath.Join(dir, "bin/busybox")) },
		func() error { return linkApplets(dir, applets) },
		func() error { return writeEtc(dir) },
	}
	if opts.Probe != "" {
		steps = append(steps, func() error { return copyStatic(opts.Probe, filepath.Join(dir, ProbePath)) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("rootfs %s: %w", dir, err)
		}
	}
	return nil
}

func makeDirs(root string) error {
	dirs := []struct {
		name string
		mode os.FileMode
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"etc", 0o755}, {"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555},
		{"root", 0o700}, {"run", 0o755}, {"var", 0o755}, {"tmp", os.ModeSticky | 0o777},
	}
	for _, d := range dirs {
		p := filepath.Join(root, d.name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		// MkdirAll applies the umask and cannot set the sticky bit.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	return nil
}

var applets struct {
	once sync.Once
	list []string
	err  error
}

// busyboxApplets returns the applet paths (bin/ls, usr/bin/env ...) that
// bb --list-full prints. It is asked once per process.
func busyboxApplets(bb string) ([]string, error) {
	applets.once.Do(func() {
		out, err := exec.Command(bb, "--list-full").Output()
		if err != nil {
			applets.err = fmt.Errorf("%s --list-full: %w", bb, err)
			return
		}
		applets.list = strings.Fields(string(out))
		if len(applets.list) == 0 {
			applets.err = fmt.Errorf("%s --list-full listed no applets", bb)
		}
	})
	return applets.list, applets.err
}

func linkApplets(root string, list []string) error {
	for _, a := range list {
		clean := path.Clean("/" + a)
		if clean == "/bin/busybox" {
			continue
		}
		p := filepath.Join(root, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", p); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}

func writeEtc(root string) error {
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"etc/hosts": "127.0.0.1\tlocalhost\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyStatic copies the executable src to dst after checking that it is
// statically linked: a rootfs without a libc cannot run anything else.
func copyStatic(src, dst string) error {
	if err := checkStatic(src); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; the test rootfs needs a static binary", p)
		}
	}
	return nil
}
