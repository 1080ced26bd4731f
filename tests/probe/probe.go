// Package probe reports what a process sees from inside a container: its
// credentials, capabilities, security state, namespaces, mounts, cgroups,
// limits and open files. The static program in ./probe runs it inside test
// containers and prints the Report as JSON; tests decode it with this
// package. It only reads: it never changes the process it runs in.
package probe

// Report is what the probe saw. Fields it could not read are left empty
// and the reason recorded in Errors, so one missing file never hides the
// rest.
type Report struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`

	PID  int `json:"pid"`
	PPID int `json:"ppid"`
	PGID int `json:"pgid"`
	SID  int `json:"sid"`

	// Real, effective, saved and filesystem ids, as /proc/self/status
	// lists them.
	UIDs   [4]int `json:"uids"`
	GIDs   [4]int `json:"gids"`
	Groups []int  `json:"groups"` // supplementary groups
	Umask  string `json:"umask"`  // octal, e.g. "0022"

	Caps         Caps `json:"caps"`
	NoNewPrivs   bool `json:"no_new_privs"`
	Seccomp      int  `json:"seccomp"` // 0 disabled, 1 strict, 2 filter
	SeccompCount int  `json:"seccomp_filters"`

	Hostname   string `json:"hostname"`
	Domainname string `json:"domainname"`

	// Namespaces maps a /proc/self/ns entry name to its link, e.g.
	// "mnt" -> "mnt:[4026531841]".
	Namespaces map[string]string `json:"namespaces"`
	Cgroups    []Cgroup          `json:"cgroups"`
	Mounts     []Mount           `json:"mounts"`

	Rlimits     map[string]Rlimit `json:"rlimits"` // keyed RLIMIT_NOFILE ...
	OOMScoreAdj int               `json:"oom_score_adj"`
	Personality uint32            `json:"personality"`
	Scheduler   Scheduler         `json:"scheduler"`
	IOPriority  int               `json:"io_priority"` // raw ioprio_get value

	// FDs maps each open descriptor (other than the one used to list them)
	// to what it refers to.
	FDs   map[int]string `json:"fds"`
	Stdio Stdio          `json:"stdio"`

	Errors map[string]string `json:"errors,omitempty"`
}

// Caps holds the five capability sets, each as the names of the
// capabilities in it (unknown bits as "CAP_<n>").
type Caps struct {
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Effective   []string `json:"effective"`
	Bounding    []string `json:"bounding"`
	Ambient     []string `json:"ambient"`
}

// Cgroup is one line of /proc/self/cgroup.
type Cgroup struct {
	Hierarchy   int    `json:"hierarchy"`
	Controllers string `json:"controllers"`
	Path        string `json:"path"`
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID         int      `json:"id"`
	Parent     int      `json:"parent"`
	Dev        string   `json:"dev"` // major:minor
	Root       string   `json:"root"`
	Point      string   `json:"point"`
	Options    []string `json:"options"`  // per-mount options
	Optional   []string `json:"optional"` // shared:N, master:N ...
	FSType     string   `json:"fstype"`
	Source     string   `json:"source"`
	SuperOpts  []string `json:"super_options"`
	Propagated string   `json:"propagation"` // shared, slave, private (derived from Optional)
}

// Rlimit is a soft and hard resource limit; ^uint64(0) is unlimited.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// Scheduler is the process's scheduling policy as sched_getattr reports it.
type Scheduler struct {
	Policy   uint32 `json:"policy"`
	Nice     int32  `json:"nice"`
	Priority uint32 `json:"priority"`
}

// Stdio says what the three standard descriptors are.
type Stdio struct {
	StdinTTY  bool `json:"stdin_tty"`
	StdoutTTY bool `json:"stdout_tty"`
	StderrTTY bool `json:"stderr_tty"`
}

// Mount returns the mount at point (the last one, which is the visible
// one when mounts are stacked) and whether there is one.
func (r *Report) Mount(point string) (Mount, bool) {
	for i := len(r.Mounts) - 1; i >= 0; i-- {
		if r.Mounts[i].Point == point {
			return r.Mounts[i], true
		}
	}
	return Mount{}, false
}

// HasOption reports whether the mount has the per-mount option opt.
func (m Mount) HasOption(opt string) bool {
	for _, o := range m.Options {
		if o == opt {
			return true
		}
	}
	return false
}
