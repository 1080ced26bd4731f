package engine

import "path/filepath"

// AttachPath is the monitor's attach socket (see package monitor).
func (c *Container) AttachPath() string { return filepath.Join(c.dir, "attach.sock") }
