package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// hookLog returns a hook that appends "<name> <status>" and the state's
// id to file, and the file.
func hookLog(t *testing.T) (func(name string) specs.Hook, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "hooks.log")
	return func(name string) specs.Hook {
		// The state arrives on stdin; keep its status and id.
		script := `read s; st=$(echo "$s" | sed 's/.*"status":"\([a-z]*\)".*/\1/'); echo "` + name + ` $st" >> ` + log
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
	}, log
}

// All six hooks run, in lifecycle order, with the state the spec gives.
func TestHooksOrderAndState(t *testing.T) {
	r := newRuntime(t)
	h, log := hookLog(t)
	b := newBundle(t, bundle.Args("true"), bundle.WritableRoot(), func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime:   []specs.Hook{h("createRuntime")},
			CreateContainer: []specs.Hook{h("createContainer")},
			StartContainer:  []specs.Hook{h("startContainer")},
			Poststart:       []specs.Hook{h("poststart")},
			Poststop:        []specs.Hook{h("poststop")},
		}
		//lint:ignore SA1019 prestart is deprecated but still part of the spec
		s.Hooks.Prestart = []specs.Hook{h("prestart")}
	})
	// createContainer and startContainer run in the container: /bin/sh
	// there is busybox and the log must be reachable.
	if err := os.MkdirAll(filepath.Join(b.Rootfs(), filepath.Dir(log)), 0o755); err != nil {
		t.Fatal(err)
	}
	r.mustRun("run", "--bundle", b.Dir, "hooks1")
	got, _ := os.ReadFile(log)
	inside, _ := os.ReadFile(filepath.Join(b.Rootfs(), log))
	want := "prestart created\ncreateRuntime created\ncreateContainer created\npoststart running\npoststop stopped\n"
	if string(got) != want {
		t.Errorf("runtime-namespace hooks ran:\n%s\nwant:\n%s", got, want)
	}
	if string(inside) != "startContainer created\n" {
		t.Errorf("startContainer hook (in the container) ran: %q", inside)
	}
}

// A failing startContainer hook fails start, and the container is
// destroyed with its poststop hooks run; a failing poststart hook does
// the same for a runtime-spec 1.3 config and is a warning for 1.0-1.2.
func TestHookFailureSemantics(t *testing.T) {
	r := newRuntime(t)
	cases := []struct {
		name, version string
		hooks         func(h func(string) specs.Hook) *specs.Hooks
		startFails    bool
	}{
		{"startContainer fails", "1.3.0", func(h func(string) specs.Hook) *specs.Hooks {
			return &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/false"}}, Poststop: []specs.Hook{h("poststop")}}
		}, true},
		{"poststart fails, 1.3 config", "1.3.0", func(h func(string) specs.Hook) *specs.Hooks {
			return &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/false"}}, Poststop: []specs.Hook{h("poststop")}}
		}, true},
		{"poststart fails, 1.1 config", "1.1.0", func(h func(string) specs.Hook) *specs.Hooks {
			return &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/false"}}, Poststop: []specs.Hook{h("poststop")}}
		}, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, log := hookLog(t)
			b := newBundle(t, bundle.Args("sleep", "30"), func(s *specs.Spec) {
				s.Version = c.version
				s.Hooks = c.hooks(h)
			})
			id := "hookfail" + itoa(i)
			r.mustRun("create", "--bundle", b.Dir, id)
			_, _, err := r.run("start", id)
			if (err != nil) != c.startFails {
				t.Fatalf("start error %v, want failure %v", err, c.startFails)
			}
			if c.startFails {
				if _, _, err := r.run("state", id); err == nil {
					t.Error("the container still exists after a failed start")
				}
				if got, _ := os.ReadFile(log); string(got) != "poststop stopped\n" {
					t.Errorf("poststop hooks after the failure: %q", got)
				}
				return
			}
			if st := r.state(id).Status; st != specs.StateRunning {
				t.Errorf("status after a poststart warning = %q, want running", st)
			}
			r.mustRun("delete", "--force", id)
		})
	}
}

// Errors go to --log as the JSON lines containerd reads.
func TestLogFileJSON(t *testing.T) {
	r := newRuntime(t)
	log := filepath.Join(t.TempDir(), "log.json")
	if _, _, err := r.run("--log", log, "--log-format", "json", "state", "no-such-container"); err == nil {
		t.Fatal("state of a missing container succeeded")
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var line struct{ Level, Msg, Time string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(b))), &line); err != nil {
		t.Fatalf("log line %q: %v", b, err)
	}
	if line.Level != "error" || !strings.Contains(line.Msg, "no-such-container") || line.Time == "" {
		t.Errorf("log line %+v", line)
	}
}
