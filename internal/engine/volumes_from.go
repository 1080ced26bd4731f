package engine

import (
	"context"
	"strings"
)

// parseVolumesFrom splits a --volumes-from value, CONTAINER[:MODE], as
// docker's daemon does: MODE is rw (the default), ro, or either with
// the SELinux z/Z labels; propagation and copy modes are refused (the
// mounts keep the source's).
func parseVolumesFrom(spec string) (ref string, readOnly bool, err error) {
	if spec == "" {
		return "", false, invalid("volumes-from specification cannot be an empty string")
	}
	ref, mode, _ := strings.Cut(spec, ":")
	if ref == "" {
		return "", false, invalid("invalid volumes-from specification: %s", spec)
	}
	if mode == "" {
		return ref, false, nil
	}
	rw, ro, labels := 0, 0, 0
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "rw":
			rw++
		case "ro":
			ro++
		case "z", "Z":
			labels++
		default:
			return "", false, invalid("invalid mode for volumes-from: %s", mode)
		}
	}
	if rw+ro > 1 || labels > 1 {
		return "", false, invalid("invalid mode for volumes-from: %s", mode)
	}
	return ref, ro == 1, nil
}

// volumesFrom collects the mounts of the --volumes-from containers, in
// the order given (a later source's mount wins a destination): each
// volume as a mount point sharing the source's volume, never copied up
// again, and each bind mount as a bind; read-only where the source's is
// or the mode says ro (docker's RW = source RW && mode rw). tmpfs mounts
// are the source's own, as docker has them.
func (e *Engine) volumesFrom(ctx context.Context, specs []string) ([]MountPoint, []Mount, error) {
	type entry struct {
		mp   *MountPoint
		bind *Mount
	}
	var order []string
	byDest := map[string]entry{}
	put := func(dest string, en entry) {
		if _, ok := byDest[dest]; !ok {
			order = append(order, dest)
		}
		byDest[dest] = en
	}
	for _, s := range specs {
		ref, ro, err := parseVolumesFrom(s)
		if err != nil {
			return nil, nil, err
		}
		src, err := e.Get(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		for _, mp := range src.MountPoints {
			mp.RW = mp.RW && !ro
			mp.Mode, mp.CopyData, mp.shared = "", false, true
			put(mp.Destination, entry{mp: &mp})
		}
		for _, m := range src.HostConfig.Mounts {
			if m.Type == "bind" {
				m.ReadOnly = m.ReadOnly || ro
				put(m.Target, entry{bind: &m})
			}
		}
	}
	var mps []MountPoint
	var binds []Mount
	for _, d := range order {
		if en := byDest[d]; en.mp != nil {
			mps = append(mps, *en.mp)
		} else {
			binds = append(binds, *en.bind)
		}
	}
	return mps, binds, nil
}
