package dockercmp

import (
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/google/go-cmp/cmp"
)

// The comparison itself must fail where the forms differ and pass where
// only the values do: these need no daemon.

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Exited (0) 2 seconds ago", "Exited (137) Less than a second ago", true},
		{"Up 3 seconds", "Up About a minute", true},
		{"Up 3 seconds", "Up 3 seconds (Paused)", false},
		{"1.98MB", "2.5kB", true},
		{"1.98MB", "1.982MB", false},
		{"1.2MiB", "1.2MB", false},
		{"2.059MiB / 64MiB", "496KiB / 64MiB", true},
		{"0B (virtual 1.98MB)", "0B", false},
		{"2026-11-29T06:04:10.123456789Z hi", "2025-01-02T03:04:05.000000001Z hi", true},
		{"2026-11-29T06:04:10.123456789Z hi", "2026-11-29T06:04:10.123456Z hi", false},
		{"2026-11-29T06:04:10Z", "2026-11-29T06:04:10+01:00", false},
		{"2026-11-29 06:04:10 +0000 UTC", "2026-11-29 07:04:10 +0100 CET", true},
		{"655ed586069e", "a5fb9fb4506b", true},
		{"655ed586069e", "655ed586069eebbb0ff7a4546ae260e0eed7628abf7eed923ed51a0ea8c00ae4", false},
		{`"sh -c 'echo hi; ech…"`, `"sh -c echo hi; echo…"`, false},
		{"0.00%", "12.50%", true},
		{"0.00%", "0.0%", false},
	} {
		if got := shape(tc.a) == shape(tc.b); got != tc.same {
			t.Errorf("shape(%q) = %q, shape(%q) = %q: same %v, want %v", tc.a, shape(tc.a), tc.b, shape(tc.b), got, tc.same)
		}
	}
}

func TestCompareJSON(t *testing.T) {
	docker := `{"Id":"655ed586069eebbb0ff7a4546ae260e0eed7628abf7eed923ed51a0ea8c00ae4","Created":"2026-11-29T06:04:10.16650002Z",
		"State":{"Pid":42,"Running":true,"Error":""},"Args":["1000"],"Labels":{},"Mounts":null,"Path":"/a/b"}`
	for _, tc := range []struct {
		name    string
		pelagos string
		want    []string
	}{
		{"same form", `{"Id":"a5fb9fb4506baae7a44d03503497626186191497382c12b7868903b6d16bef18","Created":"2026-11-29T06:04:11.742817562Z",
			"State":{"Pid":7,"Running":false,"Error":""},"Args":["5"],"Labels":{},"Mounts":null,"Path":"/c"}`, nil},
		{"missing and extra keys, wrong types", `{"Id":"a5fb9fb4506b","Created":"2026-11-29 06:04:11 +0000 UTC",
			"State":{"Pid":"7","Running":false,"Error":"x","Extra":1},"Args":[],"Labels":null,"Path":"/c"}`, []string{
			".Args: docker has 1 elements",
			".Created: docker",
			".Id: docker",
			".Labels: docker has object {}, pelagos null",
			".Mounts: only docker has it",
			".State.Error: docker",
			".State.Extra: only pelagos has it",
			".State.Pid: docker has number 42, pelagos string",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := compareDocs("test", docker, tc.pelagos, byClass)
			var got []string
			for _, d := range diffs {
				got = append(got, prefixOf(d, tc.want))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("compareDocs differences (-want +got):\n%s\nall:\n%s", diff, strings.Join(diffs, "\n"))
			}
		})
	}
}

// prefixOf is the entry of want that d starts with, or d itself.
func prefixOf(d string, want []string) string {
	for _, w := range want {
		if strings.HasPrefix(d, w) {
			return w
		}
	}
	return d
}

func TestAllowList(t *testing.T) {
	allowed["test:.A.B"] = "a test entry"
	defer delete(allowed, "test:.A.B")
	diffs := compareDocs("test", `{"A":{"B":{"C":1},"D":1}}`, `{"A":{"B":null,"D":"1"}}`, byClass)
	if len(diffs) != 1 || !strings.HasPrefix(diffs[0], ".A.D:") {
		t.Errorf("with .A.B allowed: %q, want only .A.D's type", diffs)
	}
	if diffs := compareDocs("other", `{"A":{"B":{"C":1}}}`, `{"A":{"B":null}}`, byClass); len(diffs) != 1 {
		t.Errorf("an entry for another comparison applied: %q", diffs)
	}
	for key, reason := range allowed {
		if strings.TrimSpace(reason) == "" {
			t.Errorf("allow-list entry %q has no reason", key)
		}
	}
}

func TestTables(t *testing.T) {
	head := "CONTAINER ID\tIMAGE\tCOMMAND\tSTATUS\tPORTS\tNAMES"
	docker := tabulate(head,
		"e83cd81d4fb4\tbusybox:test\t\"sh -c 'echo hi; ech…\"\tExited (0) 2 seconds ago\t\texit1",
		"655ed586069e\tbusybox:test\t\"sleep 1000\"\tUp 3 seconds\t\trun1")
	if diffs := asTable("t", docker, tabulate(head,
		"8147c7227e8d\tbusybox:test\t\"sh -c 'echo hi; ech…\"\tExited (0) Less than a second ago\t\texit1",
		"a5fb9fb4506b\tbusybox:test\t\"sleep 1000\"\tUp 2 seconds\t\trun1")); len(diffs) > 0 {
		t.Errorf("tables of the same form: %q", diffs)
	}
	if diffs := asTable("t", docker, tabulate(head,
		"8147c7227e8d\tbusybox:test\t\"sh -c 'echo hi; ech…\"\tExited (0) Less than a second ago\t\texit1",
		"a5fb9fb4506b\tbusybox:test\t\"sleep 1000\"\trunning\t\trun1")); len(diffs) != 1 || !strings.Contains(diffs[0], "row 2 STATUS") {
		t.Errorf("a cell of another form: %q", diffs)
	}
	if diffs := asTable("t", docker, tabulate(strings.Replace(head, "PORTS", "PORT", 1))); len(diffs) != 1 || !strings.HasPrefix(diffs[0], "columns:") {
		t.Errorf("another column name: %q", diffs)
	}
	got := parseTable(docker)
	want := table{
		header: []string{"CONTAINER ID", "IMAGE", "COMMAND", "STATUS", "PORTS", "NAMES"},
		rows: [][]string{
			{"e83cd81d4fb4", "busybox:test", `"sh -c 'echo hi; ech…"`, "Exited (0) 2 seconds ago", "", "exit1"},
			{"655ed586069e", "busybox:test", `"sleep 1000"`, "Up 3 seconds", "", "run1"},
		},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(table{})); diff != "" {
		t.Errorf("parseTable (-want +got):\n%s", diff)
	}
}

// tabulate aligns tab-separated lines as docker's CLI does.
func tabulate(lines ...string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 10, 1, 3, ' ', 0)
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
	return b.String()
}
