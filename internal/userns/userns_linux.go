// Package userns tells whether this process runs in a user namespace
// other than the host's, for the code that must then act differently:
// overlayfs there keeps its metadata in user.overlay.* extended
// attributes (the userxattr mount option), since trusted.* ones need
// CAP_SYS_ADMIN in the host's namespace. It must stay free of
// dependencies: the image packages import it.
package userns

import (
	"os"
	"strings"
	"sync"
)

// Inside reports whether this process is in a non-initial user namespace:
// the initial one maps every id to itself (uid_map "0 0 4294967295").
var Inside = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295"
})
