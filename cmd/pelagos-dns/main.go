// Command pelagos-dns is the embedded DNS server of a user-defined
// pelagos network (see internal/network/dns). pelagos starts one per
// network that has containers; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/network/dns"
)

func main() {
	os.Exit(dns.Main(os.Args[1:]))
}
