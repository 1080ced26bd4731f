// Package network gives containers Docker-style networks without a
// daemon and without the ip, nft or iptables binaries: bridge networks
// and their definitions, IP address management, a persistent network
// namespace per container, veth pairs, addresses and routes (netlink),
// outbound NAT, published ports and network isolation (nftables, in one
// table of our own), and the embedded DNS server of user-defined
// networks (package dns, run as a process of its own).
//
// State lives under the data root (networks/):
//
//	.lock               flock serialising every change below
//	<id>.json           a network's definition (docker's inspect shape)
//	leases/<ctr>.json   a container's sandbox: its netns, endpoints
//	                    (addresses, veths) and published ports. A lease
//	                    is written before any kernel object it names is
//	                    made and removed after all are gone, so it is
//	                    both the IPAM record and the undo list.
//	dns/<net>.hosts     the names a network's DNS server answers
//	dns/<net>.pid       the server's pid and start time
//
// It must not touch nftables tables other than its own, nor links that
// are not its bridges or veths; it never runs a process other than its
// own DNS server.
package network
