package container

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// seccompFile keeps the container's seccomp program as create compiled
// it (flags as a little-endian uint32, then seccomp.Program.Encode), so
// that an exec loads it instead of compiling the profile again: Docker's
// profile costs a few milliseconds to compile, on every exec and health
// check.
const seccompFile = "seccomp.bpf"

// The compiled programs of recent profiles are kept in the runtime root,
// in seccompFile's format, so that creating containers with the same
// profile compiles it once: most containers of a host share a handful of
// profiles (Docker's default, per capability set), and compiling Docker's
// profile is a tenth of a container's creation. A name starting with a
// dot is never a container ID, so List does not see the directory.
const (
	seccompCacheDir = ".seccomp"
	// seccompCacheMax bounds the directory: past it, a new program
	// replaces the least recently made ones.
	seccompCacheMax = 64
)

// compileSeccomp compiles cfg, or loads the program this same binary
// compiled from the same profile before (seccomp.Key, and the binary's
// identity, name the file). A compiled program is kept only once check
// accepts it, so a refused profile leaves nothing; what was kept passed
// check, which depends on the profile alone. A missing, unreadable or
// corrupt entry is compiled again and rewritten. It returns the entry's
// path when the program is (now) in the cache, for saveSeccomp to link.
func compileSeccomp(root string, cfg *specs.LinuxSeccomp, check func(*seccomp.Program) error) (*seccomp.Program, string, error) {
	path, ok := seccompCachePath(root, cfg)
	if ok {
		if p, err := readSeccomp(path); err == nil {
			return p, path, nil
		}
	}
	p, err := seccomp.Compile(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("linux.seccomp: %v: %w", err, spec.ErrInvalid)
	}
	if err := check(p); err != nil {
		return nil, "", err
	}
	if !ok || putSeccompCache(path, p) != nil {
		return p, "", nil // a cache that cannot be written is no cache
	}
	return p, path, nil
}

// seccompCachePath names cfg's entry: a digest of the profile's Key and
// of the running binary's file (device, inode, size, change times), so
// that a rebuilt or upgraded binary, whose compiler may differ, never
// reads an older one's programs. ok is false when the binary cannot be
// identified.
func seccompCachePath(root string, cfg *specs.LinuxSeccomp) (string, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return "", false
	}
	key := seccomp.Key(cfg)
	b := append(key[:0:0], key[:]...)
	for _, v := range []uint64{st.Dev, st.Ino, uint64(st.Size),
		uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec), uint64(st.Ctim.Sec), uint64(st.Ctim.Nsec)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	sum := sha256.Sum256(b)
	return filepath.Join(root, seccompCacheDir, hex.EncodeToString(sum[:])), true
}

// readSeccomp loads a program in seccompFile's format.
func readSeccomp(path string) (*seccomp.Program, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) <= 4 {
		return nil, errors.New("seccomp program file is truncated")
	}
	return seccomp.Decode(b[4:], uint(binary.LittleEndian.Uint32(b)))
}

// encodeSeccomp is seccompFile's format of p.
func encodeSeccomp(p *seccomp.Program) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(p.Flags))
	return append(b, p.Encode()...)
}

// putSeccompCache writes p's entry atomically, then trims the directory.
func putSeccompCache(path string, p *seccomp.Program) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, rootDirMod); err != nil {
		return err
	}
	// A temporary file of its own, not writeAtomic's fixed name: two
	// creates may write the same entry at once, and a reader must never
	// see a program cut short (a shorter filter can still be valid).
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(encodeSeccomp(p))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	trimSeccompCache(dir)
	return nil
}

// trimSeccompCache removes the oldest entries past seccompCacheMax. A
// container that linked an entry keeps its own link.
func trimSeccompCache(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= seccompCacheMax {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return int(min(max(a.mod-b.mod, -1), 1)) })
	for _, a := range all[:max(0, len(all)-seccompCacheMax)] {
		os.Remove(filepath.Join(dir, a.name))
	}
}

// saveSeccomp puts the compiled program beside the config copy: a hard
// link to its cache entry when there is one (no new inode to allocate),
// otherwise a file of its own.
func (cr *creation) saveSeccomp() error {
	if cr.seccomp == nil {
		return nil
	}
	dst := filepath.Join(cr.c.dir, seccompFile)
	if cr.seccompCached != "" && os.Link(cr.seccompCached, dst) == nil {
		return nil
	}
	return writeAtomic(dst, encodeSeccomp(cr.seccomp))
}

// seccompProgram returns the container's program: the one create saved,
// or (a container created before it was saved) cfg compiled.
func (c *Container) seccompProgram(cfg *specs.LinuxSeccomp) (*seccomp.Program, error) {
	if p, err := readSeccomp(filepath.Join(c.dir, seccompFile)); err == nil {
		return p, nil
	}
	return seccomp.Compile(cfg)
}
