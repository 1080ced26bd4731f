package container

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	fields := func(start string) string {
		// Fields 3 .. 52 after the name: state, then 18 numbers, then
		// starttime (field 22), then the rest.
		f := []string{"S"}
		for i := 4; i < 22; i++ {
			f = append(f, strconv.Itoa(i))
		}
		f = append(f, start)
		for i := 23; i <= 52; i++ {
			f = append(f, "0")
		}
		return strings.Join(f, " ")
	}
	tests := []struct {
		line      string
		state     byte
		start     uint64
		wantError bool
	}{
		{"42 (sh) " + fields("123456") + "\n", 'S', 123456, false},
		{"42 (a) b (c)) " + fields("7") + "\n", 'S', 7, false},
		{"42 (sh) " + strings.Replace(fields("99"), "S", "Z", 1), 'Z', 99, false},
		{"42 (sh) S 1 2 3", 0, 0, true},
		{"42 sh S", 0, 0, true},
		{"42 (sh) " + fields("x"), 0, 0, true},
	}
	for _, tt := range tests {
		state, start, err := parseStat([]byte(tt.line), 42)
		if (err != nil) != tt.wantError || err == nil && (state != tt.state || start != tt.start) {
			t.Errorf("parseStat(%.40q...) = %q, %d, %v; want %q, %d, error %v", tt.line, state, start, err, tt.state, tt.start, tt.wantError)
		}
	}
}

func TestProcStatSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	want, _ := strconv.ParseUint(f[19], 10, 64)
	state, start, err := procStat(os.Getpid())
	// /proc/<pid>/stat shows the main thread's state, and the test runs
	// on whichever thread the scheduler picked, so the main thread may be
	// running or asleep; it is never a zombie or dead.
	if err != nil || start != want || !strings.ContainsRune("RSD", rune(state)) {
		t.Errorf("procStat(self) = %q, %d, %v; want 'R', 'S' or 'D', %d", state, start, err, want)
	}
	if _, _, err := procStat(-5); err == nil {
		t.Error("procStat(-5) succeeded")
	}
}
