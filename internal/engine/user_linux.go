package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/inroot"
)

// execUser is a --user resolved in the image.
type execUser struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

// maxEtcFile bounds what is read of an image's /etc/passwd or /etc/group.
const maxEtcFile = 4 << 20

// resolveUser resolves spec ("user", "uid", "user:group", "uid:gid", ...)
// against the image's /etc/passwd and /etc/group, opened through root so
// that no symlink in the image can make us read a host file. The user's
// supplementary groups are the groups that list it, as under Docker.
func resolveUser(root *os.File, spec string) (execUser, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	u := execUser{home: "/"}
	if name == "" {
		name = "0"
	}
	passwd, err := readEtc(root, "/etc/passwd")
	if err != nil {
		return u, err
	}
	uid, numeric := parseID(name)
	found := false
	for _, f := range passwd {
		if len(f) < 7 {
			continue
		}
		id, ok := parseID(f[2])
		if !ok || (f[0] != name && !(numeric && id == uid)) {
			continue
		}
		gid, _ := parseID(f[3])
		u.uid, u.gid, u.home, found = id, gid, f[5], true
		name = f[0]
		break
	}
	switch {
	case !found && !numeric:
		return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
	case !found:
		u.uid, u.gid = uid, 0
	}
	groups, err := readEtc(root, "/etc/group")
	if err != nil {
		return u, err
	}
	if hasGroup {
		gid, ok := lookupGroup(groups, group)
		if !ok {
			return u, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
		}
		u.gid = gid
		return u, nil // an explicit group replaces the supplementary ones, as under Docker
	}
	for _, f := range groups {
		if len(f) < 4 {
			continue
		}
		gid, ok := parseID(f[2])
		if !ok || gid == u.gid {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name && found {
				u.groups = append(u.groups, gid)
				break
			}
		}
	}
	return u, nil
}

func lookupGroup(groups [][]string, group string) (uint32, bool) {
	for _, f := range groups {
		if len(f) >= 3 && f[0] == group {
			if gid, ok := parseID(f[2]); ok {
				return gid, true
			}
		}
	}
	return parseID(group)
}

func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// readEtc reads a colon-separated file of the image: missing is empty; a
// path that is not a regular file (a FIFO, a device, a directory) is an
// error and is never opened for reading.
func readEtc(root *os.File, path string) ([][]string, error) {
	h, err := inroot.OpenPath(root, path)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in the image: %w", path, err)
	}
	defer h.Close()
	st, err := inroot.Fstat(h)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in the image is not a regular file", path)
	}
	f, err := os.OpenFile(inroot.ProcPath(h), os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(io.LimitReader(f, maxEtcFile))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out, sc.Err()
}
