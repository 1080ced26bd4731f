package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is our nftables table (family inet). Every rule pelagos needs
// is in it, and it is rebuilt whole, in one atomic transaction, from the
// network definitions and leases whenever they change: no incremental
// edit can drift from the state files, and a crash between two edits
// leaves nothing that the next rebuild does not correct. No other table
// is read or written.
//
//	chain guard        filter, prerouting, priority raw:
//	                   iifname BRIDGE ip daddr 127.0.0.0/8 drop
//	                   (route_localnet on a bridge must not let
//	                   containers reach the host's loopback services)
//	chain prerouting   nat, prerouting, dstnat: fib daddr type local
//	                   jump dnat-ext
//	chain output       nat, output, dstnat: fib daddr type local
//	                   jump dnat-local
//	chain dnat-ext     published ports, not those bound to loopback
//	chain dnat-local   published ports, loopback-bound ones included
//	chain postrouting  nat, postrouting, srcnat: masquerade of
//	                   loopback-sourced traffic into a bridge (host to
//	                   127.0.0.1:PORT), of hairpin traffic (a container
//	                   reaching a published port of its own bridge:
//	                   ip saddr SUBNET ip daddr SUBNET ct status dnat), and
//	                   of everything leaving a non-internal network
//	chain forward      filter, forward: published ports accepted, then
//	                   no traffic between two of our bridges, none in or
//	                   out of an internal network
const TableName = "pelagos"

// applyRules replaces our table with the rules nets and the leases need.
// The caller holds the lock.
func (m *Manager) applyRules(nets []*Network) error {
	leases, err := m.loadLeases()
	if err != nil {
		return err
	}
	return applyTable(nets, leasePorts(leases))
}

func leasePorts(leases []*Lease) []Port {
	var ports []Port
	for _, l := range leases {
		ports = append(ports, l.Ports...)
	}
	return ports
}

// applyTable replaces the table in one transaction; with no network it
// removes it.
func applyTable(nets []*Network, ports []Port) error {
	nets = bridges(nets)
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	// Add (a no-op if it exists), delete, add: the kernel applies the
	// batch atomically, so packets see the old rules or the new ones.
	c.AddTable(t)
	c.DelTable(t)
	if len(nets) > 0 {
		c.AddTable(t)
		b := &ruleBuilder{c: c, t: t}
		b.build(nets, ports)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: apply table %s: %w", TableName, err)
	}
	return nil
}

// tableExists reports whether our table is in the kernel (it is not
// after a reboot, or in a new network namespace).
func (m *Manager) tableExists() bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	_, err = c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	return err == nil
}

type ruleBuilder struct {
	c *nftables.Conn
	t *nftables.Table
}

func (b *ruleBuilder) chain(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	ch := &nftables.Chain{Name: name, Table: b.t}
	if hook != nil {
		accept := nftables.ChainPolicyAccept
		ch.Type, ch.Hooknum, ch.Priority, ch.Policy = typ, hook, prio, &accept
	}
	return b.c.AddChain(ch)
}

func (b *ruleBuilder) rule(ch *nftables.Chain, exprs ...[]expr.Any) {
	var all []expr.Any
	for _, e := range exprs {
		all = append(all, e...)
	}
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: ch, Exprs: all})
}

func (b *ruleBuilder) build(nets []*Network, ports []Port) {
	guard := b.chain("guard", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw)
	pre := b.chain("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := b.chain("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	ext := b.chain("dnat-ext", "", nil, nil)
	local := b.chain("dnat-local", "", nil, nil)
	post := b.chain("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	fwd := b.chain("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)

	b.rule(pre, fibLocal(), verdict(expr.VerdictJump, ext.Name))
	b.rule(out, fibLocal(), verdict(expr.VerdictJump, local.Name))
	for _, p := range ports {
		d := dnat(p)
		b.rule(local, d)
		if !p.HostIP.IsLoopback() {
			b.rule(ext, d)
		}
	}
	b.rule(fwd, ctDNAT(), verdict(expr.VerdictAccept, ""))
	loop4 := netip.MustParsePrefix("127.0.0.0/8")
	for _, n := range nets {
		br := n.Bridge()
		b.rule(guard, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), nfproto(unix.NFPROTO_IPV4), addrIn(false, loop4), verdict(expr.VerdictDrop, ""))
		b.rule(post, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), nfproto(unix.NFPROTO_IPV4), addrIn(true, loop4), masq())
		v4, v6 := n.subnets()
		for _, s := range []*subnet{v4, v6} {
			if s == nil {
				continue
			}
			// Hairpin: a container reaching a published port of its own
			// bridge (itself included). Without this the answer would come
			// straight from the other container's address, or from its
			// own, which it drops. Matched by addresses, not interfaces:
			// with br_netfilter the DNATed packet is bridged, and its
			// output interface is a veth, not the bridge.
			b.rule(post, family(s.prefix), addrIn(true, s.prefix), addrIn(false, s.prefix), ctDNAT(), masq())
			if !n.Internal {
				b.rule(post, family(s.prefix), addrIn(true, s.prefix), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), masq())
			}
		}
		// The bridge's MTU is a local link's (65520 by default), not the
		// uplink's: connections leaving the bridge get their MSS clamped
		// to the route's MTU, so that no segment needs fragmenting or a
		// round of path MTU discovery.
		b.rule(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), clampMSS())
		if n.Internal {
			b.rule(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictDrop, ""))
			b.rule(fwd, ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictDrop, ""))
		}
		for _, o := range nets {
			if o != n {
				b.rule(fwd, ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, o.Bridge()), verdict(expr.VerdictDrop, ""))
			}
		}
	}
}

// Expression helpers, each one match or action as nft(8) would write it.

func verdict(k expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k, Chain: chain}}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

// ifname matches iifname/oifname (padded to IFNAMSIZ, as the kernel
// compares them).
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// nfproto matches "meta nfproto ipv4|ipv6" (needed in an inet table
// before any network header field).
func nfproto(p byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

func family(p netip.Prefix) []expr.Any {
	if p.Addr().Is4() {
		return nfproto(unix.NFPROTO_IPV4)
	}
	return nfproto(unix.NFPROTO_IPV6)
}

// addrIn matches "ip saddr|daddr PREFIX" (ip6 for an IPv6 prefix).
func addrIn(src bool, p netip.Prefix) []expr.Any {
	off, n := uint32(16), uint32(4) // IPv4 daddr
	if p.Addr().Is6() {
		off, n = 24, 16
	}
	if src {
		off -= n // saddr precedes daddr in both headers
	}
	mask := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// fibLocal matches "fib daddr type local": traffic to one of the host's
// own addresses.
func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

// clampMSS is "tcp flags syn tcp option maxseg size set rt mtu".
func clampMSS() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
		&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
		&expr.Exthdr{SourceRegister: 1, Type: 2 /* maxseg */, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt},
	}
}

// ctDNAT matches "ct status dnat".
func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, 1<<5 /* IPS_DST_NAT */), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

var l4protos = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// dnat is one published port: "[ip daddr HOST] meta l4proto P th dport
// HP dnat to CONTAINER:CP".
func dnat(p Port) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	e := nfproto(unix.NFPROTO_IPV4)
	if p.Container.Is6() {
		fam = unix.NFPROTO_IPV6
		e = nfproto(unix.NFPROTO_IPV6)
	}
	if !p.HostIP.IsUnspecified() {
		e = append(e, addrIn(false, netip.PrefixFrom(p.HostIP, p.HostIP.BitLen()))...)
	}
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4protos[p.Proto]}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p.HostPort)},
		&expr.Immediate{Register: 1, Data: p.Container.AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}
