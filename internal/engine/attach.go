package engine

import "path/filepath"

// AttachPath is the monitor's attach socket (see package monitor).
func (c *Container) AttachPath() string { return filepath.Join(c.dir, "attach.sock") }

// MonitorAlive reports whether the monitor this record names still runs.
func (c *Container) MonitorAlive() bool { return c.Monitor > 0 && alive(c.Monitor, c.MonitorStart) }
