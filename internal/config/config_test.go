package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pelagos.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	p := write(t, `{"root": "/r", "log-opts": {"max-size": "1m"}, "mirrors": {"r.io": ["m:1"]}, "no-new-privileges": true}`)
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{Root: "/r", LogOpts: map[string]string{"max-size": "1m"}, Mirrors: map[string][]string{"r.io": {"m:1"}}, NoNewPrivileges: true, Path: p}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	for _, missing := range []string{"", filepath.Join(t.TempDir(), "none.json")} {
		if f, err := Load(missing); err != nil || f.Root != "" {
			t.Errorf("Load(%q) = %+v, %v; want an empty file", missing, f, err)
		}
	}
}

func TestLoadDockerUlimits(t *testing.T) {
	p := write(t, `{"default-ulimits": {"nproc": {"Name": "nproc", "Soft": 10, "Hard": 20}, "core": {"Soft": 0, "Hard": 0}}}`)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Ulimits{"core=0:0", "nproc=10:20"}, f.DefaultUlimits); diff != "" {
		t.Errorf("default-ulimits (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{"{\n\"root\": \"/x\",\n}", "malformed JSON at line 3"},
		{`{"root": "/x"`, "malformed JSON"},
		{`{"bogus": 1}`, `unknown key "bogus"`},
		{`{"no-new-privileges": "yes"}`, `key "no-new-privileges": want a JSON bool`},
		{`{"mirrors": ["x"]}`, `key "mirrors": want a JSON object`},
		{`{"runroot": "run"}`, `key "runroot"`},
		{`{"log-opts": {"mode": "x"}}`, `unknown log opt "mode"`},
		{`{} {}`, "trailing data"},
		{`{"default-ulimits": {"nofile": {"Max": 1}}}`, `key "default-ulimits"`},
		{`{"default-ulimits": {"nofile": {"Name": "nproc"}}}`, `entry "nofile" has Name "nproc"`},
		{`{"default-ulimits": 3}`, `key "default-ulimits": want an array`},
		{`{"default-address-pools": [{"base": "10.0.0.0/33", "size": 24}]}`, `key "default-address-pools"`},
		{`{"default-address-pools": [{"base": "10.0.0.0/16", "size": 31}]}`, `size 31`},
		{`{"default-address-pools": [{"base": "10.0.0.0/16", "bits": 24}]}`, `unknown key "bits"`},
	}
	for _, tc := range cases {
		p := write(t, tc.body)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "config "+p+": ") {
			t.Errorf("Load(%q) error %v, want one naming %s and %q", tc.body, err, p, tc.want)
		}
	}
}

func TestSecurityOpts(t *testing.T) {
	f := &File{NoNewPrivileges: true, SeccompProfile: "/p.json"}
	if got, want := f.SecurityOpts(nil), []string{"no-new-privileges", "seccomp=/p.json"}; !cmp.Equal(got, want) {
		t.Errorf("SecurityOpts(nil) = %v, want %v", got, want)
	}
	if got := f.SecurityOpts([]string{"no-new-privileges=false", "seccomp:unconfined"}); len(got) != 0 {
		t.Errorf("SecurityOpts with both given = %v, want none", got)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("PELAGOS_CONFIG", "/x/p.json")
	if got := DefaultPath(); got != "/x/p.json" {
		t.Errorf("DefaultPath with PELAGOS_CONFIG = %q", got)
	}
}
