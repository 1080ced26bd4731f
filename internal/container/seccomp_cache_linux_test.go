package container

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp"
)

func accept(*seccomp.Program) error { return nil }

func profileDenying(names ...string) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: names, Action: specs.ActKillProcess}}}
}

func cacheEntries(t *testing.T, root string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(root, seccompCacheDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// The first create compiles and keeps the program; the next with the same
// profile takes the kept one (here planted: a different program under the
// profile's name, which only a cache reader can return).
func TestSeccompCacheServesTheSameProfile(t *testing.T) {
	root := t.TempDir()
	cfg := profileDenying("keyctl")
	p, path, err := compileSeccomp(root, cfg, accept)
	if err != nil || path == "" {
		t.Fatalf("first compile: path %q, err %v", path, err)
	}
	want, _ := seccomp.Compile(cfg)
	if !bytes.Equal(p.Encode(), want.Encode()) {
		t.Fatal("the first compile differs from seccomp.Compile's")
	}
	if got, err := readSeccomp(path); err != nil || !bytes.Equal(got.Encode(), want.Encode()) {
		t.Fatalf("the cache entry: %v", err)
	}
	other, _ := seccomp.Compile(profileDenying("ptrace"))
	if err := os.WriteFile(path, encodeSeccomp(other), 0o600); err != nil {
		t.Fatal(err)
	}
	p, path2, err := compileSeccomp(root, profileDenying("keyctl"), accept)
	if err != nil || path2 != path {
		t.Fatalf("second compile: path %q (first %q), err %v", path2, path, err)
	}
	if !bytes.Equal(p.Encode(), other.Encode()) {
		t.Error("the second create compiled the profile again instead of reading the cache")
	}
	if _, path3, _ := compileSeccomp(root, profileDenying("keyctl", "ptrace"), accept); path3 == path {
		t.Error("a different profile got the same cache entry")
	}
}

// A truncated or corrupt entry is compiled again and replaced.
func TestSeccompCacheRepairsACorruptEntry(t *testing.T) {
	for _, bad := range [][]byte{nil, {1, 0, 0, 0}, {0, 0, 0, 0, 1, 2, 3}} {
		root := t.TempDir()
		cfg := profileDenying("keyctl")
		_, path, _ := compileSeccomp(root, cfg, accept)
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		p, _, err := compileSeccomp(root, cfg, accept)
		want, _ := seccomp.Compile(cfg)
		if err != nil || !bytes.Equal(p.Encode(), want.Encode()) {
			t.Errorf("entry %v: got a wrong program (err %v)", bad, err)
		}
		if got, err := readSeccomp(path); err != nil || !bytes.Equal(got.Encode(), want.Encode()) {
			t.Errorf("entry %v was not rewritten: %v", bad, err)
		}
	}
}

// A profile create refuses leaves nothing kept.
func TestSeccompCacheKeepsNoRefusedProfile(t *testing.T) {
	root := t.TempDir()
	refuse := func(p *seccomp.Program) error {
		if len(p.UnknownSyscalls) > 0 {
			return errors.New("refused")
		}
		return nil
	}
	if _, path, err := compileSeccomp(root, profileDenying("no_such_syscall_x"), refuse); err == nil || path != "" {
		t.Fatalf("refused profile: path %q, err %v", path, err)
	}
	if n := cacheEntries(t, root); len(n) != 0 {
		t.Errorf("entries kept: %v", n)
	}
}

// Past seccompCacheMax entries the oldest go.
func TestSeccompCacheIsBounded(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, seccompCacheDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for i := range seccompCacheMax {
		name := filepath.Join(dir, "old"+string(rune('a'+i/26))+string(rune('a'+i%26)))
		if err := os.WriteFile(name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(name, old, old.Add(time.Duration(i)*time.Second))
	}
	_, path, err := compileSeccomp(root, profileDenying("keyctl"), accept)
	if err != nil {
		t.Fatal(err)
	}
	names := cacheEntries(t, root)
	if len(names) != seccompCacheMax {
		t.Errorf("%d entries, want %d", len(names), seccompCacheMax)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the new entry: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oldaa")); !os.IsNotExist(err) {
		t.Errorf("the oldest entry is still there (%v)", err)
	}
}
