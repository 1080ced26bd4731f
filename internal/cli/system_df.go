package cli

import (
	"context"
	"fmt"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Docker's `system df -v` tables, in its CLI's words.
const (
	dfImagesTable     = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
	dfContainersTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
	dfVolumesTable    = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
	dfCacheTable      = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
)

var dfCacheHeaders = map[string]string{
	"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
	"LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED",
}

// dfVerbose prints system df -v: every image, container and volume with
// its space, then the build cache, which pelagos does not have (an empty
// table, as docker prints when there is none).
func dfVerbose(ctx context.Context, g *globals, e *engine.Engine, st *store.Store) error {
	cs, err := e.List(ctx)
	if err != nil {
		return err
	}
	images, err := dfImageRows(st, cs)
	if err != nil {
		return err
	}
	fmt.Fprint(g.out, "Images space usage:\n\n")
	if err := table(g.out, "", dfImagesTable, imageHeaders, images); err != nil {
		return err
	}
	var containers []map[string]string
	for _, c := range cs {
		// docker's df lists the writable layer alone.
		row := psRow(e, c, psOptions{}, false)
		row["Size"] = decimalSize(uint64(containerRW(st, c)))
		containers = append(containers, row)
	}
	fmt.Fprint(g.out, "\nContainers space usage:\n\n")
	if err := table(g.out, "", dfContainersTable, psHeaders, containers); err != nil {
		return err
	}
	volumes, err := dfVolumeRows(e)
	if err != nil {
		return err
	}
	fmt.Fprint(g.out, "\nLocal Volumes space usage:\n\n")
	if err := table(g.out, "", dfVolumesTable, volumeHeaders, volumes); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "\nBuild cache usage: %s\n\n", progress.HumanSize(0))
	return table(g.out, "", dfCacheTable, dfCacheHeaders, nil)
}

// dfImageRows are image rows with what only df fills: the bytes shared
// with other images, the image's own, and how many containers use it.
func dfImageRows(st *store.Store, cs []*engine.Container) ([]map[string]string, error) {
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	users := map[string]int{}
	for _, c := range cs {
		users[c.Image]++
	}
	layerImages := map[string]int{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			layerImages[l.Hex]++
		}
	}
	var rows []map[string]string
	for _, img := range imgs {
		var shared int64
		for _, l := range img.Layers {
			if layerImages[l.Hex] > 1 {
				if layer, err := st.Layer(l); err == nil {
					shared += layer.Size
				}
			}
		}
		r, err := imageRows(st, []store.Image{img}, nil, false)
		if err != nil {
			return nil, err
		}
		for _, row := range r {
			row["Size"] = progress.HumanSize(img.Size) // four digits here, as docker's df
			row["SharedSize"] = progress.HumanSize(shared)
			row["UniqueSize"] = progress.HumanSize(img.Size - shared)
			row["Containers"] = fmt.Sprint(users[img.ID.String()])
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// dfVolumeRows are volume rows with their users and sizes.
func dfVolumeRows(e *engine.Engine) ([]map[string]string, error) {
	vols, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	users, err := e.VolumeUsers()
	if err != nil {
		return nil, err
	}
	var rows []map[string]string
	for _, v := range vols {
		row := volumeRow(v, len(users[v.Name]))
		row["Links"] = fmt.Sprint(len(users[v.Name]))
		row["Size"] = progress.HumanSize(engine.VolumeSize(v))
		rows = append(rows, row)
	}
	return rows, nil
}
