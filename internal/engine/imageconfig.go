package engine

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/jsondec"
)

// unmarshalRunConfig decodes, from an image's config blob, the fields a
// create uses (the platform, and what applyImage takes from the config),
// as json.Unmarshal stores them, by hand: every create reads an image
// config, and encoding/json's first decode of v1.ConfigFile was ~0.8% of
// a run --rm. The other fields (history, rootfs, created...) are skipped
// unchecked: a config that is wrong only there is no error here; commit,
// which writes the whole config back, decodes it with encoding/json.
func unmarshalRunConfig(b []byte, cf *v1.ConfigFile) error {
	d, err := jsondec.NewValue(b)
	if err != nil {
		return err
	}
	return d.Fields("ConfigFile", func(k string) (bool, error) {
		switch k {
		case "architecture":
			return true, jsondec.String(d, &cf.Architecture)
		case "os":
			return true, jsondec.String(d, &cf.OS)
		case "variant":
			return true, jsondec.String(d, &cf.Variant)
		case "config":
			return true, decodeImageRunConfig(d, &cf.Config)
		}
		return false, nil
	})
}

func decodeImageRunConfig(d *jsondec.Decoder, c *v1.Config) error {
	return d.Fields("Config", func(k string) (bool, error) {
		switch k {
		case "cmd":
			return true, jsondec.Slice(d, &c.Cmd, jsondec.String)
		case "healthcheck":
			return true, jsondec.Ptr(d, &c.Healthcheck, decodeImageHealthcheck)
		case "entrypoint":
			return true, jsondec.Slice(d, &c.Entrypoint, jsondec.String)
		case "env":
			return true, jsondec.Slice(d, &c.Env, jsondec.String)
		case "labels":
			return true, jsondec.Map(d, &c.Labels, jsondec.String)
		case "user":
			return true, jsondec.String(d, &c.User)
		case "volumes":
			return true, jsondec.Map(d, &c.Volumes, decodeEmpty)
		case "workingdir":
			return true, jsondec.String(d, &c.WorkingDir)
		case "exposedports":
			return true, jsondec.Map(d, &c.ExposedPorts, decodeEmpty)
		case "stopsignal":
			return true, jsondec.String(d, &c.StopSignal)
		}
		return false, nil
	})
}

func decodeImageHealthcheck(d *jsondec.Decoder, h *v1.HealthConfig) error {
	return d.Fields("HealthConfig", func(k string) (bool, error) {
		switch k {
		case "test":
			return true, jsondec.Slice(d, &h.Test, jsondec.String)
		case "interval":
			return true, jsondec.Int(d, &h.Interval)
		case "timeout":
			return true, jsondec.Int(d, &h.Timeout)
		case "startperiod":
			return true, jsondec.Int(d, &h.StartPeriod)
		case "retries":
			return true, jsondec.Int(d, &h.Retries)
		}
		return false, nil
	})
}
