package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/network"
)

// dnsServerPath finds pelagos-dns, the embedded DNS server of user-defined
// networks: $PELAGOS_DNS, beside our own binary, or on $PATH. Without it
// containers on user-defined networks use the host's resolvers.
func dnsServerPath() string {
	if p := os.Getenv("PELAGOS_DNS"); p != "" {
		return p
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pelagos-dns")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("pelagos-dns")
	return p
}

func addNetworkCommands(root *cobra.Command, g *globals) {
	n := &cobra.Command{Use: "network", Short: "Manage networks"}
	n.AddCommand(newNetworkCreateCmd(g), newNetworkLsCmd(g), newNetworkInspectCmd(g), newNetworkRmCmd(g),
		newNetworkPruneCmd(g), newNetworkConnectCmd(g), newNetworkDisconnectCmd(g))
	root.AddCommand(n)
}

func newNetworkCreateCmd(g *globals) *cobra.Command {
	var o network.CreateOptions
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if e.Rootless {
				return errors.New("rootless mode does not support bridge networks: they need root (containers use --network pasta)")
			}
			o.Name = args[0]
			var err error
			if o.Labels, err = keyValues(labels, "label"); err != nil {
				return err
			}
			if o.Options, err = keyValues(opts, "opt"); err != nil {
				return err
			}
			n, err := e.Net.Create(ctx, o)
			if err != nil {
				return err
			}
			e.NetworkEvent("create", n)
			fmt.Fprintln(g.out, n.ID)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "bridge", "driver to manage the network (bridge)")
	stringsVar(f, &o.Subnets, "subnet", "subnet in CIDR format (one IPv4, one IPv6)")
	stringsVar(f, &o.Gateways, "gateway", "IPv4 or IPv6 gateway for the subnet")
	stringsVar(f, &o.IPRanges, "ip-range", "allocate container addresses from a sub-range")
	f.BoolVar(&o.Internal, "internal", false, "restrict external access to the network")
	f.BoolVar(&o.IPv6, "ipv6", false, "enable IPv6 (a unique local /64 unless --subnet gives one)")
	stringsVar(f, &labels, "label", "set metadata on a network")
	stringsVarP(f, &opts, "opt", "o", "set driver specific options (com.docker.network.driver.mtu, com.docker.network.bridge.name)")
	return cmd
}

// keyValues parses repeated KEY=VALUE flags (a bare KEY has an empty value).
func keyValues(list []string, flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid --%s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

var networkHeaders = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
	"IPv4": "IPV4", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

func newNetworkLsCmd(g *globals) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			nets, err := e.Net.List(ctx)
			if err != nil {
				return err
			}
			match, err := networkFilter(filters)
			if err != nil {
				return err
			}
			sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
			var rows []map[string]string
			for _, n := range nets {
				if !match(n) {
					continue
				}
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				if quiet {
					fmt.Fprintln(g.out, id)
					continue
				}
				rows = append(rows, map[string]string{
					"ID": id, "Name": n.Name, "Driver": n.Driver, "Scope": n.Scope,
					"IPv6": fmt.Sprint(n.EnableIPv6), "IPv4": fmt.Sprint(n.EnableIPv4), "Internal": fmt.Sprint(n.Internal),
					"Labels": joinLabels(n.Labels), "CreatedAt": n.Created.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST"),
				})
			}
			if quiet {
				return nil
			}
			return table(g.out, format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", networkHeaders, rows)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display network IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	stringsVarP(f, &filters, "filter", "f", "provide filter values (name=, id=, label=, driver=, type=custom|builtin)")
	return cmd
}

func joinLabels(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func networkFilter(filters []string) (func(*network.Network) bool, error) {
	var preds []func(*network.Network) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errors.New("bad format of filter (expected name=value)")
		}
		switch k {
		case "name":
			preds = append(preds, func(n *network.Network) bool { return strings.Contains(n.Name, v) })
		case "id":
			preds = append(preds, func(n *network.Network) bool { return strings.HasPrefix(n.ID, v) })
		case "driver":
			preds = append(preds, func(n *network.Network) bool { return n.Driver == v })
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(n *network.Network) bool {
				got, ok := n.Labels[lk]
				return ok && (!hasV || got == lv)
			})
		case "type":
			if v != "custom" && v != "builtin" {
				return nil, fmt.Errorf("invalid filter: 'type'='%s'", v)
			}
			preds = append(preds, func(n *network.Network) bool { return n.IsDefault() == (v == "builtin") })
		default:
			return nil, dockerError(fmt.Sprintf("Invalid filter '%s'", k))
		}
	}
	return func(n *network.Network) bool {
		for _, p := range preds {
			if !p(n) {
				return false
			}
		}
		return true
	}, nil
}

func newNetworkInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return inspectEach(g, format, args, func(ref string) (any, error) { return e.Net.Inspect(ctx, ref) })
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template")
	return cmd
}

func newNetworkRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			var errs []error
			for _, ref := range args {
				n, _ := e.Net.Get(ctx, ref)
				err := e.Net.Remove(ctx, ref)
				if err == nil && n != nil {
					e.NetworkEvent("destroy", n)
				}
				if force && errors.Is(err, network.ErrNotFound) {
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.out, ref)
			}
			return errors.Join(errs...)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not error if the network does not exist")
	return cmd
}

func newNetworkPruneCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if !force && !confirm(g, "WARNING! This will remove all custom networks not used by at least one container.") {
				return nil
			}
			names, err := pruneNetworks(ctx, e)
			if len(names) > 0 {
				fmt.Fprintln(g.out, "Deleted Networks:")
				for _, n := range names {
					fmt.Fprintln(g.out, n)
				}
			}
			return err
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// pruneNetworks reclaims what dead containers left, then removes the
// user-defined networks that no container uses.
func pruneNetworks(ctx context.Context, e *engine.Engine) ([]string, error) {
	if _, err := e.List(ctx); err != nil { // reconciles containers whose monitor died
		return nil, err
	}
	if err := e.SweepNetwork(ctx); err != nil {
		return nil, err
	}
	before, err := e.Net.List(ctx)
	if err != nil {
		return nil, err
	}
	names, err := e.Net.Prune(ctx)
	for _, n := range before {
		if slices.Contains(names, n.Name) {
			e.NetworkEvent("destroy", n)
		}
	}
	if err == nil {
		e.PruneEvent("network", 0)
	}
	return names, err
}

func confirm(g *globals, warning string) bool {
	fmt.Fprint(g.out, warning+"\nAre you sure you want to continue? [y/N] ")
	var answer string
	fmt.Fscanln(g.in, &answer)
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes"
}

func newNetworkConnectCmd(g *globals) *cobra.Command {
	var o engine.NetworkOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return e.Connect(ctx, args[1], args[0], o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.IPv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.IPv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	stringsVar(f, &o.Aliases, "alias", "add network-scoped alias for the container")
	f.StringVar(&o.MAC, "mac-address", "", "container MAC address")
	return cmd
}

func newNetworkDisconnectCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return e.Disconnect(ctx, args[1], args[0])
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the container to disconnect from a network")
	return cmd
}

// portsColumn is docker ps's PORTS: "0.0.0.0:8080->80/tcp, :::8080->80/tcp",
// and exposed ports without a binding as "80/tcp".
func portsColumn(c *engine.Container) string {
	// Without a network of its own a container publishes nothing, and
	// docker lists no ports for it, not even exposed ones.
	switch mode := c.HostConfig.NetworkMode; {
	case mode == "none", mode == "host", strings.HasPrefix(mode, "container:"):
		return ""
	}
	ports := c.NetworkSettings.Ports
	if ports == nil {
		ports = map[string][]network.PortBinding{}
		for p := range c.Config.ExposedPorts {
			ports[p] = nil
		}
	}
	keys := make([]string, 0, len(ports))
	for k := range ports {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return portLess(keys[i], keys[j]) })
	var out []string
	for _, k := range keys {
		if len(ports[k]) == 0 {
			out = append(out, k)
			continue
		}
		for _, b := range ports[k] {
			host := b.HostIP
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
				if b.HostIP == "::" {
					host = "::"
				}
			}
			out = append(out, fmt.Sprintf("%s:%s->%s", host, b.HostPort, k))
		}
	}
	return strings.Join(out, ", ")
}

func portLess(a, b string) bool {
	pa, proa, _ := network.ParsePortKey(a)
	pb, prob, _ := network.ParsePortKey(b)
	if pa != pb {
		return pa < pb
	}
	return proa < prob
}

// networksColumn is docker ps's NETWORKS.
func networksColumn(c *engine.Container) string {
	if len(c.NetworkSettings.Order) == 0 {
		return c.HostConfig.NetworkMode
	}
	return strings.Join(c.NetworkSettings.Order, ",")
}
