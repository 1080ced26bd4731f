package network

import (
	"encoding/json"
	"net/netip"
	"time"
)

// Network is a network's definition, in the shape and JSON names of
// docker network inspect (Containers is filled in when inspected).
type Network struct {
	Name       string                      `json:"Name"`
	ID         string                      `json:"Id"`
	Created    time.Time                   `json:"Created"`
	Scope      string                      `json:"Scope"`
	Driver     string                      `json:"Driver"`
	EnableIPv4 bool                        `json:"EnableIPv4"`
	EnableIPv6 bool                        `json:"EnableIPv6"`
	IPAM       IPAM                        `json:"IPAM"`
	Internal   bool                        `json:"Internal"`
	Attachable bool                        `json:"Attachable"`
	Ingress    bool                        `json:"Ingress"`
	ConfigFrom ConfigFrom                  `json:"ConfigFrom"`
	ConfigOnly bool                        `json:"ConfigOnly"`
	Containers map[string]NetworkContainer `json:"Containers"`
	Options    map[string]string           `json:"Options"`
	Labels     map[string]string           `json:"Labels"`
}

// IPAM is a network's address configuration.
type IPAM struct {
	Driver  string            `json:"Driver"`
	Options map[string]string `json:"Options"`
	Config  []IPAMConfig      `json:"Config"`
}

// MarshalJSON writes no subnets as [] (host, none), as docker's inspect
// does, records saved with none included.
func (i IPAM) MarshalJSON() ([]byte, error) {
	type plain IPAM // without this method
	if i.Config == nil {
		i.Config = []IPAMConfig{}
	}
	return json.Marshal(plain(i))
}

// IPAMConfig is one subnet of a network.
type IPAMConfig struct {
	Subnet  string `json:"Subnet"`
	IPRange string `json:"IPRange,omitempty"`
	Gateway string `json:"Gateway"`
}

// ConfigFrom is docker's (unused) config-only network reference.
type ConfigFrom struct {
	Network string `json:"Network"`
}

// NetworkContainer is one endpoint as docker network inspect lists it.
type NetworkContainer struct {
	Name        string `json:"Name"`
	EndpointID  string `json:"EndpointID"`
	MacAddress  string `json:"MacAddress"`
	IPv4Address string `json:"IPv4Address"`
	IPv6Address string `json:"IPv6Address"`
}

// Options docker defines for bridge networks.
const (
	OptBridgeName = "com.docker.network.bridge.name"
	OptMTU        = "com.docker.network.driver.mtu"
)

// DefaultNetwork is the network containers join unless told otherwise;
// its bridge is DefaultBridge.
const (
	DefaultNetwork = "bridge"
	DefaultBridge  = "pelagos0"
)

// IsDefault reports whether n is the default bridge network (no DNS,
// docker's legacy semantics).
func (n *Network) IsDefault() bool { return n.Name == DefaultNetwork }

// Bridge is the name of n's bridge device.
func (n *Network) Bridge() string { return n.Options[OptBridgeName] }

// subnets returns n's IPv4 and IPv6 configurations (either may be nil).
func (n *Network) subnets() (v4, v6 *subnet) {
	for _, c := range n.IPAM.Config {
		s, err := parseSubnet(c)
		if err != nil {
			continue // validated at create
		}
		if s.prefix.Addr().Is4() {
			v4 = s
		} else {
			v6 = s
		}
	}
	return v4, v6
}

// subnet is an IPAMConfig parsed.
type subnet struct {
	prefix  netip.Prefix
	gateway netip.Addr
	pool    netip.Prefix // where container addresses come from
}

// Lease is a container's network sandbox: what Setup made for it, the
// IPAM record of its addresses, and the list Teardown undoes.
type Lease struct {
	Container string `json:"container"`
	Name      string `json:"name"`
	// NetNS is the persistent network namespace file (empty when the
	// container does not have one of ours).
	NetNS     string     `json:"netns,omitempty"`
	Endpoints []Endpoint `json:"endpoints"`
	Ports     []Port     `json:"ports,omitempty"`
	// DNS are the container's own upstream name servers (--dns), which
	// the embedded DNS server forwards its queries to.
	DNS []string `json:"dns,omitempty"`
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	NetworkID   string       `json:"network"`
	NetworkName string       `json:"networkName"`
	ID          string       `json:"id"`
	IfName      string       `json:"ifname"`   // inside the container: eth0, eth1 ...
	HostVeth    string       `json:"hostVeth"` // the host's end, on the bridge
	MAC         string       `json:"mac"`
	IPv4        netip.Prefix `json:"ipv4,omitzero"`
	IPv6        netip.Prefix `json:"ipv6,omitzero"`
	Gateway4    netip.Addr   `json:"gateway4,omitzero"`
	Gateway6    netip.Addr   `json:"gateway6,omitzero"`
	// DNSNames are the names the network's DNS server answers with this
	// endpoint's addresses: the container's name, its short ID, aliases.
	DNSNames []string `json:"dnsNames,omitempty"`
}

// Port is one published port, resolved: HostPort is never zero.
type Port struct {
	Proto         string     `json:"proto"` // tcp, udp or sctp
	HostIP        netip.Addr `json:"hostIP,omitzero"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	// Container is the address traffic goes to (its first network's).
	Container netip.Addr `json:"container"`
	Bridge    string     `json:"bridge"`
}
