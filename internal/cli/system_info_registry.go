package cli

import (
	"net/netip"
	"slices"

	"github.com/pelagos-go/pelagos/internal/image/registryconfig"
)

// registryServiceConfig is docker info's RegistryConfig, filled from
// pelagos's registries configuration.
type registryServiceConfig struct {
	AllowNondistributableArtifactsCIDRs     []string
	AllowNondistributableArtifactsHostnames []string
	InsecureRegistryCIDRs                   []string
	IndexConfigs                            map[string]registryIndexInfo
	Mirrors                                 []string
}

// registryIndexInfo is one registry: its mirrors, whether it needs
// verified TLS, and whether it is Docker Hub.
type registryIndexInfo struct {
	Name     string
	Mirrors  []string
	Secure   bool
	Official bool
}

// registryInfo describes rc as docker's daemon describes its own
// configuration: loopback is always insecure, an insecure entry is a
// CIDR or a registry, and Docker Hub's mirrors are also listed alone.
func registryInfo(rc registryconfig.Config) registryServiceConfig {
	out := registryServiceConfig{
		AllowNondistributableArtifactsCIDRs: []string{}, AllowNondistributableArtifactsHostnames: []string{},
		InsecureRegistryCIDRs: []string{"127.0.0.0/8"},
		IndexConfigs:          map[string]registryIndexInfo{},
		Mirrors:               nonNil(slices.Clone(rc.Mirrors["docker.io"])),
	}
	out.IndexConfigs["docker.io"] = registryIndexInfo{Name: "docker.io", Mirrors: out.Mirrors, Secure: true, Official: true}
	for _, in := range rc.Insecure {
		if p, err := netip.ParsePrefix(in); err == nil {
			out.InsecureRegistryCIDRs = append(out.InsecureRegistryCIDRs, p.String())
			continue
		}
		out.IndexConfigs[in] = registryIndexInfo{Name: in, Mirrors: nonNil(rc.Mirrors[in])}
	}
	for domain, mirrors := range rc.Mirrors {
		if _, ok := out.IndexConfigs[domain]; !ok {
			out.IndexConfigs[domain] = registryIndexInfo{Name: domain, Mirrors: mirrors, Secure: !rc.IsInsecure(domain)}
		}
	}
	return out
}
