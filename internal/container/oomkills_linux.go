package container

// OOMKills returns how many of the container's processes the kernel's
// OOM killer killed (read before its cgroup is removed): Stats'
// Memory.EventCount.OOMKill, at the cost of one file read instead of
// every counter.
func (c *Container) OOMKills() (uint64, error) {
	cg, err := c.cgroup()
	if err != nil {
		return 0, err
	}
	return cg.OOMKills()
}
