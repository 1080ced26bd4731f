package engine

import (
	"context"
	"path/filepath"

	"github.com/pelagos-go/pelagos/internal/atomicfile"
)

// etcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory and returns where each goes.
func (e *Engine) etcFiles(ctx context.Context, c *Container, hostname string) (map[string]string, error) {
	hosts, resolv, err := e.etcNetwork(ctx, c, hostname)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"/etc/hostname":    []byte(hostname + "\n"),
		"/etc/hosts":       hosts,
		"/etc/resolv.conf": resolv,
	}
	out := map[string]string{}
	for dst, b := range files {
		p := filepath.Join(c.dir, filepath.Base(dst))
		if err := atomicfile.Replace(p, b); err != nil { // made again at every start
			return nil, err
		}
		out[dst] = p
	}
	return out, nil
}
