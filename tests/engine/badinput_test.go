package engine

import (
	"strings"
	"testing"
)

// TestBadInput feeds bad flags and values to the commands: each gets
// docker's exit status (125 for pelagos's own errors, docker's own where
// docker has another: 1 for an unknown container or command, 64 for an
// inspect template), exactly docker's message on one line (a bad flag
// adds docker's pointer to the help) and leaves nothing behind: no
// container, volume, mount, cgroup or monitor. (The audit in
// internal/cli skips this function: a flag seen only being refused is
// not tested.)
func TestBadInput(t *testing.T) {
	c := newCLI(t)
	seeHelp := func(cmd string) string { return "\nSee 'pelagos " + cmd + " --help'." }
	const img = "busybox:test"
	cases := []struct {
		args []string
		code int
		msg  string // stderr without "Error: " and the final newline
	}{
		// Flags cobra refuses.
		{[]string{"run", "--x", img}, 125, "unknown flag: --x" + seeHelp("run")},
		{[]string{"create", "-Z", img}, 125, "unknown shorthand flag: 'Z' in -Z" + seeHelp("create")},
		{[]string{"exec", "--nope", "x", "true"}, 125, "unknown flag: --nope" + seeHelp("exec")},
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus" + seeHelp("ps")},
		{[]string{"container", "ls", "--bogus"}, 125, "unknown flag: --bogus" + seeHelp("container ls")},
		{[]string{"volume", "ls", "--x"}, 125, "unknown flag: --x" + seeHelp("volume ls")},
		{[]string{"system", "prune", "--x"}, 125, "unknown flag: --x" + seeHelp("system prune")},
		{[]string{"run", "-m", "lots", img}, 125, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'` + seeHelp("run")},
		{[]string{"create", "--memory-swap", "1q", img}, 125, `invalid argument "1q" for "--memory-swap" flag: invalid size: '1q'` + seeHelp("create")},
		{[]string{"run", "--shm-size=-1", img}, 125, `invalid argument "-1" for "--shm-size" flag: invalid size: '-1'` + seeHelp("run")},
		{[]string{"run", "--pids-limit", "x", img}, 125, `invalid argument "x" for "--pids-limit" flag: strconv.ParseInt: parsing "x": invalid syntax` + seeHelp("run")},
		{[]string{"run", "--cpu-shares", "x", img}, 125, `invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax` + seeHelp("run")},
		{[]string{"run", "--dns", "notanip", img}, 125, `invalid argument "notanip" for "--dns" flag: IP address is not correctly formatted: notanip` + seeHelp("run")},
		{[]string{"run", "--health-interval", "soon", img}, 125, `invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"` + seeHelp("run")},
		// Values refused before anything is made.
		{[]string{"run", "--restart", "on-failure:x", img, "true"}, 125, "invalid restart policy: maximum retry count must be a positive integer: x"},
		{[]string{"run", "--restart", "always:3", img, "true"}, 125, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{[]string{"run", "--ulimit", "nofile=a:b", img, "true"}, 125, "invalid ulimit argument: nofile=a:b"},
		{[]string{"run", "-p", "99999:80", img, "true"}, 125, `invalid publish spec "99999:80": invalid port "99999"`},
		{[]string{"run", "--mount", "type=foo,target=/x", img, "true"}, 125, `invalid mount type "foo"`},
		{[]string{"run", "--mount", "type=volume", img, "true"}, 125, `invalid argument "type=volume" for "--mount" flag: target is required`},
		{[]string{"run", "--health-cmd", "true", "--health-interval", "-1s", img}, 125, "--health-interval cannot be negative"},
		{[]string{"run", "--health-retries", "-1", img}, 125, "--health-retries cannot be negative"},
		{[]string{"run", "--cap-add", "NOPE", img, "true"}, 125, `unknown capability: "CAP_NOPE"`},
		{[]string{"run", "-w", "rel", img, "true"}, 125, "the working directory 'rel' is invalid, it needs to be an absolute path"},
		{[]string{"run", "--security-opt", "label=bogus", img, "true"}, 125, `invalid --security-opt: "label=bogus"`},
		{[]string{"run", "--pull", "sometimes", img, "true"}, 125, `invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`},
		{[]string{"run", "--log-opt", "bogus=1", img, "true"}, 125, "unknown log opt 'bogus' for json-file log driver"},
		{[]string{"run", "--network", "nosuch", img, "true"}, 125, "network nosuch not found"},
		{[]string{"run", "-m", "4k", img, "true"}, 125, "Minimum memory limit allowed is 6MB"},
		{[]string{"run", "--env-file", "/nonexistent-pelagos", img, "true"}, 125, "invalid env file (/nonexistent-pelagos): open /nonexistent-pelagos: no such file or directory"},
		// Refused at create, as docker refuses it, before the named volume
		// is made.
		{[]string{"run", "-v", "made:/x", "--mount", "type=bind,source=/nonexistent-pelagos,target=/y", img, "true"}, 125,
			`invalid mount config for type "bind": bind source path does not exist: /nonexistent-pelagos`},
		{[]string{"run", "-v", "rel:tive", img, "true"}, 125, "invalid volume specification: 'rel:tive': mount path must be absolute"},
		// Objects that do not exist: docker's words and status 1.
		{[]string{"start", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"rm", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"logs", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"exec", "nosuch", "true"}, 1, "No such container: nosuch"},
		{[]string{"stats", "--no-stream", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"cp", "nosuch:/etc/passwd", "-"}, 1, "No such container: nosuch"},
		{[]string{"volume", "rm", "nosuch"}, 1, "No such volume: nosuch"},
		{[]string{"container", "nosuch"}, 1, "unknown command: pelagos container nosuch" + seeHelp("container")},
		// Argument counts: docker's words and status 1.
		{[]string{"run"}, 1, "'pelagos run' requires at least 1 argument" + seeHelp("run")},
		{[]string{"rename", "x"}, 1, "'pelagos rename' requires exactly 2 arguments" + seeHelp("rename")},
		{[]string{"container", "ls", "x"}, 1, "'pelagos container ls' accepts no arguments" + seeHelp("container ls")},
		// Templates: docker's status for each command.
		{[]string{"ps", "--format", "{{.Names"}, 1, "invalid --format template: template: format:1: unclosed action"},
		{[]string{"inspect", "-f", "{{.Name", img}, 64, "template parsing error: template: f:1: unclosed action"},
	}
	for _, tc := range cases {
		out, errs, code := c.run(nil, tc.args...)
		if want := "Error: " + tc.msg + "\n"; code != tc.code || errs != want || out != "" {
			t.Errorf("pelagos %s: exit %d, stdout %q, stderr %q; want exit %d, stderr %q", strings.Join(tc.args, " "), code, out, errs, tc.code, want)
		}
		if left := strings.Fields(c.ok("ps", "-aq") + c.ok("volume", "ls", "-q")); len(left) > 0 {
			t.Errorf("pelagos %s left %q behind", strings.Join(tc.args, " "), left)
			for _, id := range left {
				c.run(nil, "rm", "-f", id)
				c.run(nil, "volume", "rm", "-f", id)
			}
		}
		c.assertClean()
	}
}
