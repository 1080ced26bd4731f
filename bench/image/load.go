package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadMeter tells how busy the machine was with other work while the
// benchmark ran: all CPU time the machine spent (from /proc/stat) less
// what the benchmark's own processes used (this process, every command
// it ran, and the registry), over the wall time.
type loadMeter struct {
	registry int
	start    time.Time
	busy0    float64
	self0    float64
	reg0     float64
	children float64 // CPU seconds of the commands run
	loadavg0 string
}

var clockTick = 100.0 // USER_HZ on Linux

func startLoad(registry int) *loadMeter {
	return &loadMeter{registry: registry, start: time.Now(), busy0: machineBusy(), self0: selfCPU(), reg0: procCPU(registry), loadavg0: loadavg()}
}

// timed runs a command and returns its wall time, adding its CPU time to
// the benchmark's own.
func (l *loadMeter) timed(argv ...string) time.Duration {
	start := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
	}
	d := time.Since(start)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		l.children += tv(ru.Utime) + tv(ru.Stime)
	}
	return d
}

// own is the CPU seconds the benchmark's processes used so far.
func (l *loadMeter) own() float64 {
	return selfCPU() - l.self0 + procCPU(l.registry) - l.reg0 + l.children
}

func (l *loadMeter) report() {
	wall := time.Since(l.start).Seconds()
	busy := machineBusy() - l.busy0
	own := l.own()
	others := max(busy-own, 0)
	fmt.Printf("\nmachine: %d cores; during the benchmark (%.0f s) the benchmark used %.2f cores and other processes %.2f cores on average; load average %s at the start, %s at the end\n",
		ncpu(), wall, own/wall, others/wall, l.loadavg0, loadavg())
}

// machineBusy is the CPU seconds all cores spent not idle since boot.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	check(err)
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:]
	var busy float64
	for i, v := range f {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal; guest time is already in user
			continue
		}
		busy += n
	}
	return busy / clockTick
}

func selfCPU() float64 {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return tv(ru.Utime) + tv(ru.Stime)
}

// procCPU is a process's user+system CPU seconds from /proc/PID/stat.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / clockTick
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func ncpu() int {
	n := 0
	b, _ := os.ReadFile("/proc/stat")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && !strings.HasPrefix(l, "cpu ") {
			n++
		}
	}
	return n
}
