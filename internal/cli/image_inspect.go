package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// inspectImage is Docker's image inspect JSON shape.
type inspectImage struct {
	ID            string      `json:"Id"`
	RepoTags      []string    `json:"RepoTags"`
	RepoDigests   []string    `json:"RepoDigests"`
	Parent        string      `json:"Parent"`
	Comment       string      `json:"Comment"`
	Created       string      `json:"Created"`
	DockerVersion string      `json:"DockerVersion"`
	Author        string      `json:"Author"`
	Config        imageConfig `json:"Config"`
	Architecture  string      `json:"Architecture"`
	Variant       string      `json:"Variant,omitempty"`
	Os            string      `json:"Os"`
	Size          int64       `json:"Size"`
	// VirtualSize is Size (docker's API dropped it in 1.44; 20.10's has it).
	VirtualSize int64          `json:"VirtualSize"`
	GraphDriver graphDriver    `json:"GraphDriver"`
	RootFS      inspectRootFS  `json:"RootFS"`
	Metadata    map[string]any `json:"Metadata"`
}

// imageConfig is an image's config in docker's shape (a container
// Config): every key, empty ones included, where the OCI config omits
// them.
type imageConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *v1.HealthConfig    `json:"Healthcheck,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

func toImageConfig(c v1.Config) imageConfig {
	return imageConfig{
		Hostname: c.Hostname, Domainname: c.Domainname, User: c.User,
		AttachStdin: c.AttachStdin, AttachStdout: c.AttachStdout, AttachStderr: c.AttachStderr,
		ExposedPorts: c.ExposedPorts, Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce,
		Env: c.Env, Cmd: c.Cmd, Healthcheck: c.Healthcheck, ArgsEscaped: c.ArgsEscaped, Image: c.Image,
		Volumes: c.Volumes, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, OnBuild: c.OnBuild,
		Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell,
	}
}

type graphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

type inspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

func newInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect IMAGE [IMAGE...]",
		Short: "Show detailed information on images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			// As docker: every image found is printed, then what was not.
			out := []inspectImage{}
			var errs []error
			for _, a := range args {
				img, err := lookupImage(st, a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				ii, err := inspect(st, img)
				if err != nil {
					return err
				}
				out = append(out, ii)
			}
			if err := printInspect(g, format, out); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template")
	return cmd
}

func printInspect(g *globals, format string, out []inspectImage) error {
	if format == "" {
		b, err := json.MarshalIndent(out, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(g.out, string(b))
		return nil
	}
	tmpl, err := template.New("f").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(format)
	if err != nil {
		return fmt.Errorf("invalid --format template: %w", err)
	}
	for _, ii := range out {
		// Templates see the JSON form, as docker's do: {{.Config.Env}}.
		b, _ := json.Marshal(ii)
		generic := templateData(b)
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, generic); err != nil {
			return fmt.Errorf("format: %w", err)
		}
		fmt.Fprintln(g.out, buf.String())
	}
	return nil
}

// lookupImage is st.Lookup with docker's message for an image that is
// not there.
func lookupImage(st *store.Store, name string) (store.Image, error) {
	img, err := st.Lookup(name)
	if errors.Is(err, store.ErrNotFound) {
		return img, dockerError("No such image: " + name)
	}
	return img, err
}

func configOf(st *store.Store, img store.Image) (*v1.ConfigFile, error) {
	b, err := st.ReadBlob(img.ID)
	if err != nil {
		return nil, err
	}
	return v1.ParseConfigFile(bytes.NewReader(b))
}

func inspect(st *store.Store, img store.Image) (inspectImage, error) {
	cf, err := configOf(st, img)
	if err != nil {
		return inspectImage{}, err
	}
	ii := inspectImage{
		ID: img.ID.String(), RepoTags: familiar(img.RepoTags), RepoDigests: familiar(img.RepoDigests),
		Comment: historyComment(cf), Created: cf.Created.UTC().Format(time.RFC3339Nano),
		Author: cf.Author, Config: toImageConfig(cf.Config),
		Architecture: cf.Architecture, Variant: cf.Variant, Os: cf.OS, Size: img.Size, VirtualSize: img.Size,
		GraphDriver: graphDriver{Name: "overlay", Data: layerDirs(st, img)},
		RootFS:      inspectRootFS{Type: "layers"},
		Metadata:    map[string]any{"LastTagTime": img.Added.Format(time.RFC3339Nano)},
	}
	for _, d := range cf.RootFS.DiffIDs {
		ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
	}
	return ii, nil
}

func historyComment(cf *v1.ConfigFile) string {
	if n := len(cf.History); n > 0 {
		return cf.History[n-1].Comment
	}
	return ""
}

// layerDirs names the image's layer directories as docker's overlay2
// driver does: the top layer as UpperDir, the rest as LowerDir, top first.
func layerDirs(st *store.Store, img store.Image) map[string]string {
	if len(img.Layers) == 0 {
		return map[string]string{}
	}
	var lower []string
	for i := len(img.Layers) - 2; i >= 0; i-- {
		lower = append(lower, st.LayerDir(img.Layers[i]))
	}
	m := map[string]string{"UpperDir": st.LayerDir(img.Layers[len(img.Layers)-1])}
	if len(lower) > 0 {
		m["LowerDir"] = strings.Join(lower, ":")
	}
	return m
}

// familiar rewrites fully qualified names as Docker prints them.
func familiar(names []string) []string {
	out := []string{}
	for _, n := range names {
		if r, err := reference.Parse(n); err == nil {
			n = r.Familiar()
		}
		out = append(out, n)
	}
	return out
}
