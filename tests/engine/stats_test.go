package engine

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// statsJSON runs stats --no-stream --format json and returns its rows by
// name.
func statsJSON(t *testing.T, c *cli, args ...string) map[string]map[string]string {
	t.Helper()
	out := c.ok(append([]string{"stats", "--no-stream", "--format", "json"}, args...)...)
	rows := map[string]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r map[string]string
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("stats json line %q: %v", line, err)
		}
		rows[r["Name"]] = r
	}
	return rows
}

func TestStats(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "busy", "-m", "64m", "busybox:test", "sh", "-c",
		"ping -c 3 -i 0.2 $(ip route | awk '/default/ {print $3}'); while :; do :; done")
	c.ok("run", "-d", "--name", "idle", "--pids-limit", "10", "busybox:test", "sleep", "1000")
	c.ok("create", "--name", "cold", "busybox:test", "true")
	time.Sleep(time.Second) // the pings
	rows := statsJSON(t, c)
	if _, ok := rows["cold"]; ok || len(rows) != 2 {
		t.Fatalf("stats without -a: %v, want the two running containers", rows)
	}
	busy := rows["busy"]
	var keys []string
	for k := range busy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}, keys); diff != "" {
		t.Errorf("json keys (-docker's +ours):\n%s", diff)
	}
	cpu, _ := strconv.ParseFloat(strings.TrimSuffix(busy["CPUPerc"], "%"), 64)
	if cpu < 5 {
		t.Errorf("a spinning container's CPU %% = %s, want well above 0", busy["CPUPerc"])
	}
	if !strings.HasSuffix(busy["MemUsage"], " / 64MiB") || strings.HasPrefix(busy["MemUsage"], "0B") {
		t.Errorf("MemUsage %q, want usage / 64MiB", busy["MemUsage"])
	}
	if busy["NetIO"] == "0B / 0B" {
		t.Errorf("NetIO %q after pings", busy["NetIO"])
	}
	if busy["PIDs"] != "1" || len(busy["ID"]) != 12 {
		t.Errorf("PIDs %q ID %q", busy["PIDs"], busy["ID"])
	}
	if idle := rows["idle"]; idle["PIDs"] != "1" || idle["CPUPerc"] != "0.00%" {
		t.Errorf("idle: %v", idle)
	}
	t.Logf("stats: %v", rows)
	all := statsJSON(t, c, "-a", "--no-trunc")
	if cold := all["cold"]; cold["MemUsage"] != "0B / 0B" || cold["CPUPerc"] != "0.00%" || cold["PIDs"] != "0" || len(cold["ID"]) != 64 {
		t.Errorf("a stopped container with -a --no-trunc: %v", cold)
	}
	// Named containers: the Container column is the name given.
	if named := statsJSON(t, c, "busy"); named["busy"]["Container"] != "busy" || len(named) != 1 {
		t.Errorf("stats busy: %v", named)
	}
	table := c.ok("stats", "--no-stream", "idle")
	t.Logf("stats idle:\n%s", table)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	header := strings.Join(strings.Fields(lines[0]), " ")
	if header != "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS" || len(lines) != 2 {
		t.Errorf("table:\n%s", table)
	}
	if got := c.ok("stats", "--no-stream", "--format", "{{.Name}}: {{.PIDs}}", "idle"); got != "idle: 1\n" {
		t.Errorf("template: %q", got)
	}
	if errs := c.fails(1, "stats", "--no-stream", "nosuch"); !strings.Contains(errs, "No such container: nosuch") {
		t.Errorf("unknown container: %q", errs)
	}
	// Streaming redraws every second until interrupted.
	cmd := exec.Command(c.bin, "stats", "idle")
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("stats after SIGINT: %v", err)
	}
	if frames := strings.Count(out.String(), "\033[2J\033[H"); frames < 2 || strings.Count(out.String(), "CONTAINER ID") != frames {
		t.Errorf("streaming: %d frames in %q, want 2 or more, each with its header", frames, out.String())
	}
	c.ok("rm", "-f", "busy", "idle", "cold")
	c.assertClean()
}
