// Package mountopt turns the option strings of an OCI mount ("ro",
// "nosuid", "rbind", "rshared", "size=64m", "rro", "tmpcopyup", "idmap",
// ...) into what the mount system calls take: mount(2) flags, propagation
// changes, a data string for the filesystem, and mount_setattr(2)
// attributes for the recursive variants.
//
// It only parses; it never mounts.
package mountopt

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a parsed option list.
type Options struct {
	// Flags are mount(2) flags to set (MS_RDONLY, MS_BIND, MS_REC, ...).
	Flags uintptr
	// Propagation lists propagation changes in order (MS_SHARED|MS_REC, ...);
	// each needs its own mount(2) call after the mount itself.
	Propagation []uintptr
	// Data is the filesystem-specific option string ("size=65536k,mode=755").
	Data string
	// AttrSet and AttrClr are mount_setattr(2) attributes applied
	// recursively (AT_RECURSIVE) for the "r"-prefixed options such as "rro".
	AttrSet, AttrClr uint64
	// TmpCopyUp asks for the original contents of the target directory to
	// be copied into a freshly mounted tmpfs.
	TmpCopyUp bool
	// IDMap asks for an idmapped mount using the container's user
	// namespace mappings (RecursiveIDMap for "ridmap").
	IDMap, RecursiveIDMap bool
}

// IsBind reports whether the options make a bind mount.
func (o Options) IsBind() bool { return o.Flags&unix.MS_BIND != 0 }

type flagOpt struct {
	clear bool
	flag  uintptr
}

var flags = map[string]flagOpt{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// Propagation returns the mount(2) flags of a propagation name ("rslave",
// "private", ...) and whether it is one.
func Propagation(name string) (uintptr, bool) {
	f, ok := propagation[name]
	return f, ok
}

var propagation = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOpt struct {
	clear bool
	attr  uint64
}

// Recursive options (runtime-spec 1.1), applied with mount_setattr.
// Clearing an atime mode must name MOUNT_ATTR__ATIME, the whole field.
var attrs = map[string]attrOpt{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME},
	"rnorelatime":    {true, unix.MOUNT_ATTR_RELATIME},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME},
	"ratime":         {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// Parse parses an OCI mount option list. Options it does not know are
// passed to the filesystem in Data, as mount(8) does.
func Parse(options []string) Options {
	var o Options
	var data []string
	for _, opt := range options {
		if f, ok := flags[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
			} else {
				o.Flags |= f.flag
			}
			continue
		}
		if p, ok := propagation[opt]; ok {
			o.Propagation = append(o.Propagation, p)
			continue
		}
		if a, ok := attrs[opt]; ok {
			setAttr(&o, a)
			continue
		}
		switch opt {
		case "tmpcopyup":
			o.TmpCopyUp = true
		case "idmap":
			o.IDMap = true
		case "ridmap":
			o.IDMap, o.RecursiveIDMap = true, true
		default:
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}

func setAttr(o *Options, a attrOpt) {
	bits := a.attr
	if isAtime(bits) && !a.clear {
		// An atime mode replaces the previous one: clear the field first.
		o.AttrClr |= unix.MOUNT_ATTR__ATIME
		o.AttrSet &^= unix.MOUNT_ATTR__ATIME
	}
	if a.clear {
		if isAtime(bits) {
			o.AttrSet &^= bits
			return
		}
		o.AttrSet &^= bits
		o.AttrClr |= bits
		return
	}
	o.AttrSet |= bits
	if !isAtime(bits) {
		o.AttrClr &^= bits
	}
}

func isAtime(bits uint64) bool {
	return bits == unix.MOUNT_ATTR_RELATIME || bits == unix.MOUNT_ATTR_NOATIME || bits == unix.MOUNT_ATTR_STRICTATIME
}
