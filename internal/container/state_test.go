package container

import (
	"os"
	"testing"
)

func TestRemoveDir(t *testing.T) {
	for _, extra := range []string{"", ".state.json.tmp", "unknown"} {
		dir := t.TempDir() + "/c"
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{stateFile, configFile, startedMark, extra} {
			if name != "" {
				if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := removeDir(dir); err != nil {
			t.Errorf("removeDir with %q in it: %v", extra, err)
		}
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("removeDir with %q in it left the directory (%v)", extra, err)
		}
	}
	if err := removeDir(t.TempDir() + "/gone"); err != nil {
		t.Errorf("removeDir of a missing directory: %v", err)
	}
}
