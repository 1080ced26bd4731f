package initproc

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// CloneBind makes the detached copy of src that a bind mount with options
// o attaches: recursive for rbind, with its per-mount and recursive
// attributes set. The init makes it for an ordinary bind; the runtime
// makes it for a user-namespaced container, whose init, root only in its
// own namespace, may not be able to reach src (a source under a 0700
// directory of the host), and hands it over as a prepared mount.
func CloneBind(src string, o mountopt.Options) (*os.File, error) {
	tree, err := cloneTree(unix.AT_FDCWD, src, o.Flags&unix.MS_REC != 0)
	if err != nil {
		return nil, err
	}
	var clr uint64
	if atimeChange(o.Flags) {
		clr = unix.MOUNT_ATTR__ATIME
	}
	if err := setAttr(tree, mountAttrs(o.Flags), clr, false); err != nil {
		tree.Close()
		return nil, err
	}
	if err := setAttr(tree, o.AttrSet, o.AttrClr, true); err != nil {
		tree.Close()
		return nil, err
	}
	return tree, nil
}
