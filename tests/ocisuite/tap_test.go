package ocisuite

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTAP(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want TAP
	}{
		{"all ok", "TAP version 13\nok 1 - a\nok 2 # SKIP b not set\n1..2\n",
			TAP{Ok: 2, Skipped: 1, Planned: 2}},
		{"not ok with yaml", "TAP version 13\nnot ok 1 - create\n  ---\n  {\n    \"error\": \"exit status 1\"\n  }\n  ...\nok 2 - b\n1..2\n",
			TAP{Ok: 1, NotOk: 1, Planned: 2, YAMLError: true, Failures: []string{"1 - create"}}},
		{"error without points", "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called\"\n  }\n  ...\n1..0\n",
			TAP{Planned: 0, YAMLError: true}},
		{"no plan", "ok 1\n", TAP{Ok: 1, Planned: -1}},
		{"two documents", "TAP version 13\nok 1\nok 2\n1..2\nTAP version 13\n1..0\n", TAP{Ok: 2, Planned: 2}},
		{"ok inside yaml is not a point", "  ---\n  ok 1\n  not ok 2\n  ...\n", TAP{Planned: -1}},
		{"empty error is not an error", "  ---\n  {\n    \"error\": \"\",\n  }\n  ...\n1..0\n", TAP{Planned: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(ParseTAP(tt.out), tt.want); diff != "" {
				t.Errorf("ParseTAP (-got +want):\n%s", diff)
			}
		})
	}
}

func TestResultCounting(t *testing.T) {
	tests := []struct {
		name       string
		r          Result
		pass       bool
		notOk      int
		summaryHas string
	}{
		{"pass", Result{TAP: TAP{Ok: 3, Planned: 3}}, true, 0, "pass"},
		{"not ok lines", Result{TAP: TAP{Ok: 1, NotOk: 2, Planned: 3}}, false, 2, "2 not ok"},
		{"yaml error, no points", Result{TAP: TAP{YAMLError: true, Planned: 0}}, false, 1, "ERROR"},
		{"died before TAP", Result{ExitCode: 1, TAP: TAP{Planned: -1}}, false, 1, "ERROR"},
		{"points ok but exit 1", Result{ExitCode: 1, TAP: TAP{Ok: 5, Planned: 5}}, false, 1, "FAIL(exit 1)"},
		{"fewer points than planned", Result{TAP: TAP{Ok: 2, Planned: 3}}, false, 1, "FAIL(exit 0)"},
		{"timeout", Result{TimedOut: true, ExitCode: -1, TAP: TAP{Ok: 2, Planned: -1}}, false, 1, "TIMEOUT(1 not ok)"},
		{"all skipped counts as pass", Result{TAP: TAP{Ok: 1, Skipped: 1, Planned: 1}}, true, 0, "pass"},
		{"silent success of an error-only program", Result{TAP: TAP{Planned: 0}}, true, 0, "pass"},
		{"no TAP at all, exit 0", Result{TAP: TAP{Planned: -1}}, true, 0, "pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Passed(); got != tt.pass {
				t.Errorf("Passed() = %v, want %v", got, tt.pass)
			}
			if got := tt.r.NotOk(); got != tt.notOk {
				t.Errorf("NotOk() = %d, want %d", got, tt.notOk)
			}
			if got := tt.r.Summary(); got != tt.summaryHas {
				t.Errorf("Summary() = %q, want %q", got, tt.summaryHas)
			}
		})
	}
	passed, notOk := Totals([]Result{tests[0].r, tests[1].r, tests[2].r})
	if passed != 1 || notOk != 3 {
		t.Errorf("Totals = %d, %d; want 1, 3", passed, notOk)
	}
}
